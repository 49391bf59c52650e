"""Stored settings follow a plugin's ``config_schema.version`` (SPEC M6).

When a new version of a plugin raises its settings schema version, the global config and
every project's overrides are passed through the plugin's declared steps (``from`` -> ``to``,
``entrypoint(old_config) -> new_config``), validated against the new schema, and saved in one
transaction. Any failure (no step, a step that raises or returns garbage, a result the new
schema refuses, a hand-edited project file) keeps every stored value as it was and is
reported: in the plugin's log, and on its settings page, which tries again when shown.

Migration code is plugin code, so it only runs for a plugin that is being loaded or is
loaded (enabled and trusted, SPEC M5).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from django.db import transaction
from django.db.models import F

from plugins_app.base.errors import JupiterError
from plugins_app.config.layering import effective_config
from plugins_app.config.store import plugin_schema_version
from plugins_app.kernel.loader import resolve, summarise_exception
from plugins_app.manifest.model import Manifest, Migration
from plugins_app.models import AuditAction, InstalledPlugin, PluginConfig, ProjectPlugin, audit
from plugins_app.projects.errors import ProjectFileConflict
from plugins_app.projects.projectfile import ProjectFileError
from plugins_app.projects.service import set_plugin_overrides
from plugins_app.web.autoui.schema import without_secrets

log = logging.getLogger("jupiter.config_migrations")
State = Literal["current", "migrated", "pending", "failed"]


@dataclass(frozen=True)
class MigrationOutcome:
    state: State
    stored_version: int
    target_version: int
    message: str = ""


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
            raise MigrationFailed(f"no migration step declared from version {version}")
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


def migrate(plugin: InstalledPlugin, manifest: Manifest, *, actor: Any = None) -> MigrationOutcome:
    """Migrate ``plugin``'s stored settings to ``manifest``'s schema version, all or nothing."""
    stored, target = stored_and_target(plugin)
    if stored >= target or manifest.config_schema is None:
        return MigrationOutcome("current", stored, target)
    try:
        _migrate(plugin, manifest, stored, target, actor)
    except MigrationFailed as exc:
        message = f"settings kept at version {stored}: {exc}"
        logging.getLogger(f"jupiter.plugin.{plugin.plugin_id}").error(
            "migration failed, %s", message
        )
        return MigrationOutcome("failed", stored, target, message)
    return MigrationOutcome("migrated", stored, target, f"settings migrated to version {target}")


def _migrate(
    plugin: InstalledPlugin, manifest: Manifest, stored: int, target: int, actor: Any
) -> None:
    assert manifest.config_schema is not None
    schema = manifest.config_schema.schema
    config = PluginConfig.objects.get(plugin=plugin)
    rows = [r for r in ProjectPlugin.objects.filter(plugin=plugin).select_related("project")]
    global_values, overrides = dict(config.values), {r.pk: dict(r.overrides) for r in rows}
    try:
        for step in plan(manifest.config_schema.migrations, stored, target):
            func = resolve(manifest, step.entrypoint)
            global_values = _apply(func, global_values, step)
            overrides = {pk: _apply(func, o, step) if o else o for pk, o in overrides.items()}
    except MigrationFailed:
        raise
    except Exception as exc:
        raise MigrationFailed(summarise_exception(exc, manifest)) from exc
    for row in [None, *rows]:
        layer = overrides[row.pk] if row else {}
        errors = effective_config(schema, global_values, layer).errors
        if errors:
            where = f" in project {row.project.name}" if row else ""
            first = errors[0]
            raise MigrationFailed(
                f"the migrated settings{where} do not fit version {target}: "
                f"{first.path or '(config)'}: {first.message}"
            )
    try:
        with transaction.atomic():
            updated = PluginConfig.objects.filter(pk=config.pk, revision=config.revision).update(
                values=global_values, schema_version=target, revision=F("revision") + 1
            )
            if not updated:
                raise MigrationFailed("the settings were saved meanwhile; try again")
            for row in rows:
                if overrides[row.pk] != row.overrides:
                    set_plugin_overrides(
                        row.project, plugin.plugin_id, overrides[row.pk], actor=actor
                    )
            audit.record(
                AuditAction.CONFIG_CHANGE,
                actor=actor,
                plugin_id=plugin.plugin_id,
                before=without_secrets(schema, config.values),
                after=without_secrets(schema, global_values),
                detail=f"settings migrated from version {stored} to {target}",
            )
    except (ProjectFileConflict, ProjectFileError) as exc:
        raise MigrationFailed(str(exc)) from exc


def migrate_on_load(manifest: Manifest) -> MigrationOutcome | None:
    """Called by the runtime before a plugin is loaded; never raises."""
    plugin = InstalledPlugin.objects.filter(plugin_id=manifest.id).first()
    if plugin is None:
        return None
    try:
        return migrate(plugin, manifest)
    except Exception:  # a migration must never stop a plugin from loading
        log.exception("migrating the settings of %s failed", manifest.id)
        return None
