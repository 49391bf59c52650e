"""The change feed: every process of a deployment follows what changed, within seconds.

Enabling a plugin, installing, updating or uninstalling one, saving its settings or turning
its debug mode on happens in one process; the others learn of it from ``ChangeEvent`` rows,
which each process reads five times a second (one indexed query; the database stays the
truth), so another process serves an enabled or updated plugin within about two seconds. A
follower brings its process in step: it rescans and reconciles its plugins (starting, stopping or
restarting their processes), hands new settings to the running plugin, applies debug mode.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.db import close_old_connections, connections, transaction
from django.db.models import Max
from django.db.models.signals import post_save

from plugins_app.base.process import process_id
from plugins_app.kernel.runtime import Runtime
from plugins_app.logs import debug
from plugins_app.models import ChangeEvent, PluginConfig, PluginDebugMode, ProjectPlugin
from plugins_app.projects.signals import project_plugins_changed

__all__ = ["DEBUG", "FOLLOW_SECONDS", "PLUGINS", "SETTINGS", "UPDATED", "Follower", "announce"]

log = logging.getLogger("jupiter.feed")
FOLLOW_SECONDS = 0.2
PLUGINS, UPDATED, SETTINGS, DEBUG = "plugins", "updated", "settings", "debug"


def announce(topic: str, plugin_id: str = "", project: str = "") -> None:
    """Record a change for the other processes, once the current transaction commits."""

    def write() -> None:
        ChangeEvent.objects.create(
            topic=topic, plugin_id=plugin_id, project=project, origin=process_id()
        )

    transaction.on_commit(write)


class Follower:
    """Reads the feed after the last event it saw and applies each event to ``runtime``."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self.last = ChangeEvent.objects.aggregate(last=Max("id"))["last"] or 0
        self._stopped = threading.Event()

    def tick(self) -> int:
        """Apply what changed since the last tick; returns how many events it read."""
        events = list(ChangeEvent.objects.filter(id__gt=self.last).order_by("id"))
        if not events:
            return 0
        self.last = events[-1].id
        mine = process_id()
        others = [e for e in events if e.origin != mine]
        topics = {e.topic for e in others}
        runtime = self._runtime
        if topics & {PLUGINS, UPDATED}:
            reload = {e.plugin_id for e in others if e.topic == UPDATED and e.plugin_id}
            runtime.rescan()
            if reload:
                runtime.reconcile(reload=reload)
        if DEBUG in topics:
            debug.apply_all()
        for event in others:
            if event.topic == SETTINGS:
                runtime.settings_update.deliver(event.plugin_id, event.project or None)
        return len(events)

    def follow(self) -> threading.Thread:
        """Tick every ``FOLLOW_SECONDS`` in a daemon thread until ``stop``."""

        def loop() -> None:
            while not self._stopped.wait(FOLLOW_SECONDS):
                close_old_connections()
                try:
                    self.tick()
                except Exception:
                    log.exception("could not follow the change feed")
            connections.close_all()

        thread = threading.Thread(target=loop, name="jupiter-feed", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stopped.set()


def _plugins_changed(**kwargs: Any) -> None:
    announce(PLUGINS)


def _settings_saved(instance: Any, **kwargs: Any) -> None:
    if isinstance(instance, PluginConfig):
        announce(SETTINGS, instance.plugin.plugin_id)
    else:
        announce(SETTINGS, instance.plugin.plugin_id, instance.project.name)


def _debug_saved(instance: PluginDebugMode, **kwargs: Any) -> None:
    announce(DEBUG, instance.plugin.plugin_id)


project_plugins_changed.connect(_plugins_changed, dispatch_uid="feed.plugins")
post_save.connect(_settings_saved, sender=PluginConfig, dispatch_uid="feed.config")
post_save.connect(_settings_saved, sender=ProjectPlugin, dispatch_uid="feed.overrides")
post_save.connect(_debug_saved, sender=PluginDebugMode, dispatch_uid="feed.debug")
