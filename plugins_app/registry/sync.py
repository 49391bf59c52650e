"""Recording discovered plugins in the database (``InstalledPlugin`` rows).

Discovery reads manifests only; this module turns its results into installed-plugin rows with
the status each one can have before any code runs: ``error`` for a bad manifest, ``disabled``
for an incompatible Jupiter version or a refused trust level, ``error`` for a plugin whose
files no longer match its signature, or that was signed and lost its signature file (SPEC
M3, M4, X2).

Every boot syncs every plugin, so the sync is written for the common case of nothing having
changed: one SELECT of the stored rows (and one of the config rows), a compare in Python, then
``bulk_create``/``bulk_update`` of only the rows that differ and one ``set_statuses`` for the
refusals. An unchanged installation is read, never written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from plugins_app.base.version import JUPITER_VERSION
from plugins_app.manifest.load import compatibility_issue
from plugins_app.manifest.model import Manifest
from plugins_app.models import (
    InstalledPlugin,
    PluginConfig,
    PluginKind,
    PluginStatus,
    StatusSource,
)
from plugins_app.registry.core import CORE_PLUGINS
from plugins_app.registry.discovery import DiscoveredPlugin
from plugins_app.registry.status import StatusChange, set_statuses
from plugins_app.trust.policy import assess

log = logging.getLogger("jupiter.sync")

# The InstalledPlugin columns the sync owns; everything else (status, legacy) has its writer.
SYNCED_FIELDS = (
    "name",
    "version",
    "kind",
    "description",
    "source_path",
    "manifest",
    "warnings",
    "trust_level",
    "signed",  # set once a signature verifies; the installer sets it too
)


@dataclass(frozen=True)
class SyncReport:
    """Manifests that may load, and what was refused before loading, by plugin id."""

    loadable: dict[str, Manifest] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Planned:
    """What one discovered plugin's row should hold, and the status it must have, if any."""

    plugin_id: str
    fields: dict[str, Any]
    schema_version: int | None = None  # of the config row to create; None: no config row
    status: StatusChange | None = None


def _plan_invalid(found: DiscoveredPlugin) -> _Planned:
    reason = "; ".join(str(e) for e in found.result.errors)
    fields: dict[str, Any] = {
        "name": found.id,
        "source_path": str(found.path),
        "warnings": [str(w) for w in found.result.warnings],
    }
    status = StatusChange(
        found.id, PluginStatus.ERROR, f"invalid plugin.yaml: {reason}", StatusSource.MANIFEST
    )
    return _Planned(found.id, fields, status=status)


def _plan_valid(found: DiscoveredPlugin, manifest: Manifest, was_signed: bool) -> _Planned:
    assessment = assess(found.path, manifest.id, manifest.version, was_signed=was_signed)
    fields: dict[str, Any] = {
        "name": manifest.name,
        "version": manifest.version,
        "kind": PluginKind(manifest.kind),
        "description": manifest.description,
        "source_path": str(found.path),
        "manifest": manifest.to_snapshot(),
        "warnings": [str(w) for w in found.result.warnings],
        "trust_level": assessment.level,
    }
    if assessment.signed:  # once signed, never unsigned (X2): only ever set here
        fields["signed"] = True
    schema_version = manifest.config_schema.version if manifest.config_schema else 1
    incompatible = compatibility_issue(manifest, JUPITER_VERSION)
    if assessment.tampered:
        refusal, status, source = assessment.refusal, PluginStatus.ERROR, StatusSource.TRUST
    elif incompatible:
        refusal, status, source = incompatible, PluginStatus.DISABLED, StatusSource.COMPATIBILITY
    else:
        refusal, status, source = assessment.refusal, PluginStatus.DISABLED, StatusSource.TRUST
    change = StatusChange(manifest.id, status, refusal, source) if refusal else None
    return _Planned(manifest.id, fields, schema_version, change)


def _note_duplicates(planned: dict[str, _Planned], duplicates: list[DiscoveredPlugin]) -> None:
    """Keep the first folder's row; tell its page another folder claims the same id."""
    by_path = {plan.fields["source_path"]: plan for plan in planned.values()}
    for found in duplicates:
        note = f"another folder, {found.path}, also declares this id and was ignored"
        plan = by_path.get(str(found.duplicate_of))
        if plan is not None and note not in plan.fields["warnings"]:
            plan.fields["warnings"].append(note)
        log.warning("%s: %s", found.duplicate_of, note)


def _write_rows(planned: dict[str, _Planned], stored: dict[str, InstalledPlugin]) -> None:
    """Create the new rows and update the changed ones, one statement per batch."""
    created, updated = [], []
    now = timezone.now()
    for plugin_id, plan in planned.items():
        row = stored.get(plugin_id)
        if row is None:
            created.append(InstalledPlugin(plugin_id=plugin_id, **plan.fields))
        elif any(getattr(row, name) != value for name, value in plan.fields.items()):
            for name, value in plan.fields.items():
                setattr(row, name, value)
            row.updated_at = now
            updated.append(row)
    InstalledPlugin.objects.bulk_create(created)
    InstalledPlugin.objects.bulk_update(updated, [*SYNCED_FIELDS, "updated_at"])
    configured = set(
        PluginConfig.objects.filter(plugin__plugin_id__in=planned).values_list(
            "plugin__plugin_id", flat=True
        )
    )
    unconfigured = [
        pid
        for pid, plan in planned.items()
        if plan.schema_version is not None and pid not in configured
    ]
    if unconfigured:
        rows = InstalledPlugin.objects.filter(plugin_id__in=unconfigured).only("pk", "plugin_id")
        PluginConfig.objects.bulk_create(
            PluginConfig(plugin=row, schema_version=planned[row.plugin_id].schema_version or 1)
            for row in rows
        )


@transaction.atomic
def sync_installed_plugins(discovered: Iterable[DiscoveredPlugin]) -> SyncReport:
    """Upsert one row per discovered plugin; rows whose folder vanished go to ``error``.

    Config rows are created but never overwritten: a re-sync keeps users' settings. A folder
    claiming a core plugin's id is refused outright: core plugins cannot be replaced (K1).
    """
    loadable: dict[str, Manifest] = {}
    refused: dict[str, str] = {}
    planned: dict[str, _Planned] = {}
    duplicates: list[DiscoveredPlugin] = []
    stored = {row.plugin_id: row for row in InstalledPlugin.objects.all()}
    for found in discovered:
        manifest = found.result.manifest
        if found.id in CORE_PLUGINS:
            refused[found.id] = f"'{found.id}' is a core plugin id; {found.path} is ignored"
            log.error("%s", refused[found.id])
            continue
        if found.duplicate_of is not None:
            duplicates.append(found)
            continue
        if manifest is None:
            plan = _plan_invalid(found)
        else:
            row = stored.get(manifest.id)
            plan = _plan_valid(found, manifest, row is not None and row.signed)
        planned[plan.plugin_id] = plan
        if plan.status is not None:
            refused[plan.plugin_id] = plan.status.reason
        elif manifest is not None:
            loadable[manifest.id] = manifest
    _note_duplicates(planned, duplicates)
    _write_rows(planned, stored)
    gone = [(pid, row.source_path) for pid, row in stored.items() if pid not in planned]
    changes = [plan.status for plan in planned.values() if plan.status is not None]
    changes += [
        StatusChange(
            plugin_id,
            PluginStatus.ERROR,
            f"plugin folder is missing: {source_path}",
            StatusSource.FOLDER,
        )
        for plugin_id, source_path in gone
    ]
    set_statuses(changes)
    return SyncReport(loadable, refused, tuple(plugin_id for plugin_id, _ in gone))
