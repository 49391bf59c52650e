"""The ``settings_update`` core plugin: pushes saved configuration to running plugins.

When a plugin's global config or a project's overrides are saved, the plugin's optional
``on_config_changed(config, project)`` hook is called with the new effective config, and
``host.settings_updated`` is published on the event bus, so plugins never poll for changes.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save

from plugins_app.config.store import effective_config_for
from plugins_app.kernel.bridge import Bridge
from plugins_app.models import InstalledPlugin, PluginConfig, Project, ProjectPlugin

log = logging.getLogger("jupiter.core.settings_update")


class SettingsUpdate:
    def __init__(self, bridge: Bridge) -> None:
        self._bridge = bridge

    def install(self) -> None:
        post_save.connect(
            self._on_config_saved,
            sender=PluginConfig,
            weak=False,
            dispatch_uid="settings_update.config",
        )
        post_save.connect(
            self._on_overrides_saved,
            sender=ProjectPlugin,
            weak=False,
            dispatch_uid="settings_update.overrides",
        )

    def uninstall(self) -> None:
        post_save.disconnect(sender=PluginConfig, dispatch_uid="settings_update.config")
        post_save.disconnect(sender=ProjectPlugin, dispatch_uid="settings_update.overrides")

    def _on_config_saved(self, instance: PluginConfig, **kwargs: Any) -> None:
        plugin_id = instance.plugin.plugin_id
        transaction.on_commit(lambda: self.deliver(plugin_id, None))

    def _on_overrides_saved(self, instance: ProjectPlugin, **kwargs: Any) -> None:
        plugin_id, project = instance.plugin.plugin_id, instance.project.name
        transaction.on_commit(lambda: self.deliver(plugin_id, project))

    def deliver(self, plugin_id: str, project: str | None) -> None:
        """Hand the new effective config to the plugin; a failing hook is only logged."""
        self._bridge.service_provider.event_bus.publish(
            "host.settings_updated", {"plugin": plugin_id, "project": project}
        )
        registration = self._bridge.registration(plugin_id)
        hook = registration.hooks.get("on_config_changed") if registration else None
        if hook is None:
            return
        plugin = InstalledPlugin.objects.get(plugin_id=plugin_id)
        scope = Project.objects.filter(name=project).first() if project else None
        try:
            hook(dict(effective_config_for(plugin, scope).values), project)
        except Exception:
            log.exception("on_config_changed of %s failed", plugin_id)
