"""Plugin manifests (`plugin.yaml`): typed value objects and a loader that never raises.

Loading a manifest is the first thing the host does with a plugin, before any trust or
compatibility decision, so it only reads data: hardened YAML (`safe_yaml`), validation
against the published JSON Schema (`schemas/plugin.schema.json`, SPEC M3), normalisation of
the real-world dialects (`manifest_dialects`, M7) and semantic checks. Plugin code is never
imported here (M5). A bad manifest yields a `ManifestResult` listing every problem with its
field path and line, so the plugin is shown in `error` and the host keeps running.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from plugins_app.base.version import JUPITER_VERSION
from plugins_app.manifest.dialects import FieldPath, Finding, normalise
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

MANIFEST_FILENAME = "plugin.yaml"


def _frozen(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class Author:
    name: str
    email: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class Dependency:
    """Another plugin this one needs; `specifier` is PEP 440, "" meaning any version."""

    id: str
    specifier: str = ""
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Migration:
    """A declared step upgrading stored settings from one schema version to a later one."""

    from_version: int
    to_version: int
    entrypoint: str


@dataclass(frozen=True, slots=True)
class ConfigSchema:
    """Settings schema; `schema` is a JSON Schema already checked against its metaschema."""

    version: int
    schema: Mapping[str, Any]
    migrations: tuple[Migration, ...] = ()


@dataclass(frozen=True, slots=True)
class MetricsCapability:
    enabled: bool = False
    interval: float = 60


@dataclass(frozen=True, slots=True)
class JobsCapability:
    """`timeout` in seconds; None means the host's default."""

    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class HealthCapability:
    interval: float = 60
    timeout: float = 5


@dataclass(frozen=True, slots=True)
class Capabilities:
    metrics: MetricsCapability = field(default_factory=MetricsCapability)
    jobs: JobsCapability = field(default_factory=JobsCapability)
    health: HealthCapability = field(default_factory=HealthCapability)


@dataclass(frozen=True, slots=True)
class UiItem:
    """A panel or widget; `template` is relative to the plugin folder."""

    id: str
    title: str = ""
    titles: Mapping[str, str] = field(default_factory=_frozen)
    mount_point: str = ""
    template: str = ""


@dataclass(frozen=True, slots=True)
class UiTab:
    id: str = "main"
    title: str = ""
    titles: Mapping[str, str] = field(default_factory=_frozen)
    icon: str = ""
    template: str = ""


@dataclass(frozen=True, slots=True)
class UiContributions:
    """What the plugin adds to the console; a plugin has at most one tab."""

    panels: tuple[UiItem, ...] = ()
    widgets: tuple[UiItem, ...] = ()
    mount_points: tuple[str, ...] = ()
    tab: UiTab | None = None
    i18n: Mapping[str, Mapping[str, str]] = field(default_factory=_frozen)


@dataclass(frozen=True, slots=True)
class ChangelogEntry:
    """One release in the changelog; `version` is "" when the entry does not name one."""

    version: str
    notes: tuple[str, ...]


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _notes(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list | tuple):
        return tuple(str(note) for note in raw if note)
    return ()


def _changelog_entry(item: Any) -> ChangelogEntry | None:
    if isinstance(item, Mapping):
        notes = item.get("changes", item.get("notes", item.get("description")))
        return ChangelogEntry(_text(item.get("version")), _notes(notes))
    if isinstance(item, str):
        return ChangelogEntry("", (item,))
    return None


@dataclass(frozen=True, slots=True)
class Manifest:
    """A valid, normalised manifest. Nested JSON (schemas, extra sections) must not be mutated."""

    id: str
    name: str
    version: str
    kind: Literal["system", "tool"]
    entrypoints: Mapping[str, str]
    root: Path
    names: Mapping[str, str] = field(default_factory=_frozen)
    description: str = ""
    descriptions: Mapping[str, str] = field(default_factory=_frozen)
    author: Author | None = None
    license: str = ""
    homepage: str = ""
    jupiter_version: str = ""
    dependencies: tuple[Dependency, ...] = ()
    extends: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    config_schema: ConfigSchema | None = None
    capabilities: Capabilities = field(default_factory=Capabilities)
    ui: UiContributions = field(default_factory=UiContributions)
    changelog: str | tuple[Any, ...] = ""
    signature: str | None = None
    extra_sections: Mapping[str, Any] = field(default_factory=_frozen)

    @property
    def declared_permissions(self) -> frozenset[str]:
        """The permissions asked for, for membership checks by the Bridge."""
        return frozenset(self.permissions)

    @property
    def legacy(self) -> bool:
        """True for old plugins without a `register` entrypoint (on_scan/on_analyze only)."""
        return "register" not in self.entrypoints

    @property
    def changelog_entries(self) -> tuple[ChangelogEntry, ...]:
        """The changelog in one shape, whatever the author wrote.

        The schema lets `changelog` be a text, or a list of strings or of mappings such as
        {version, changes} (`notes` and `description` are read for `changes` too); entries of
        any other type are skipped.
        """
        if isinstance(self.changelog, str):
            text = self.changelog.strip()
            return (ChangelogEntry("", (text,)),) if text else ()
        entries = (_changelog_entry(item) for item in self.changelog)
        return tuple(entry for entry in entries if entry is not None)

    def to_snapshot(self) -> dict[str, Any]:
        """A JSON-serialisable copy, for the database; `root` becomes a string."""
        return _plain(self)

    @classmethod
    def from_snapshot(cls, snapshot: Any) -> Manifest | None:
        """The manifest ``to_snapshot`` stored, or None when ``snapshot`` is not one.

        The one defensive reader of stored manifests: rows of plugins whose manifest is
        invalid hold ``{}``, and a snapshot written by an older host may lack a field. Every
        other reader works on the typed value this returns.
        """
        if not isinstance(snapshot, Mapping) or not snapshot.get("id"):
            return None
        try:
            return _build(dict(snapshot), Path(str(snapshot["root"])))
        except (KeyError, TypeError, ValueError):
            return None


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass(frozen=True, slots=True)
class ManifestIssue:
    """A problem found in a manifest; `field` is a path such as `dependencies[0].version`."""

    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        text = f"{self.field}: {self.message}" if self.field else self.message
        return text if self.line is None else f"{text} (line {self.line})"


@dataclass(frozen=True, slots=True)
class ManifestResult:
    """Outcome of loading one manifest: `manifest` is set exactly when there are no errors."""

    source: Path
    manifest: Manifest | None
    errors: tuple[ManifestIssue, ...] = ()
    warnings: tuple[ManifestIssue, ...] = ()

    @property
    def ok(self) -> bool:
        return self.manifest is not None and not self.errors


def field_name(path: FieldPath) -> str:
    """Render ("dependencies", 0, "version") as `dependencies[0].version`."""
    parts = [f"[{part}]" if isinstance(part, int) else f".{part}" for part in path]
    return "".join(parts).lstrip(".")


# --- loading ---------------------------------------------------------------------------------


def _issues(findings: list[Finding], document: YamlDocument) -> tuple[ManifestIssue, ...]:
    unique = dict.fromkeys((path, message) for path, message in findings)
    return tuple(
        ManifestIssue(field_name(path), message, document.line_of(path)) for path, message in unique
    )


def _build(canonical: dict[str, Any], root: Path) -> Manifest:
    capabilities = canonical["capabilities"]
    ui = canonical["ui"]
    config = canonical["config_schema"]
    changelog = canonical["changelog"]

    def item(data: dict[str, Any]) -> UiItem:
        return UiItem(**{**data, "titles": _frozen(data["titles"])})

    return Manifest(
        id=canonical["id"],
        name=canonical["name"],
        names=_frozen(canonical["names"]),
        version=canonical["version"],
        kind=canonical["kind"],
        description=canonical["description"],
        descriptions=_frozen(canonical["descriptions"]),
        author=Author(**canonical["author"]) if canonical["author"] else None,
        license=canonical["license"],
        homepage=canonical["homepage"],
        jupiter_version=canonical["jupiter_version"],
        dependencies=tuple(Dependency(**dep) for dep in canonical["dependencies"]),
        extends=tuple(canonical["extends"]),
        permissions=tuple(canonical["permissions"]),
        entrypoints=_frozen(canonical["entrypoints"]),
        config_schema=ConfigSchema(
            version=config["version"],
            schema=config["schema"],
            migrations=tuple(Migration(**step) for step in config["migrations"]),
        )
        if config
        else None,
        capabilities=Capabilities(
            metrics=MetricsCapability(**capabilities["metrics"]),
            jobs=JobsCapability(**capabilities["jobs"]),
            health=HealthCapability(**capabilities["health"]),
        ),
        ui=UiContributions(
            panels=tuple(item(panel) for panel in ui["panels"]),
            widgets=tuple(item(widget) for widget in ui["widgets"]),
            mount_points=tuple(ui["mount_points"]),
            tab=UiTab(**{**ui["tab"], "titles": _frozen(ui["tab"]["titles"])})
            if ui["tab"]
            else None,
            i18n=_frozen(ui["i18n"]),
        ),
        changelog=changelog if isinstance(changelog, str) else tuple(changelog),
        signature=canonical["signature"],
        extra_sections=_frozen(canonical["extra_sections"]),
        root=root,
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
    known = PLUGIN_SCHEMA["properties"]
    canonical["extra_sections"] = {key: val for key, val in raw.items() if key not in known}
    return ManifestResult(
        source=source,
        manifest=None if errors else _build(canonical, source.parent.absolute()),
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


def compatibility_issue(manifest: Manifest, host_version: str = JUPITER_VERSION) -> str | None:
    """Why this host cannot run the plugin (SPEC M4), or None when `jupiter_version` allows it.

    Pre-release hosts (1.3.0.dev1) count as their version, so development builds can load
    plugins declaring ">=1.2".
    """
    if not manifest.jupiter_version:
        return None
    try:
        host = Version(host_version)
    except InvalidVersion:
        return f"host version {host_version!r} is not a PEP 440 version"
    if SpecifierSet(manifest.jupiter_version).contains(host, prereleases=True):
        return None
    return f"requires Jupiter {manifest.jupiter_version} but this is {host_version}"
