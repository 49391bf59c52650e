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
import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urljoin

import jsonschema
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator
from jsonschema_specifications import REGISTRY as _SPECIFICATIONS
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from plugins_app import JUPITER_VERSION
from plugins_app.manifest_dialects import FieldPath, Finding, normalise
from plugins_app.safe_yaml import DEFAULT_MAX_BYTES, YamlDocument, YamlError, parse_yaml, read_yaml

MANIFEST_FILENAME = "plugin.yaml"
SCHEMA_PATH = Path(__file__).parent / "schemas" / "plugin.schema.json"
STANDARD_PERMISSIONS = ("fs_read", "fs_write", "run_commands", "network_outbound", "access_meeting")


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

    def to_snapshot(self) -> dict[str, Any]:
        """A JSON-serialisable copy, for the database; `root` becomes a string."""
        return _plain(self)


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


# --- validation against the published schema ------------------------------------------------

_ANNOTATIONS = frozenset({"title", "description", "examples", "default", "$comment", "deprecated"})
_SUBSCHEMA = frozenset(
    {"items", "additionalProperties", "propertyNames", "contains", "not", "if", "then", "else"}
    | {"unevaluatedItems", "unevaluatedProperties", "contentSchema"}
)
_SUBSCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SUBSCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas"})
# Keywords (besides "type") whose verdict depends on the instance alone.
_LEAF_KEYWORDS = frozenset(
    {"enum", "const", "pattern", "format", "minLength", "maxLength", "multipleOf"}
    | {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems"}
    | {"uniqueItems", "minProperties", "maxProperties", "required", "dependentRequired"}
)


def _compact(schema: Any, defs: Mapping[str, Any]) -> Any:
    """A copy of `schema` for validation only: `#/$defs/` references inlined and annotations
    (title, description, ...) dropped. It accepts exactly the same documents.

    jsonschema resolves every `$ref` through its registry and visits every keyword, so the
    compact copy validates about twice as fast as the published, documented one.
    """
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    target = (
        _compact(defs[ref.rsplit("/", 1)[1]], defs) if ref and ref.startswith("#/$defs/") else {}
    )
    rest: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _ANNOTATIONS or key == "$defs" or (target and key == "$ref"):
            continue
        if key in _SUBSCHEMA:
            rest[key] = _compact(value, defs)
        elif key in _SUBSCHEMA_LISTS:
            rest[key] = [_compact(item, defs) for item in value]
        elif key in _SUBSCHEMA_MAPS:
            rest[key] = {name: _compact(item, defs) for name, item in value.items()}
        else:
            rest[key] = value
    return {"allOf": [target], **rest} if target.keys() & rest.keys() else {**target, **rest}


def _accepts(validator: Validator, schema: Any, instance: Any, root: Any) -> bool:
    """True when `instance` is certainly valid against the compact `schema`; False means
    "not sure", and the caller runs the full jsonschema validation.

    Most manifests are valid, and jsonschema builds a validator object for every value it
    visits; this walk follows the structure itself and leaves each instance-level keyword
    (type, pattern, enum, format, ...) to jsonschema's own implementation. Any keyword it does
    not model makes it answer False, so it can only make valid documents cheaper, never change
    a verdict or an error message. `root` is what `{"$ref": "#"}` points at.
    """
    if schema is True:
        return True
    if not isinstance(schema, dict):
        return False
    for keyword, value in schema.items():
        if keyword == "type":  # the commonest keyword; same test as jsonschema's, inlined
            if isinstance(value, str):
                if not validator.is_type(instance, value):
                    return False
            elif not any(validator.is_type(instance, name) for name in value):
                return False
        elif keyword in _LEAF_KEYWORDS:
            check = validator.VALIDATORS[keyword]
            if next(iter(check(validator, value, instance, schema) or ()), None):
                return False
        elif keyword == "additionalProperties" and "properties" in schema:
            continue  # checked with "properties", which knows which names are additional
        elif keyword in ("properties", "additionalProperties"):
            if validator.is_type(instance, "object"):
                for name, item in instance.items():
                    if not _accepts(validator, _property_schema(schema, name), item, root):
                        return False
        elif keyword == "propertyNames":
            if validator.is_type(instance, "object"):
                for name in instance:
                    if not _accepts(validator, value, name, root):
                        return False
        elif keyword == "items" and "prefixItems" not in schema:
            if validator.is_type(instance, "array"):
                for item in instance:
                    if not _accepts(validator, value, item, root):
                        return False
        elif keyword == "anyOf":
            if not any(_accepts(validator, branch, instance, root) for branch in value):
                return False
        elif keyword == "allOf":
            for branch in value:
                if not _accepts(validator, branch, instance, root):
                    return False
        elif keyword == "$ref" and value == "#":
            if not _accepts(validator, root, instance, root):
                return False
        elif keyword in validator.VALIDATORS:
            return False
    return True


def _property_schema(schema: Mapping[str, Any], name: str) -> Any:
    """The subschema property `name` must satisfy (with patternProperties, `_accepts` gives
    up anyway when it reaches that keyword)."""
    properties = schema.get("properties", {})
    return properties[name] if name in properties else schema.get("additionalProperties", True)


def _schema_errors(validator: Validator, instance: Any) -> list[Finding]:
    """Findings for `instance`; a document `_accepts` proves valid skips jsonschema.

    The shortcut is taken for draft 2020-12 only, the dialect it was written and tested for.
    """
    root = validator.schema
    if type(validator) is jsonschema.Draft202012Validator and _accepts(
        validator, root, instance, root
    ):
        return []
    findings: list[Finding] = []
    for error in validator.iter_errors(instance):
        findings.extend(_describe_error(error))
    return findings


PLUGIN_SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
_ValidatorClass = jsonschema.validators.validator_for(PLUGIN_SCHEMA)
_ValidatorClass.check_schema(PLUGIN_SCHEMA)
_VALIDATION_SCHEMA: dict[str, Any] = _compact(PLUGIN_SCHEMA, PLUGIN_SCHEMA["$defs"])
_VALIDATOR: Validator = _ValidatorClass(
    _VALIDATION_SCHEMA, format_checker=_ValidatorClass.FORMAT_CHECKER
)


# --- JSON Schema errors -> readable findings ------------------------------------------------

_TYPE_NAMES = {
    "object": "mapping",
    "array": "list",
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "null": "null",
}


def _describe_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    return "a mapping"


def _describe_error(error: ValidationError) -> list[Finding]:
    """Turn one jsonschema error into findings phrased for plugin authors."""
    path: FieldPath = tuple(error.absolute_path)
    keyword, expected, value = error.validator, error.validator_value, error.instance
    hint = error.schema.get("x-expected") if isinstance(error.schema, Mapping) else None
    if keyword == "required":
        return [
            ((*path, name), "required field is missing") for name in expected if name not in value
        ]
    if keyword in ("anyOf", "oneOf"):
        if all("required" in branch for branch in expected):
            names = [branch["required"][0] for branch in expected]
            return [((*path, names[0]), f"required field is missing (give {' or '.join(names)})")]
        if error.context:
            return _describe_error(best_match(error.context))
    if "propertyNames" in error.relative_schema_path:
        path += (value,)
    if keyword == "type":
        types = [expected] if isinstance(expected, str) else expected
        message = (
            f"expected {' or '.join(_TYPE_NAMES[t] for t in types)}, got {_describe_value(value)}"
        )
        if "string" in types and isinstance(value, int | float) and not isinstance(value, bool):
            message += "; quote the value in YAML"
        return [(path, message)]
    if keyword == "enum":
        return [
            (path, f"expected one of {', '.join(map(str, expected))}, got {_describe_value(value)}")
        ]
    if hint:
        return [(path, f"expected {hint}, got {_describe_value(value)}")]
    if keyword in ("minLength", "minProperties", "minItems") and expected == 1:
        return [(path, "must not be empty")]
    if keyword in ("minimum", "exclusiveMinimum", "maximum", "maxLength"):
        bound = {
            "minimum": ">=",
            "exclusiveMinimum": ">",
            "maximum": "<=",
            "maxLength": "length <=",
        }
        return [(path, f"must be {bound[keyword]} {expected}, got {_describe_value(value)}")]
    if keyword == "format":
        return [(path, f"{_describe_value(value)} is not a valid {expected}")]
    return [(path, error.message)]


_UNKNOWN_FIELD = "unknown field, ignored"
_UNKNOWN_SECTION = "unknown section, kept as-is"


def _unknown_fields(schema: Any, value: Any, path: FieldPath) -> list[Finding]:
    """Fields the schema does not describe inside known sections: ignored, so warned about."""
    if not isinstance(schema, dict):
        return []
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        found: list[Finding] = []
        for index, item in enumerate(value):
            found.extend(_unknown_fields(schema["items"], item, (*path, index)))
        return found
    known = schema.get("properties")
    if not isinstance(value, dict) or known is None:
        return []
    found = []
    for key, item in value.items():
        if key in known:
            found.extend(_unknown_fields(known[key], item, (*path, key)))
        else:
            found.append(((*path, key), _UNKNOWN_FIELD if path else _UNKNOWN_SECTION))
    return found


# --- config_schema.schema must itself be a JSON Schema --------------------------------------


def _flat_2020_12_metaschema() -> dict[str, Any]:
    """The draft 2020-12 metaschema merged into one compact document, `$dynamicRef` as `$ref`.

    It accepts exactly what the official vocabulary-split metaschema accepts for ordinary
    schemas (only metaschema *extensions* need `$dynamicRef`), and validates about six times
    faster, which matters when a thousand manifests are checked at start-up.
    """
    official = jsonschema.Draft202012Validator.META_SCHEMA
    flat: dict[str, Any] = {"type": ["object", "boolean"], "properties": {}, "$defs": {}}
    for part in official["allOf"]:
        vocabulary = _SPECIFICATIONS.contents(urljoin(official["$id"], part["$ref"]))
        flat["properties"].update(vocabulary.get("properties", {}))
        flat["$defs"].update(vocabulary.get("$defs", {}))
    flat["properties"].update(official["properties"])

    def local(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("$dynamicRef") == "#meta":
                return {"$ref": "#"}
            return {
                key: "#" + item.partition("#")[2]
                if key == "$ref" and isinstance(item, str)
                else local(item)
                for key, item in node.items()
            }
        return [local(item) for item in node] if isinstance(node, list) else node

    merged = local(flat)
    return _compact(merged, merged["$defs"])


@functools.cache
def _metaschema_validator(cls: type[Validator]) -> Validator:
    meta = _flat_2020_12_metaschema() if cls is jsonschema.Draft202012Validator else cls.META_SCHEMA
    return cls(meta, format_checker=cls.FORMAT_CHECKER)


def _config_schema_errors(schema: Mapping[str, Any]) -> list[Finding]:
    prefix: FieldPath = ("config_schema", "schema")
    cls = jsonschema.validators.validator_for(schema, default=None)
    if cls is None and "$schema" in schema:
        return [((*prefix, "$schema"), f"unsupported JSON Schema draft {schema['$schema']!r}")]
    validator = _metaschema_validator(cls or jsonschema.Draft202012Validator)
    return [(prefix + path, message) for path, message in _schema_errors(validator, schema)]


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
    errors = _schema_errors(_VALIDATOR, raw)
    skip = frozenset(str(path[0]) for path, _ in errors if path)
    canonical, semantic_errors, warnings = normalise(raw, skip=skip)
    errors += semantic_errors
    if canonical["config_schema"] is not None:
        errors += _config_schema_errors(canonical["config_schema"]["schema"])
    warnings += _unknown_fields(_VALIDATION_SCHEMA, raw, ())
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
