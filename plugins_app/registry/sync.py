"""Recording discovered plugins in the database (``InstalledPlugin`` rows).

Discovery reads manifests only; this module turns its results into installed-plugin rows with
the status each one can have before any code runs: ``error`` for a bad manifest, ``disabled``
for an incompatible Jupiter version or a refused trust level, ``error`` for a plugin whose
files no longer match its signature, or that was signed and lost its signature file (SPEC
M3, M4, X2).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction

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
from plugins_app.registry.status import set_status
from plugins_app.trust.policy import assess

log = logging.getLogger("jupiter.sync")


@dataclass(frozen=True)
class SyncReport:
    """Manifests that may load, and what was refused before loading, by plugin id."""

    loadable: dict[str, Manifest] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    missing: tuple[str, ...] = ()


def _record_invalid(found: DiscoveredPlugin) -> str:
    reason = "; ".join(str(e) for e in found.result.errors)
    InstalledPlugin.objects.update_or_create(
        plugin_id=found.id,
        defaults={
            "name": found.id,
            "source_path": str(found.path),
            "warnings": [str(w) for w in found.result.warnings],
        },
    )
    set_status(
        found.id, PluginStatus.ERROR, f"invalid plugin.yaml: {reason}", source=StatusSource.MANIFEST
    )
    return reason


def _record_valid(found: DiscoveredPlugin, manifest: Manifest) -> str | None:
    assessment = assess(found.path, manifest.id, manifest.version)
    plugin, _ = InstalledPlugin.objects.update_or_create(
        plugin_id=manifest.id,
        defaults={
            "name": manifest.name,
            "version": manifest.version,
            "kind": PluginKind(manifest.kind),
            "description": manifest.description,
            "source_path": str(found.path),
            "manifest": manifest.to_snapshot(),
            "warnings": [str(w) for w in found.result.warnings],
            "trust_level": assessment.level,
        },
    )
    if assessment.signed and not plugin.signed:  # once signed, never unsigned (X2)
        InstalledPlugin.objects.filter(pk=plugin.pk).update(signed=True)
    schema_version = manifest.config_schema.version if manifest.config_schema else 1
    PluginConfig.objects.get_or_create(plugin=plugin, defaults={"schema_version": schema_version})
    incompatible = compatibility_issue(manifest, JUPITER_VERSION)
    if assessment.tampered:
        refusal, status, source = assessment.refusal, PluginStatus.ERROR, StatusSource.TRUST
    elif incompatible:
        refusal, status, source = incompatible, PluginStatus.DISABLED, StatusSource.COMPATIBILITY
    else:
        refusal, status, source = assessment.refusal, PluginStatus.DISABLED, StatusSource.TRUST
    if refusal:
        set_status(manifest.id, status, refusal, source=source)
    return refusal


def _note_duplicate(found: DiscoveredPlugin) -> None:
    """Keep the first folder's row; tell its page another folder claims the same id."""
    note = f"another folder, {found.path}, also declares this id and was ignored"
    plugin = InstalledPlugin.objects.filter(source_path=str(found.duplicate_of)).first()
    if plugin is not None and note not in plugin.warnings:
        plugin.warnings = [*plugin.warnings, note]
        plugin.save(update_fields=["warnings", "updated_at"])
    log.warning("%s: %s", found.duplicate_of, note)


@transaction.atomic
def sync_installed_plugins(discovered: Iterable[DiscoveredPlugin]) -> SyncReport:
    """Upsert one row per discovered plugin; rows whose folder vanished go to ``error``.

    Config rows are created but never overwritten: a re-sync keeps users' settings. A folder
    claiming a core plugin's id is refused outright: core plugins cannot be replaced (K1).
    """
    loadable: dict[str, Manifest] = {}
    refused: dict[str, str] = {}
    seen: set[str] = set()
    duplicates: list[DiscoveredPlugin] = []
    for found in discovered:
        manifest = found.result.manifest
        if found.id in CORE_PLUGINS:
            refused[found.id] = f"'{found.id}' is a core plugin id; {found.path} is ignored"
            log.error("%s", refused[found.id])
            continue
        if found.duplicate_of is not None:
            duplicates.append(found)
            continue
        seen.add(found.id)
        if manifest is None:
            refused[found.id] = _record_invalid(found)
        elif refusal := _record_valid(found, manifest):
            refused[manifest.id] = refusal
        else:
            loadable[manifest.id] = manifest
    for found in duplicates:
        _note_duplicate(found)
    gone = InstalledPlugin.objects.exclude(plugin_id__in=seen)
    missing = tuple(gone.values_list("plugin_id", flat=True))
    for plugin in gone:
        set_status(
            plugin.plugin_id,
            PluginStatus.ERROR,
            f"plugin folder is missing: {plugin.source_path}",
            source=StatusSource.FOLDER,
        )
    return SyncReport(loadable, refused, missing)
