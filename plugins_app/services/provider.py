"""``bridge.services``: the core services a plugin reaches through the Bridge (SPEC B3, D3).

Plugins get services from here instead of importing Jupiter internals, which keeps them
decoupled and testable (the Bridge double in ``authoring.testing`` swaps this provider), and lets
the host check each access against the plugin's declared permissions.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from plugins_app.base.errors import BridgeError
from plugins_app.logs.hub import plugin_logger
from plugins_app.manifest.model import Manifest
from plugins_app.services.history import GraphService, HistoryService
from plugins_app.services.sandbox import HttpClient, ProjectFiles, Runner

EventHandler = Callable[[str, dict[str, Any]], None]
log = logging.getLogger("jupiter.events")


class EventBus:
    """In-process publish/subscribe between the host and plugins.

    A handler that raises is logged and skipped: one faulty subscriber never stops the
    others or the publisher.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, list[EventHandler]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, topic: str, handler: EventHandler) -> Callable[[], None]:
        """Subscribe to ``topic`` (exact, or a prefix ending in ``*``); returns unsubscribe."""
        with self._lock:
            self._handlers[topic].append(handler)

        def unsubscribe() -> None:
            with self._lock:
                if handler in self._handlers.get(topic, []):
                    self._handlers[topic].remove(handler)

        return unsubscribe

    def publish(self, topic: str, payload: dict[str, Any] | None = None) -> int:
        """Deliver to every matching handler; returns how many received it."""
        with self._lock:
            targets = [
                h
                for pattern, handlers in self._handlers.items()
                if pattern == topic or (pattern.endswith("*") and topic.startswith(pattern[:-1]))
                for h in handlers
            ]
        for handler in targets:
            try:
                handler(topic, dict(payload or {}))
            except Exception:
                log.exception("event handler for %r failed", topic)
        return len(targets)


class PluginEventBus:
    """A plugin's view of the bus: it publishes only under ``plugin.<id>.`` (SPEC U5)."""

    def __init__(self, bus: EventBus, plugin_id: str) -> None:
        self._bus = bus
        self.namespace = f"plugin.{plugin_id}."

    def publish(self, name: str, payload: dict[str, Any] | None = None) -> int:
        return self._bus.publish(self.namespace + name, payload)

    def subscribe(self, topic: str, handler: EventHandler) -> Callable[[], None]:
        return self._bus.subscribe(topic, handler)


@dataclass(frozen=True)
class ProjectInfo:
    name: str
    root: Path


class ProjectManager:
    """Read access to the projects that enabled the plugin, never to the others."""

    def __init__(self, plugin_id: str) -> None:
        self._plugin_id = plugin_id

    def list_projects(self) -> list[ProjectInfo]:
        from plugins_app.models import Project

        projects = Project.objects.filter(
            plugin_states__plugin__plugin_id=self._plugin_id, plugin_states__enabled=True
        )
        return [ProjectInfo(p.name, Path(p.root_path)) for p in projects]

    def get(self, name: str) -> ProjectInfo | None:
        return next((p for p in self.list_projects() if p.name == name), None)

    def project(self, name: str) -> Any:
        """The ``Project`` row, if it enabled this plugin; else ``ProjectUnavailable``."""
        from plugins_app.models import Project

        row = Project.objects.filter(
            name=name, plugin_states__plugin__plugin_id=self._plugin_id, plugin_states__enabled=True
        ).first()
        if row is None:
            raise ProjectUnavailable(self._plugin_id, name)
        return row

    def root(self, name: str) -> Path:
        return Path(self.project(name).root_path)

    def files(self, name: str, manifest: Manifest) -> ProjectFiles:
        """The project's files, read and written under ``manifest``'s permissions (X1)."""
        return ProjectFiles(manifest, self.root(name))


class ProjectUnavailable(BridgeError, LookupError):
    """A plugin named a project that does not exist or did not enable it."""

    def __init__(self, plugin_id: str, project: str) -> None:
        super().__init__(f"plugin '{plugin_id}' has no access to project '{project}'")


class Services:
    """The per-plugin service locator behind ``bridge.services``."""

    def __init__(self, provider: ServiceProvider, manifest: Manifest) -> None:
        self._provider = provider
        self._manifest = manifest

    def get_logger(self) -> logging.Logger:
        """``jupiter.plugin.<id>``: its own file, the aggregate and the live panel (O2)."""
        return plugin_logger(self._manifest.id)

    def get_config(self, project: str | None = None) -> dict[str, Any]:
        """The effective config: schema defaults <- global <- ``project``'s overrides (S3)."""
        from plugins_app.config.store import effective_config_for
        from plugins_app.models import InstalledPlugin, Project

        plugin = InstalledPlugin.objects.select_related("config").get(plugin_id=self._manifest.id)
        scope = Project.objects.get(name=project) if project else None
        return dict(effective_config_for(plugin, scope).values)

    def get_project_manager(self) -> ProjectManager:
        return ProjectManager(self._manifest.id)

    def get_event_bus(self) -> PluginEventBus:
        return PluginEventBus(self._provider.event_bus, self._manifest.id)

    def get_plugin_statuses(self) -> list[dict[str, Any]]:
        """Id, version, kind and status of every installed plugin (for Meeting, MT1)."""
        from plugins_app.models import InstalledPlugin
        from plugins_app.services.permissions import require

        require(self._manifest, "access_meeting", "read the list of installed plugins")
        rows = InstalledPlugin.objects.order_by("plugin_id")
        # values() rows are plain dicts; the stubs describe them as a TypedDict.
        return cast(
            "list[dict[str, Any]]", list(rows.values("plugin_id", "version", "kind", "status"))
        )

    def get_runner(self) -> Runner:
        """Commands in an enabled project's root; each run checks ``run_commands`` (X1)."""
        return Runner(self._manifest, self.get_project_manager().root)

    def get_history(self) -> HistoryService:
        return HistoryService(self._manifest.id, self.get_project_manager().project)

    def get_graph(self) -> GraphService:
        return GraphService(self.get_project_manager().project)

    def get_http_client(self, timeout: float = 10.0) -> HttpClient:
        """Refused (``PermissionRefused``) unless the plugin declares ``network_outbound``."""
        return HttpClient(self._manifest, timeout)


class ServiceProvider:
    """Holds the host-wide service instances shared by every plugin's ``Services``."""

    def __init__(self, event_bus: EventBus | None = None) -> None:
        self.event_bus = event_bus or EventBus()

    def for_plugin(self, manifest: Manifest) -> Services:
        return Services(self, manifest)
