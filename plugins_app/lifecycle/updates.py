"""Check for updates and update with automatic rollback (SPEC MK3, M6, U7).

An update installs the new version beside the old one: the staged copy is checked (signature,
trust, compatibility, newer version), the old folder is renamed aside and the new one renamed
into place. Then the new code must prove itself: it is imported and registered (for real if
the plugin is enabled somewhere, else on a scratch Bridge), and stored settings (global and
every project's overrides, enabled or not) are migrated once, through the steps its manifest
declares, by the one settings-migration path (``config.migrations``). Any failure puts the
old folder and the old settings (global and overrides, project files too) back and reloads
the old version, so a plugin that was ``ready`` is ``ready`` again; the audit trail records
the attempt and why it was rolled back.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from packaging.version import InvalidVersion, Version

from plugins_app.base import conf
from plugins_app.config.migrations import (
    MigrationFailed,
    StoredSettings,
    migrate,
    restore_settings,
    stored_settings,
)
from plugins_app.kernel.feed import UPDATED, announce
from plugins_app.kernel.processes import PluginProcessError
from plugins_app.kernel.runtime import boot
from plugins_app.kernel.supervisor import Supervisor
from plugins_app.lifecycle.changes import changes_of
from plugins_app.lifecycle.installer import (
    REFUSALS,
    TRASH,
    InstallError,
    StagedPlugin,
    area,
    discard,
    exclusive,
    load_staged,
    managed_folder,
    remove_tree,
    stage_catalogue,
)
from plugins_app.models import (
    AuditAction,
    InstalledPlugin,
    PluginStatus,
    ProjectPlugin,
    audit,
)
from plugins_app.models.audit import Actor
from plugins_app.services.grants import freeze
from plugins_app.services.provider import ServiceProvider
from plugins_app.trust.catalogue import (
    CatalogueEntry,
    CatalogueError,
    latest_versions,
    read_index,
)

log = logging.getLogger("jupiter.updates")
UPDATE_CHECK_SECONDS = 6 * 3600


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
    """Installed, unpinned plugins with a newer version in the catalogues (configured ones by
    default); a pinned plugin stays at its version until it is unpinned."""
    locations = conf.trust().catalogues if catalogues is None else catalogues
    entries: list[CatalogueEntry] = []
    for location in locations:
        entries.extend(read_index(location))
    newest = latest_versions(entries)
    found = []
    candidates = InstalledPlugin.objects.filter(plugin_id__in=newest, pinned=False)
    for plugin in candidates.order_by("plugin_id"):
        entry = newest[plugin.plugin_id]
        try:
            installed = Version(plugin.version or "0")
        except InvalidVersion:
            continue  # a plugin with an invalid version is in error anyway
        if entry.parsed_version > installed:
            found.append(AvailableUpdate(plugin.plugin_id, plugin.version, entry))
    return found


def record_check(catalogues: tuple[str, ...] | None = None) -> list[AvailableUpdate]:
    """The scheduled check (the leader's, every ``UPDATE_CHECK_SECONDS``): what it found is
    kept on each plugin row, so the plugin list and page show a badge without asking the
    catalogues again. A catalogue that cannot be read leaves the badges as they were."""
    locations = conf.trust().catalogues if catalogues is None else catalogues
    if not locations:
        return []
    try:
        found = check_updates(locations)
    except CatalogueError as exc:
        log.warning("update check skipped: %s", exc)
        return []
    newer = {item.plugin_id: item.entry.version for item in found}
    now = timezone.now()
    with transaction.atomic():
        # A row whose badge changes is touched (updated_at), so cached list rows follow.
        InstalledPlugin.objects.exclude(plugin_id__in=newer).exclude(available_version="").update(
            available_version="", updated_at=now
        )
        for plugin_id, version in newer.items():
            InstalledPlugin.objects.filter(plugin_id=plugin_id).exclude(
                available_version=version
            ).update(available_version=version, updated_at=now)
        InstalledPlugin.objects.update(update_checked_at=now)
    return found


def set_pinned(plugin_id: str, pinned: bool, *, actor: Actor = None) -> InstalledPlugin:
    """Pin a plugin at its version (update checks and update-all skip it), or unpin it."""
    plugin = InstalledPlugin.objects.get(plugin_id=plugin_id)
    if plugin.pinned != pinned:
        changes: dict[str, Any] = {"pinned": pinned, "updated_at": timezone.now()}
        if pinned:
            changes["available_version"] = ""
        InstalledPlugin.objects.filter(pk=plugin.pk).update(**changes)
        audit.record(
            AuditAction.PIN,
            actor=actor,
            plugin_id=plugin_id,
            before={"pinned": plugin.pinned},
            after={"pinned": pinned},
            detail=f"pinned at {plugin.version}" if pinned else "unpinned",
        )
    plugin.refresh_from_db()
    return plugin


@dataclass(frozen=True)
class UpdateOutcome:
    plugin_id: str
    version: str
    error: str = ""
    waiting_consent: tuple[str, ...] = ()


def update_all(*, actor: Actor = None) -> list[UpdateOutcome]:
    """Update every unpinned plugin with a newer catalogue version, one after the other.

    An update that adds permissions is not made here: it needs someone to read the new
    permissions first, so it is reported as waiting (``waiting_consent``) and left alone.
    A failed update is rolled back as always and the others go on.
    """
    outcomes = []
    for item in check_updates():
        plugin = InstalledPlugin.objects.get(plugin_id=item.plugin_id)
        try:
            staged = stage_catalogue(item.entry, replacing=plugin)
        except REFUSALS as exc:
            outcomes.append(UpdateOutcome(item.plugin_id, item.entry.version, str(exc)))
            continue
        changes = changes_of(plugin, staged.manifest)
        if changes.needs_consent:
            discard(staged.token)
            outcomes.append(
                UpdateOutcome(item.plugin_id, item.entry.version, waiting_consent=changes.added)
            )
            continue
        try:
            update(staged.token, item.plugin_id, actor=actor)
        except REFUSALS as exc:
            outcomes.append(UpdateOutcome(item.plugin_id, item.entry.version, str(exc)))
            continue
        outcomes.append(UpdateOutcome(item.plugin_id, item.entry.version))
    record_check()
    return outcomes


def _prove(plugin_id: str, actor: Actor) -> None:
    """Sync, load the new code, then migrate the stored settings once; raises on failure.

    The sync verifies the new folder in place, as every later load will. An enabled plugin
    is reloaded for real, and the runtime migrates its settings as part of that load; a
    disabled one is loaded on a scratch Bridge. Either way ``migrate`` then brings every
    stored layer (global and all projects) to the new schema version, or reports why it
    cannot; already migrated settings are left alone, so no step runs twice, and the next
    load finds nothing left to do.
    """
    enabled = ProjectPlugin.objects.filter(plugin__plugin_id=plugin_id, enabled=True).exists()
    runtime = boot()
    manifest = runtime.manifests.get(plugin_id)
    if manifest is None:
        row = InstalledPlugin.objects.get(plugin_id=plugin_id)
        raise ValueError(row.status_reason or "the new version cannot be loaded")
    if enabled:
        runtime.reconcile()  # the rescan in boot() already restarted it on the new version
        row = InstalledPlugin.objects.get(plugin_id=manifest.id)
        if row.status != PluginStatus.READY:
            raise ValueError(row.status_reason or f"status is {row.status}")
    else:
        scratch = Supervisor(ServiceProvider())
        try:
            scratch.load(manifest)
        except PluginProcessError as exc:
            raise ValueError(exc.reason) from None
        finally:
            scratch.close()
    plugin = InstalledPlugin.objects.get(plugin_id=plugin_id)
    migrated = migrate(plugin, manifest, resolve=runtime.code_of(manifest), actor=actor)
    if migrated.state == "failed":
        raise MigrationFailed(migrated.message)


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
        saved = stored_settings(plugin)
        before = {
            "version": plugin.version,
            "trust_level": plugin.trust_level,
            "permissions": plugin.permissions,
        }
        freeze(plugin)  # each project keeps today's permissions until it accepts new ones
        backup = area(TRASH) / f"{plugin_id}-{plugin.version}-{secrets.token_hex(8)}"
        os.rename(target, backup)
        os.rename(staged.root, target)
        discard(token)
        try:
            _prove(plugin_id, actor)
        except Exception as exc:
            _roll_back(plugin, target, backup, saved)
            reason = str(exc) or type(exc).__name__
            _audit(staged, actor, before, f"rolled back: {reason}")
            raise UpdateFailed(plugin_id, staged.manifest.version, reason) from exc
        _audit(staged, actor, before, f"updated from {staged.source}")
        announce(UPDATED, plugin_id)  # the other processes restart it on the new code
        remove_tree(backup)
        InstalledPlugin.objects.filter(plugin_id=plugin_id).update(available_version="")
    return InstalledPlugin.objects.get(plugin_id=plugin_id)


def _audit(staged: StagedPlugin, actor: Actor, before: dict[str, Any], detail: str) -> None:
    audit.record(
        AuditAction.UPDATE,
        actor=actor,
        plugin_id=staged.manifest.id,
        before=before,
        after={
            "version": staged.manifest.version,
            "trust_level": staged.trust.level,
            "permissions": list(staged.manifest.permissions),
        },
        detail=detail,
    )


def _roll_back(plugin: InstalledPlugin, target: Any, backup: Any, saved: StoredSettings) -> None:
    """Old folder back, old settings back (global and every project's), old code reloaded."""
    remove_tree(target)
    os.rename(backup, target)
    restore_settings(plugin, saved)
    boot().reconcile(reload={plugin.plugin_id})
