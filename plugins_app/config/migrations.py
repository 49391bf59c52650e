"""Stored settings follow a plugin's ``config_schema.version`` (SPEC M6): the one path.

When a new version of a plugin raises its settings schema version, the global config and
every project's overrides are passed through the plugin's declared steps (``from`` -> ``to``,
``entrypoint(old_config) -> new_config``), validated against the new schema, and saved in one
transaction. Any failure (no step, a step that raises or returns garbage, a result the new
schema refuses, a hand-edited project file) keeps every stored value as it was and is
reported: in the plugin's log, and on its settings page, which tries again when shown.

Everything that migrates settings goes through ``run_steps`` (pure: values in, values out):
``migrate`` for stored settings (at load, on the settings page, after an update, whether the
plugin is enabled or not), and settings imports for an older export's values. Migration
code is plugin code, so callers hand in a ``Resolver`` from the kernel (which sits above
config); it only runs for a plugin that is trusted and whose code proved it loads.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from django.db import transaction
from django.db.models import F

from plugins_app.base.errors import JupiterError
from plugins_app.config.layering import effective_config
from plugins_app.config.secrets import without_secrets
from plugins_app.config.store import plugin_schema_version
from plugins_app.manifest.model import Manifest, Migration
from plugins_app.manifest.tracebacks import summarise_exception
from plugins_app.models import AuditAction, InstalledPlugin, PluginConfig, ProjectPlugin, audit
from plugins_app.projects.errors import ProjectFileConflict
from plugins_app.projects.projectfile import ProjectFileError
from plugins_app.projects.service import write_plugin_overrides

log = logging.getLogger("jupiter.config_migrations")
State = Literal["current", "migrated", "pending", "failed"]
#: An entrypoint string (``module:function``) -> the plugin's callable; raises if it cannot.
Resolver = Callable[[str], Callable[..., Any]]


@dataclass(frozen=True)
class MigrationOutcome:
    state: State
    stored_version: int
    target_version: int
    message: str = ""


@dataclass(frozen=True)
class MigratedSettings:
    """``run_steps``' result: the global values and each project's overrides (by name)."""

    global_values: dict[str, Any]
    overrides: Mapping[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredSettings:
    """A plugin's stored settings as they were, so a failed update can put them back."""

    values: dict[str, Any] | None
    schema_version: int
    overrides: Mapping[int, dict[str, Any]]  # by project pk


class MigrationFailed(JupiterError):
    """One reason the stored settings could not be migrated; nothing was changed."""


def stored_and_target(plugin: InstalledPlugin) -> tuple[int, int]:
    target = plugin_schema_version(plugin)
    row = PluginConfig.objects.filter(plugin=plugin).first()
    return (row.schema_version if row else target), target


def plan(migrations: tuple[Migration, ...], start: int, target: int) -> list[Migration]:
    """The chain of steps from ``start`` to ``target``, taking the longest jump each time."""
    steps: list[Migration] = []
    version = start
    while version < target:
        candidates = [m for m in migrations if m.from_version == version and m.to_version <= target]
        if not candidates:
            raise MigrationFailed(
                f"no settings migration from schema version {start} to {target}: "
                f"no migration step declared from version {version}"
            )
        step = max(candidates, key=lambda m: m.to_version)
        steps.append(step)
        version = step.to_version
    return steps


def _apply(func: Callable[..., Any], values: Mapping[str, Any], step: Migration) -> dict[str, Any]:
    result = func(copy.deepcopy(dict(values)))
    if not isinstance(result, Mapping):
        raise MigrationFailed(
            f"step {step.from_version}->{step.to_version} returned {type(result).__name__}, "
            "not a mapping"
        )
    return dict(result)


def run_steps(
    manifest: Manifest,
    start: int,
    resolve: Resolver,
    global_values: Mapping[str, Any],
    overrides: Mapping[str, Mapping[str, Any]] = MappingProxyType({}),
) -> MigratedSettings:
    """Migrate values of schema version ``start`` to ``manifest``'s version; no storage.

    Each step gets a deep copy of the global values and of each non-empty project layer
    (``overrides``, by project name) and must return a mapping. The results must fit the new
    schema: defaults <- global, and defaults <- global <- overrides for each project. Raises
    ``MigrationFailed`` saying why, with plugin exceptions summarised where they came from.
    """
    schema = manifest.config_schema
    if schema is None or start >= schema.version:
        return MigratedSettings(dict(global_values), {k: dict(v) for k, v in overrides.items()})
    values, layers = dict(global_values), {name: dict(o) for name, o in overrides.items()}
    try:
        for step in plan(schema.migrations, start, schema.version):
            func = resolve(step.entrypoint)
            values = _apply(func, values, step)
            layers = {name: _apply(func, o, step) if o else o for name, o in layers.items()}
    except MigrationFailed:
        raise
    except Exception as exc:
        raise MigrationFailed(summarise_exception(exc, manifest)) from exc
    for name, layer in [("", {}), *layers.items()]:
        errors = effective_config(schema.schema, values, layer).errors
        if errors:
            where = f" in project {name}" if name else ""
            first = errors[0]
            raise MigrationFailed(
                f"the migrated settings{where} do not fit version {schema.version}: "
                f"{first.path or '(config)'}: {first.message}"
            )
    return MigratedSettings(values, layers)


def migrate(
    plugin: InstalledPlugin, manifest: Manifest, *, resolve: Resolver, actor: Any = None
) -> MigrationOutcome:
    """Migrate ``plugin``'s stored settings (global and every project's, enabled or not) to
    ``manifest``'s schema version, all or nothing; stored settings already there are left."""
    row = PluginConfig.objects.filter(plugin=plugin).first()
    # The steps come from ``manifest``, so the goal does too (the row may lag behind it).
    schema = manifest.config_schema
    target = schema.version if schema is not None else plugin_schema_version(plugin)
    stored = row.schema_version if row is not None else target  # nothing stored: nothing to do
    if stored >= target or schema is None:
        return MigrationOutcome("current", stored, target)
    try:
        _migrate(plugin, manifest, stored, resolve, actor)
    except MigrationFailed as exc:
        message = f"settings kept at version {stored}: {exc}"
        logging.getLogger(f"jupiter.plugin.{plugin.plugin_id}").error(
            "migration failed, %s", message
        )
        return MigrationOutcome("failed", stored, target, message)
    return MigrationOutcome("migrated", stored, target, f"settings migrated to version {target}")


def _migrate(
    plugin: InstalledPlugin, manifest: Manifest, stored: int, resolve: Resolver, actor: Any
) -> None:
    assert manifest.config_schema is not None
    schema, target = manifest.config_schema.schema, manifest.config_schema.version
    config = PluginConfig.objects.get(plugin=plugin)
    rows = list(ProjectPlugin.objects.filter(plugin=plugin).select_related("project"))
    layers = {row.project.name: row.overrides for row in rows}
    migrated = run_steps(manifest, stored, resolve, config.values, layers)
    try:
        with transaction.atomic():
            updated = PluginConfig.objects.filter(pk=config.pk, revision=config.revision).update(
                values=migrated.global_values, schema_version=target, revision=F("revision") + 1
            )
            if not updated:
                raise MigrationFailed("the settings were saved meanwhile; try again")
            for row in rows:
                overrides = migrated.overrides[row.project.name]
                if overrides != row.overrides:
                    write_plugin_overrides(row.project, plugin, overrides, actor=actor)
            audit.record(
                AuditAction.CONFIG_CHANGE,
                actor=actor,
                plugin_id=plugin.plugin_id,
                before=without_secrets(schema, config.values),
                after=without_secrets(schema, migrated.global_values),
                detail=f"settings migrated from version {stored} to {target}",
            )
    except (ProjectFileConflict, ProjectFileError) as exc:
        raise MigrationFailed(str(exc)) from exc


def migrate_on_load(manifest: Manifest, resolve: Resolver) -> MigrationOutcome | None:
    """Called by the runtime before a plugin is loaded; never raises."""
    plugin = InstalledPlugin.objects.filter(plugin_id=manifest.id).first()
    if plugin is None:
        return None
    try:
        return migrate(plugin, manifest, resolve=resolve)
    except Exception:  # a migration must never stop a plugin from loading
        log.exception("migrating the settings of %s failed", manifest.id)
        return None


def stored_settings(plugin: InstalledPlugin) -> StoredSettings:
    """What ``restore_settings`` puts back: read before anything may migrate them."""
    config = PluginConfig.objects.filter(plugin=plugin).first()
    rows = ProjectPlugin.objects.filter(plugin=plugin)
    return StoredSettings(
        values=copy.deepcopy(config.values) if config else None,
        schema_version=config.schema_version if config else 1,
        overrides={row.project_id: copy.deepcopy(row.overrides) for row in rows},
    )


def restore_settings(plugin: InstalledPlugin, saved: StoredSettings, *, actor: Any = None) -> None:
    """Put back the global values and every project's overrides (rows and project files).

    For an update that failed after its settings were migrated. A project whose file cannot
    be rewritten (edited by hand meanwhile) is logged and skipped: the rest is still restored.
    """
    with transaction.atomic():
        if saved.values is not None:
            PluginConfig.objects.filter(plugin=plugin).update(
                values=saved.values, schema_version=saved.schema_version
            )
        rows = ProjectPlugin.objects.filter(plugin=plugin).select_related("project")
        for row in rows:
            overrides = saved.overrides.get(row.project_id)
            if overrides is None or overrides == row.overrides:
                continue
            try:
                with transaction.atomic():
                    write_plugin_overrides(row.project, plugin, overrides, actor=actor)
            except (ProjectFileConflict, ProjectFileError) as exc:
                log.warning(
                    "restoring the settings of %s in project %s failed: %s",
                    plugin.plugin_id,
                    row.project.name,
                    exc,
                )
