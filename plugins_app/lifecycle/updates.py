"""Check for updates and update with automatic rollback (SPEC MK3, M6, U7).

An update installs the new version beside the old one: the staged copy is checked (signature,
trust, compatibility, newer version), the old folder is renamed aside and the new one renamed
into place. Then the new code must prove itself: it is imported and registered (for real if
the plugin is enabled somewhere, else on a scratch Bridge), and stored settings are migrated
through the steps its manifest declares and validated against its schema. Any failure puts the
old folder and the old settings back and reloads the old version, so a plugin that was
``ready`` is ``ready`` again; the audit trail records the attempt and why it was rolled back.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from packaging.version import InvalidVersion, Version

from plugins_app.base import conf
from plugins_app.config.layering import effective_config
from plugins_app.kernel.bridge import Bridge
from plugins_app.kernel.loader import load_plugin, resolve, unload_modules
from plugins_app.kernel.runtime import boot
from plugins_app.lifecycle.installer import (
    TRASH,
    Actor,
    InstallError,
    StagedPlugin,
    area,
    discard,
    exclusive,
    load_staged,
    managed_folder,
    remove_tree,
)
from plugins_app.manifest.model import Manifest
from plugins_app.models import (
    AuditAction,
    InstalledPlugin,
    PluginConfig,
    PluginStatus,
    ProjectPlugin,
    audit,
)
from plugins_app.services.provider import ServiceProvider
from plugins_app.trust.catalogue import CatalogueEntry, latest_versions, read_index


class UpdateFailed(InstallError):
    """The new version failed; the old one was restored (``reason`` says what failed)."""

    def __init__(self, plugin_id: str, version: str, reason: str) -> None:
        super().__init__(f"update of {plugin_id} to {version} failed and was rolled back: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class AvailableUpdate:
    plugin_id: str
    installed: str
    entry: CatalogueEntry


def check_updates(catalogues: tuple[str, ...] | None = None) -> list[AvailableUpdate]:
    """Installed plugins with a newer version in the catalogues (configured ones by default)."""
    locations = conf.trust().catalogues if catalogues is None else catalogues
    entries: list[CatalogueEntry] = []
    for location in locations:
        entries.extend(read_index(location))
    newest = latest_versions(entries)
    found = []
    for plugin in InstalledPlugin.objects.filter(plugin_id__in=newest).order_by("plugin_id"):
        entry = newest[plugin.plugin_id]
        try:
            installed = Version(plugin.version or "0")
        except InvalidVersion:
            continue  # a plugin with an invalid version is in error anyway
        if entry.parsed_version > installed:
            found.append(AvailableUpdate(plugin.plugin_id, plugin.version, entry))
    return found


def migrate_config(manifest: Manifest, values: dict[str, Any], from_version: int) -> dict[str, Any]:
    """Run the manifest's migration steps from ``from_version`` up; validate the result (M6)."""
    if manifest.config_schema is None:
        return values
    steps = {step.from_version: step for step in manifest.config_schema.migrations}
    version = from_version
    while version < manifest.config_schema.version:
        step = steps.get(version)
        if step is None:
            raise ValueError(
                f"no settings migration from schema version {version} "
                f"to {manifest.config_schema.version}"
            )
        values = resolve(manifest, step.entrypoint)(dict(values))
        if not isinstance(values, dict):
            raise ValueError(f"migration {step.entrypoint} returned {type(values).__name__}")
        version = step.to_version
    errors = effective_config(dict(manifest.config_schema.schema), values).errors
    if errors:
        raise ValueError("migrated settings are invalid: " + "; ".join(map(str, errors)))
    return values


def _prove(plugin_id: str, config: PluginConfig | None) -> dict[str, Any] | None:
    """Sync, load the new code and migrate settings; returns the new settings or raises.

    The sync verifies the new folder in place, as every later load will.
    """
    enabled = ProjectPlugin.objects.filter(plugin__plugin_id=plugin_id, enabled=True).exists()
    runtime = boot()
    manifest = runtime.manifests.get(plugin_id)
    if manifest is None:
        row = InstalledPlugin.objects.get(plugin_id=plugin_id)
        raise ValueError(row.status_reason or "the new version cannot be loaded")
    if enabled:
        runtime.reconcile(reload={manifest.id})
        row = InstalledPlugin.objects.get(plugin_id=manifest.id)
        if row.status != PluginStatus.READY:
            raise ValueError(row.status_reason or f"status is {row.status}")
    else:
        outcome = load_plugin(manifest, Bridge(ServiceProvider()))
        if outcome.registration is None:
            raise ValueError(outcome.error)
    try:
        if config is None:
            return None
        return migrate_config(manifest, dict(config.values), config.schema_version)
    finally:
        if not enabled:
            unload_modules(manifest.id)


def update(token: str, plugin_id: str, *, actor: Actor = None) -> InstalledPlugin:
    """Replace ``plugin_id`` by the staged version, or roll back and raise ``UpdateFailed``."""
    with exclusive():
        plugin = InstalledPlugin.objects.filter(plugin_id=plugin_id).first()
        if plugin is None:
            discard(token)
            raise InstallError(f"plugin '{plugin_id}' is not installed")
        try:
            target = managed_folder(plugin)
            staged = load_staged(token, replacing=plugin)
        except BaseException:
            discard(token)
            raise
        config = PluginConfig.objects.filter(plugin=plugin).first()
        saved = (config.values, config.schema_version) if config else None
        before = {"version": plugin.version, "trust_level": plugin.trust_level}
        backup = area(TRASH) / f"{plugin_id}-{plugin.version}-{secrets.token_hex(8)}"
        os.rename(target, backup)
        os.rename(staged.root, target)
        discard(token)
        try:
            values = _prove(plugin_id, config)
        except Exception as exc:
            _roll_back(plugin_id, target, backup, config, saved)
            reason = str(exc) or type(exc).__name__
            _audit(staged, actor, before, f"rolled back: {reason}")
            raise UpdateFailed(plugin_id, staged.manifest.version, reason) from exc
        with transaction.atomic():
            if config is not None and staged.manifest.config_schema is not None:
                config.values = values
                config.schema_version = staged.manifest.config_schema.version
                config.save(update_fields=["values", "schema_version", "updated_at"])
            _audit(staged, actor, before, f"updated from {staged.source}")
        remove_tree(backup)
    return InstalledPlugin.objects.get(plugin_id=plugin_id)


def _audit(staged: StagedPlugin, actor: Actor, before: dict[str, Any], detail: str) -> None:
    audit.record(
        AuditAction.UPDATE,
        actor=actor,
        plugin_id=staged.manifest.id,
        before=before,
        after={"version": staged.manifest.version, "trust_level": staged.trust.level},
        detail=detail,
    )


def _roll_back(
    plugin_id: str,
    target: Any,
    backup: Any,
    config: PluginConfig | None,
    saved: tuple[dict[str, Any], int] | None,
) -> None:
    """Old folder back, old settings back, old code reloaded."""
    unload_modules(plugin_id)
    remove_tree(target)
    os.rename(backup, target)
    if config is not None and saved is not None:
        PluginConfig.objects.filter(pk=config.pk).update(values=saved[0], schema_version=saved[1])
    boot().reconcile(reload={plugin_id})
