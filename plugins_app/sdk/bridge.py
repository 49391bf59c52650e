"""The Bridge as a plugin sees it (SPEC B1-B5): what ``register(bridge)`` receives.

A plugin never imports Jupiter internals. Its ``register(bridge)`` entrypoint receives a
``PluginBridge`` scoped to that plugin: what it registers is recorded in its ``Registration``,
the services it asks for come from the host, and other plugins' public APIs are reachable
only through declared dependencies. No Django here: the Bridge double and a plugin process
use this module as it is; the host side (``kernel.bridge``) implements ``PluginHost``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from plugins_app.manifest.model import Manifest
from plugins_app.sdk.errors import PluginUnavailable, RegistrationError
from plugins_app.sdk.progress import report_progress

__all__ = [
    "ANY_ROUTE",
    "ApiRouteSpec",
    "CliCommandSpec",
    "JobSpec",
    "PluginBridge",
    "PluginDirectory",
    "PluginHost",
    "Registration",
    "RemoteActionSpec",
    "RemoteActions",
    "UiContributionSpec",
]


# The route key of a view that answers every route of its plugin without one of its own
# (an original plugin's FastAPI router, which does its own routing).
ANY_ROUTE = "*"


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Callable[..., Any]
    title: str = ""
    description: str = ""


@dataclass(frozen=True)
class RemoteActionSpec:
    """One remote action in the standard format (SPEC B5): named, described, typed params.

    An action writes unless it says otherwise (``read_only`` is False by default), and takes
    no parameter its ``params_schema`` does not declare (none without a schema)."""

    name: str
    func: Callable[..., Any]
    description: str = ""
    read_only: bool = False
    params_schema: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CliCommandSpec:
    name: str
    func: Callable[..., Any]
    help: str = ""


@dataclass(frozen=True)
class ApiRouteSpec:
    path: str
    view: Callable[..., Any]
    methods: tuple[str, ...] = ("GET",)


@dataclass(frozen=True)
class UiContributionSpec:
    kind: str
    name: str
    render: Callable[..., Any]
    title: str = ""


@dataclass
class Registration:
    """Everything one plugin registered; dropped whole when the plugin is unloaded."""

    plugin_id: str
    services: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, JobSpec] = field(default_factory=dict)
    remote_actions: dict[str, RemoteActionSpec] = field(default_factory=dict)
    cli_commands: dict[str, CliCommandSpec] = field(default_factory=dict)
    api_routes: dict[str, ApiRouteSpec] = field(default_factory=dict)
    ui: dict[str, UiContributionSpec] = field(default_factory=dict)
    hooks: dict[str, Callable[..., Any]] = field(default_factory=dict)
    public_api: Any = None
    legacy: bool = False


def _add(table: dict[str, Any], key: str, value: Any, what: str, plugin_id: str) -> None:
    if not key or not isinstance(key, str):
        raise RegistrationError(f"{plugin_id}: {what} name must be a non-empty string")
    if key in table:
        raise RegistrationError(f"{plugin_id}: {what} '{key}' is registered twice")
    table[key] = value


def _callable(func: Any, what: str, plugin_id: str) -> Callable[..., Any]:
    if not callable(func):
        raise RegistrationError(f"{plugin_id}: {what} must be callable, got {type(func).__name__}")
    return func


class RemoteActions:
    """``bridge.remote_actions``: the one standard way to expose an action remotely."""

    def __init__(self, registration: Registration) -> None:
        self._registration = registration

    def register(
        self,
        name: str,
        func: Callable[..., Any],
        *,
        description: str = "",
        read_only: bool = False,
        params_schema: Mapping[str, Any] | None = None,
    ) -> None:
        pid = self._registration.plugin_id
        spec = RemoteActionSpec(
            name, _callable(func, "remote action", pid), description, read_only, params_schema or {}
        )
        _add(self._registration.remote_actions, name, spec, "remote action", pid)


class PluginHost(Protocol):
    """What a ``PluginBridge`` needs from its host: a plugin's services, and the public API
    another plugin exposed (``None`` when that plugin is not loaded)."""

    def services_for(self, manifest: Manifest) -> Any: ...

    def public_api(self, plugin_id: str) -> Any: ...


class PluginDirectory:
    """``bridge.plugins``: other plugins' public APIs, for declared dependencies only (B4)."""

    def __init__(self, bridge: PluginHost, manifest: Manifest) -> None:
        self._bridge = bridge
        self._manifest = manifest

    def get(self, plugin_id: str) -> Any:
        me = self._manifest.id
        declared = {d.id for d in self._manifest.dependencies} | set(self._manifest.extends)
        if plugin_id not in declared:
            raise PluginUnavailable(me, plugin_id, "it is not a declared dependency")
        api = self._bridge.public_api(plugin_id)
        if api is None:
            raise PluginUnavailable(me, plugin_id, "it is not loaded")
        return api


class PluginBridge:
    """What a plugin's ``register(bridge)`` receives: the Bridge, scoped to that plugin."""

    def __init__(self, bridge: PluginHost, manifest: Manifest, registration: Registration) -> None:
        self.plugin_id = manifest.id
        self.manifest = manifest
        self.registration = registration
        self.services: Any = bridge.services_for(manifest)
        self.plugins = PluginDirectory(bridge, manifest)
        self.remote_actions = RemoteActions(registration)

    def register_service(self, name: str, service: Any) -> None:
        _add(self.registration.services, name, service, "service", self.plugin_id)

    def register_job(
        self, name: str, func: Callable[..., Any], *, title: str = "", description: str = ""
    ) -> None:
        spec = JobSpec(name, _callable(func, "job", self.plugin_id), title or name, description)
        _add(self.registration.jobs, name, spec, "job", self.plugin_id)

    def register_cli_command(self, name: str, func: Callable[..., Any], *, help: str = "") -> None:
        spec = CliCommandSpec(name, _callable(func, "CLI command", self.plugin_id), help)
        _add(self.registration.cli_commands, name, spec, "CLI command", self.plugin_id)

    def register_api_route(
        self, path: str, view: Callable[..., Any], *, methods: tuple[str, ...] = ("GET",)
    ) -> None:
        """Routes live under ``/api/plugins/<id>/`` so a plugin can't shadow host URLs (U5)."""
        if path.startswith("/") or ".." in path.split("/"):
            raise RegistrationError(f"{self.plugin_id}: API route '{path}' must be relative")
        spec = ApiRouteSpec(path, _callable(view, "API view", self.plugin_id), tuple(methods))
        _add(self.registration.api_routes, path, spec, "API route", self.plugin_id)

    def register_ui(
        self, kind: str, name: str, render: Callable[..., Any], *, title: str = ""
    ) -> None:
        """Data for the panel or widget ``name`` declared in the manifest's ``ui`` section.

        ``render(context)`` gets a dict (``plugin``, ``project``, ``config``...) and returns
        data that the item's template, or the host's default layout, shows autoescaped.
        """
        spec = UiContributionSpec(
            kind, name, _callable(render, "UI renderer", self.plugin_id), title
        )
        _add(self.registration.ui, f"{kind}:{name}", spec, "UI contribution", self.plugin_id)

    def register_hook(self, name: str, func: Callable[..., Any]) -> None:
        """Lifecycle hooks the host calls: ``health``, ``metrics``, ``on_scan``, ``on_analyze``."""
        _add(
            self.registration.hooks,
            name,
            _callable(func, "hook", self.plugin_id),
            "hook",
            self.plugin_id,
        )

    def report_progress(self, done: int, total: int, message: str = "") -> None:
        """From inside a hook (``on_scan``, ``on_analyze``): ``done`` of ``total`` units are
        finished, so the host's job bar moves within this plugin's share. Checked
        (``0 <= done <= total``, ``ProgressError`` otherwise), rate-limited by the host, and
        ignored when the caller follows no progress; a job uses ``job.progress`` instead."""
        report_progress(done, total, message)

    def expose(self, api: Any) -> None:
        """Publish the object other plugins get from ``bridge.plugins.get(<this id>)``."""
        self.registration.public_api = api
