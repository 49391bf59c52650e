"""Per-plugin debug mode (SPEC U8): verbose logs and debug metrics for one plugin.

Turning it on sets the plugin's logger (``jupiter.plugin.<id>``, the one
``bridge.services.get_logger()`` and ``job.log`` return) to DEBUG, so its debug lines reach
the log handlers and the live log panel; plugins that compute costly debug metrics check
``logger.isEnabledFor(logging.DEBUG)``. The choice is stored per plugin, applied at once in
the process that changed it and by every other process at its next sync.
"""

from __future__ import annotations

import logging

from plugins_app.logs.hub import plugin_logger
from plugins_app.models import AuditAction, InstalledPlugin, PluginDebugMode, audit
from plugins_app.models.audit import Actor, stored_user


def apply(plugin_id: str, enabled: bool) -> None:
    """DEBUG while on; NOTSET when off, so the level configured for ``jupiter`` applies."""
    plugin_logger(plugin_id).setLevel(logging.DEBUG if enabled else logging.NOTSET)


def apply_all() -> None:
    for plugin_id, enabled in PluginDebugMode.objects.values_list("plugin__plugin_id", "enabled"):
        apply(plugin_id, enabled)


def is_enabled(plugin: InstalledPlugin) -> bool:
    return PluginDebugMode.objects.filter(plugin=plugin, enabled=True).exists()


def set_debug_mode(plugin: InstalledPlugin, enabled: bool, *, actor: Actor = None) -> None:
    """Store, apply here and audit the change (it makes a plugin's logs more talkative)."""
    user = stored_user(actor)
    row, _ = PluginDebugMode.objects.get_or_create(plugin=plugin)
    before = row.enabled
    row.enabled, row.changed_by = enabled, user
    row.save()
    apply(plugin.plugin_id, enabled)
    if before != enabled:
        audit.record(
            AuditAction.CONFIG_CHANGE,
            actor=actor,
            plugin_id=plugin.plugin_id,
            before={"debug_mode": before},
            after={"debug_mode": enabled},
            detail=f"debug mode {'on' if enabled else 'off'}",
        )
