"""Plugin manifests as typed values: what every layer of the host works with.

A ``Manifest`` is frozen and already valid; ``to_snapshot``/``from_snapshot`` store it as
JSON and read it back. Reading and validating ``plugin.yaml`` itself is ``manifest.load``'s
(it needs the YAML parser and the JSON Schema validator, which a plugin process, which only
receives a snapshot, does not).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

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
    """`timeout` in seconds and `max_concurrent` jobs at once; None means the host's default."""

    timeout: float | None = None
    max_concurrent: int | None = None


@dataclass(frozen=True, slots=True)
class HealthCapability:
    """`enabled: false` (original Jupiter spelling) turns the periodic check off."""

    interval: float = 60
    timeout: float = 5
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Capabilities:
    metrics: MetricsCapability = field(default_factory=MetricsCapability)
    jobs: JobsCapability = field(default_factory=JobsCapability)
    health: HealthCapability = field(default_factory=HealthCapability)


@dataclass(frozen=True, slots=True)
class UiItem:
    """A panel or widget; `template` and `script` are relative to the plugin folder.

    `location`, `title_key`, `icon`, `order` and `settings_section` place it in the console
    (the original Jupiter's panel fields); `route` is the original's and only kept.
    """

    id: str
    title: str = ""
    titles: Mapping[str, str] = field(default_factory=_frozen)
    mount_point: str = ""
    template: str = ""
    script: str = ""
    location: str = ""
    route: str = ""
    title_key: str = ""
    icon: str = ""
    order: int | None = None
    settings_section: str = ""


@dataclass(frozen=True, slots=True)
class UiTab:
    id: str = "main"
    title: str = ""
    titles: Mapping[str, str] = field(default_factory=_frozen)
    icon: str = ""
    template: str = ""
    script: str = ""
    order: int | None = None


@dataclass(frozen=True, slots=True)
class UiContributions:
    """What the plugin adds to the console; a plugin has at most one tab."""

    panels: tuple[UiItem, ...] = ()
    widgets: tuple[UiItem, ...] = ()
    mount_points: tuple[str, ...] = ()
    tab: UiTab | None = None
    i18n: Mapping[str, Mapping[str, str]] = field(default_factory=_frozen)
    assets: Mapping[str, tuple[str, ...]] = field(default_factory=_frozen)


@dataclass(frozen=True, slots=True)
class CliCommand:
    """A command declared in `cli.commands`: run by `jupiter_plugins run <id> <name>`."""

    name: str
    entrypoint: str
    description: str = ""
    parent: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ApiRoute:
    """A route declared in `api.routes`: `entrypoint` answers `method` on `path` (which starts
    with /) under `/api/plugins/<id>/`."""

    path: str
    method: str
    entrypoint: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ApiSection:
    """The original Jupiter's `api` section: a FastAPI router and routes declared one by one,
    served under the plugin's prefix."""

    router: str = ""
    prefix: str = ""
    tags: tuple[str, ...] = ()
    routes: tuple[ApiRoute, ...] = ()


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
    python_dependencies: tuple[str, ...] = ()
    cli_commands: tuple[CliCommand, ...] = ()
    api: ApiSection | None = None
    extra_sections: Mapping[str, Any] = field(default_factory=_frozen)

    @property
    def declared_permissions(self) -> frozenset[str]:
        """The permissions asked for, for membership checks by the Bridge."""
        return frozenset(self.permissions)

    @property
    def legacy(self) -> bool:
        """True for old plugins without a `register` (or original-API `init`) entrypoint:
        on_scan/on_analyze only."""
        return not {"register", "init"} & self.entrypoints.keys()

    @property
    def original_api(self) -> bool:
        """Written for the original Jupiter's plugin API: `init(bridge)` instead of `register`."""
        return "register" not in self.entrypoints and "init" in self.entrypoints

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
            return from_canonical(dict(snapshot), Path(str(snapshot["root"])))
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


def from_canonical(canonical: dict[str, Any], root: Path) -> Manifest:
    """The typed manifest of a normalised (canonical) mapping; snapshots are one too."""
    capabilities = canonical["capabilities"]
    ui = canonical["ui"]
    config = canonical["config_schema"]
    changelog = canonical["changelog"]

    def item(data: dict[str, Any]) -> UiItem:
        return UiItem(**{**data, "titles": _frozen(data["titles"])})

    # Fields added after the first snapshots were stored: read with their defaults.
    api = canonical.get("api")
    commands = canonical.get("cli_commands") or []

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
            assets=_frozen({kind: tuple(paths) for kind, paths in ui.get("assets", {}).items()}),
        ),
        changelog=changelog if isinstance(changelog, str) else tuple(changelog),
        signature=canonical["signature"],
        python_dependencies=tuple(canonical.get("python_dependencies") or ()),
        cli_commands=tuple(
            CliCommand(**{**command, "aliases": tuple(command.get("aliases") or ())})
            for command in commands
        ),
        api=ApiSection(
            api["router"],
            api["prefix"],
            tuple(api["tags"]),
            tuple(
                ApiRoute(**{**route, "tags": tuple(route["tags"])})
                for route in api.get("routes") or ()
            ),
        )
        if api
        else None,
        extra_sections=_frozen(canonical["extra_sections"]),
        root=root,
    )
