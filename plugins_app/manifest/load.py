"""Reading ``plugin.yaml``: a loader that never raises (SPEC M3, M4, M5, M7).

Loading a manifest is the first thing the host does with a plugin, before any trust or
compatibility decision, so it only reads data: hardened YAML (``safe_yaml``), validation
against the published JSON Schema (``schemas/plugin.schema.json``, SPEC M3), normalisation
of the real-world dialects (``dialects``, M7) and semantic checks. Plugin code is never
imported here (M5). A bad manifest yields a ``ManifestResult`` listing every problem with
its field path and line, so the plugin is shown in ``error`` and the host keeps running.
"""

from __future__ import annotations

import os
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from plugins_app.base.version import JUPITER_VERSION, PLUGIN_API_VERSIONS
from plugins_app.manifest.dialects import FieldPath, Finding, normalise
from plugins_app.manifest.model import (
    MANIFEST_FILENAME,
    Manifest,
    ManifestIssue,
    ManifestResult,
    from_canonical,
)
from plugins_app.manifest.original import (
    api_off_reason,
    handler_problem,
    missing_python_dependency,
    read_i18n_files,
)
from plugins_app.manifest.safe_yaml import (
    DEFAULT_MAX_BYTES,
    YamlDocument,
    YamlError,
    parse_yaml,
    read_yaml,
)
from plugins_app.manifest.schema import (
    PLUGIN_SCHEMA,
    config_schema_errors,
    manifest_errors,
    unknown_fields,
)


def field_name(path: FieldPath) -> str:
    """Render ("dependencies", 0, "version") as `dependencies[0].version`."""
    parts = [f"[{part}]" if isinstance(part, int) else f".{part}" for part in path]
    return "".join(parts).lstrip(".")


def _issues(findings: list[Finding], document: YamlDocument) -> tuple[ManifestIssue, ...]:
    unique = dict.fromkeys((path, message) for path, message in findings)
    return tuple(
        ManifestIssue(field_name(path), message, document.line_of(path)) for path, message in unique
    )


def _validate(document: YamlDocument, source: Path) -> ManifestResult:
    raw = document.data
    errors = manifest_errors(raw)
    skip = frozenset(str(path[0]) for path, _ in errors if path)
    canonical, semantic_errors, warnings = normalise(raw, skip=skip)
    errors += semantic_errors
    if canonical["config_schema"] is not None:
        errors += config_schema_errors(canonical["config_schema"]["schema"])
    warnings += unknown_fields(raw)
    i18n = raw.get("ui", {}).get("i18n") if isinstance(raw.get("ui"), dict) else None
    if not errors and isinstance(i18n, dict) and isinstance(i18n.get("path"), str):
        languages = i18n.get("languages") or []
        found, problems = read_i18n_files(source.parent, i18n["path"], languages)
        canonical["ui"]["i18n"] = {**found, **canonical["ui"]["i18n"]}
        warnings += [(("ui", "i18n", "path"), problem) for problem in problems]
    api = canonical["api"] or {}
    for i, route in enumerate(api.get("routes", [])):
        problem = handler_problem(source.parent, canonical["id"], route["entrypoint"])
        if problem:
            name = f"{route['method']} {route['path']}"
            errors.append((("api", "routes", i, "entrypoint"), f"route {name}: {problem}"))
    # What this environment lacks: said by `validate` as the host will say it at load.
    served = {
        ("api", "router"): api.get("router", ""),
        ("api", "routes"): api["routes"][0]["entrypoint"] if api.get("routes") else "",
        ("entrypoints", "server"): canonical["entrypoints"].get("server", ""),
    }
    warnings += [(path, off) for path, named in served.items() if (off := api_off_reason(named))]
    missing = missing_python_dependency(canonical["python_dependencies"])
    if missing:
        warnings.append((("python_dependencies",), f"this host will not load it: {missing}"))
    known = PLUGIN_SCHEMA["properties"]
    canonical["extra_sections"] = {key: val for key, val in raw.items() if key not in known}
    return ManifestResult(
        source=source,
        manifest=None if errors else from_canonical(canonical, source.parent.absolute()),
        errors=_issues(errors, document),
        warnings=_issues(warnings, document),
    )


def _yaml_failure(source: Path, error: YamlError) -> ManifestResult:
    return ManifestResult(source, None, errors=(ManifestIssue("", error.message, error.line),))


def parse_manifest(
    text: str, *, source: Path, max_bytes: int = DEFAULT_MAX_BYTES
) -> ManifestResult:
    """Validate manifest `text` read from `source` (the plugin.yaml path; its folder is root)."""
    try:
        document = parse_yaml(text, max_bytes=max_bytes)
    except YamlError as error:
        return _yaml_failure(source, error)
    return _validate(document, source)


def load_manifest(plugin_dir: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ManifestResult:
    """Load `plugin_dir/plugin.yaml`. Never raises for bad input: problems become errors.

    A plugin.yaml that is a link to a file outside the plugin folder is refused, so a plugin
    cannot make the host read (and echo in error messages) arbitrary files.
    """
    source = plugin_dir / MANIFEST_FILENAME
    if source.is_symlink():
        target = Path(os.path.realpath(source))
        if not target.is_relative_to(Path(os.path.realpath(plugin_dir))):
            message = f"{MANIFEST_FILENAME} links outside the plugin folder; refused"
            return ManifestResult(source, None, errors=(ManifestIssue("", message),))
    try:
        document = read_yaml(source, max_bytes=max_bytes)
    except YamlError as error:
        return _yaml_failure(source, error)
    return _validate(document, source)


# How many patch releases of an implemented API version are tried against a specifier.
_API_PATCHES = 100


def accepts_api(specifier: SpecifierSet, api_versions: tuple[str, ...]) -> bool:
    """True when `specifier` accepts a release of an implemented plugin API (1.8 or 1.8.x)."""
    for api in api_versions:
        candidates = [api, *(f"{api}.{patch}" for patch in range(_API_PATCHES))]
        if any(specifier.contains(Version(v), prereleases=True) for v in candidates):
            return True
    return False


def compatibility_issue(
    manifest: Manifest,
    host_version: str = JUPITER_VERSION,
    api_versions: tuple[str, ...] = PLUGIN_API_VERSIONS,
) -> str | None:
    """Why this host cannot run the plugin (SPEC M4), or None when it can.

    `jupiter_version` must accept the host version or one of the plugin API versions the
    host implements (a plugin written for the original Jupiter 1.8 declares ">=1.8.0"), and
    every `python_dependencies` requirement must be installed. Pre-release hosts
    (1.3.0.dev1) count as their version, so development builds can load plugins declaring
    ">=1.2".
    """
    if manifest.jupiter_version:
        try:
            host = Version(host_version)
        except InvalidVersion:
            return f"host version {host_version!r} is not a PEP 440 version"
        specifier = SpecifierSet(manifest.jupiter_version)
        if not specifier.contains(host, prereleases=True) and not accepts_api(
            specifier, api_versions
        ):
            return f"requires Jupiter {manifest.jupiter_version} but this is {host_version}"
    return missing_python_dependency(manifest.python_dependencies)
