"""``bridge.services``: the core services a plugin reaches through the Bridge (SPEC B3, D3).

Plugins get services from here instead of importing Jupiter internals, which keeps them
decoupled and testable (the Bridge double in ``authoring.testing`` swaps this provider), and lets
the host check each access against the plugin's declared permissions.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

from plugins_app.base import conf
from plugins_app.config.store import effective_config_for
from plugins_app.logs.hub import plugin_logger
from plugins_app.manifest.model import Manifest
from plugins_app.models import InstalledPlugin, Project
from plugins_app.sdk.errors import ProjectUnavailable
from plugins_app.sdk.events import EventBus, PluginEventBus
from plugins_app.sdk.sandbox import HttpClient, ProjectFiles, Runner
from plugins_app.sdk.values import ProjectInfo
from plugins_app.services.grants import for_project, plugin_wide
from plugins_app.services.history import GraphService, HistoryService
from plugins_app.services.permissions import audit_refusal, checked_runner, require


def plugin_data_dir(plugin_id: str) -> Path:
    """The plugin's private folder (caches, state): the one place its process may always
    write, whatever projects it is enabled in."""
    folder = conf.get().plugin_data_dir / plugin_id
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


class ProjectManager:
    """Read access to the projects that enabled the plugin, never to the others."""

    def __init__(self, plugin_id: str) -> None:
        self._plugin_id = plugin_id

    def list_projects(self) -> list[ProjectInfo]:

        projects = Project.objects.filter(
            plugin_states__plugin__plugin_id=self._plugin_id, plugin_states__enabled=True
        )
        return [ProjectInfo(p.name, Path(p.root_path)) for p in projects]

    def get(self, name: str) -> ProjectInfo | None:
        return next((p for p in self.list_projects() if p.name == name), None)

    def project(self, name: str) -> Any:
        """The ``Project`` row, if it enabled this plugin; else ``ProjectUnavailable``."""

        row = Project.objects.filter(
            name=name, plugin_states__plugin__plugin_id=self._plugin_id, plugin_states__enabled=True
        ).first()
        if row is None:
            raise ProjectUnavailable(self._plugin_id, name)
        return row

    def root(self, name: str) -> Path:
        return Path(self.project(name).root_path)

    def files(self, name: str, manifest: Manifest) -> ProjectFiles:
        """The project's files, read and written under the permissions ``name`` granted (X1)."""
        root = self.root(name)
        return ProjectFiles(for_project(manifest, name), root, require, audit_refusal)


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

        plugin = InstalledPlugin.objects.select_related("config").get(plugin_id=self._manifest.id)
        scope = Project.objects.get(name=project) if project else None
        return dict(effective_config_for(plugin, scope).values)

    def get_data_dir(self) -> Path:
        """The plugin's private folder: caches and state that survive a restart."""
        return plugin_data_dir(self._manifest.id)

    def get_project_manager(self) -> ProjectManager:
        return ProjectManager(self._manifest.id)

    def get_event_bus(self) -> PluginEventBus:
        return PluginEventBus(self._provider.event_bus, self._manifest.id)

    def get_plugin_statuses(self) -> list[dict[str, Any]]:
        """Id, version, kind and status of every installed plugin (for Meeting, MT1)."""

        require(plugin_wide(self._manifest), "access_meeting", "read the list of installed plugins")
        rows = InstalledPlugin.objects.order_by("plugin_id")
        # values() rows are plain dicts; the stubs describe them as a TypedDict.
        return cast(
            "list[dict[str, Any]]", list(rows.values("plugin_id", "version", "kind", "status"))
        )

    def get_runner(self, project: str | None = None) -> Runner:
        """Commands in an enabled project's root; each run checks ``run_commands`` (X1), as
        granted in ``project`` when the caller names the one it will run in."""
        if project is None:
            manifest = plugin_wide(self._manifest)
        else:
            manifest = for_project(self._manifest, project)
        return checked_runner(manifest, self.get_project_manager().root, self.get_data_dir())

    def get_history(self) -> HistoryService:
        return HistoryService(self._manifest.id, self.get_project_manager().project)

    def get_graph(self) -> GraphService:
        return GraphService(self.get_project_manager().project)

    def get_http_client(self, timeout: float = 10.0) -> HttpClient:
        """Refused (``PermissionRefused``) unless the plugin declares ``network_outbound``."""
        return HttpClient(plugin_wide(self._manifest), require, timeout)


class ServiceProvider:
    """Holds the host-wide service instances shared by every plugin's ``Services``."""

    def __init__(self, event_bus: EventBus | None = None) -> None:
        self.event_bus = event_bus or EventBus()

    def for_plugin(self, manifest: Manifest) -> Services:
        return Services(self, manifest)
