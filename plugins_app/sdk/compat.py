"""The original Jupiter's plugin API (1.8), adapted inside the plugin process.

Plugins written for the original Jupiter declare ``entrypoints.init`` instead of
``register``: ``init(bridge)`` receives that host's Bridge, whose services take other
arguments (``get_logger(plugin_id)``, ``get_log_dir()``), whose hooks may be ``async`` and
take other shapes (``on_scan(scan_result, config)``, ``health() -> {"status": ...}``), and
which offers ``bridge.jobs`` and ``bridge.config.set``. ``register_original`` runs such a
plugin on this host's ``PluginBridge``: it wraps the bridge, calls ``init``, and registers
the hooks and CLI commands the manifest names, translated. ``alias_original_package`` lets
the plugin import itself as ``jupiter.plugins.<id>``. docs/compatibility.md lists what is
supported, adapted and not supported. No Django, like the rest of ``sdk``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import enum
import functools
import importlib
import importlib.abc
import importlib.machinery
import inspect
import io
import itertools
import sys
import threading
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from plugins_app.base.errors import JupiterError
from plugins_app.manifest.model import Manifest
from plugins_app.sdk.bridge import ANY_ROUTE, PluginBridge
from plugins_app.sdk.errors import PluginUnavailable
from plugins_app.sdk.values import PluginRequest, PluginResponse

__all__ = [
    "OriginalApiError",
    "OriginalBridge",
    "PluginUIConfig",
    "PluginUIType",
    "alias_original_package",
    "asgi_view",
    "health_answer",
    "register_original",
    "synchronous",
]

ORIGINAL_ROOT = "jupiter.plugins"
DOCS = "docs/compatibility.md"


class OriginalApiError(JupiterError):
    """A plugin written for the original Jupiter used what this host does not provide."""


def synchronous(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` as a plain function: a coroutine it returns is run to completion.

    Hooks run on the plugin process's own threads, none of which has a running loop, so
    ``asyncio.run`` gives each call a fresh one. ``functools.wraps`` keeps the signature,
    which the host reads to pass only the arguments the hook accepts.
    """

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        result = func(*args, **kwargs)
        if inspect.isawaitable(result):
            return asyncio.run(_awaited(result))
        return result

    return call


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def health_answer(value: Any) -> Any:
    """The original's health answers in this host's terms.

    ``{"status": "healthy" | "degraded" | "unhealthy", "message": ...}`` becomes
    ``{"ok": ..., "reason": ...}``: degraded is still ok (the reason says so), unhealthy and
    any unknown status are not. Other answers pass through unchanged.
    """
    if not isinstance(value, dict) or "status" not in value:
        return value
    status = str(value.get("status", "")).lower()
    message = str(value.get("message") or value.get("reason") or value.get("details") or "")
    ok = status in ("healthy", "ok", "degraded")
    reason = message or ("" if status == "healthy" else status)
    if status == "degraded" and message:
        reason = f"degraded: {message}"
    return {"ok": ok, "reason": reason, "status": status}


class PluginUIType(enum.StrEnum):
    """Where the original console showed a plugin: ``from jupiter.plugins import ...``."""

    NONE = "none"
    SIDEBAR = "sidebar"
    SETTINGS = "settings"
    BOTH = "both"


@dataclass(frozen=True)
class PluginUIConfig:
    """The UI description original plugins build at import time, for their own use: this
    host reads the manifest's ``ui`` section instead, so the value is only kept."""

    ui_type: PluginUIType = PluginUIType.NONE
    menu_icon: str = ""
    menu_label_key: str = ""
    menu_order: int = 100
    settings_section: str | None = None
    view_id: str | None = None


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str | None) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        if self.target is None:  # "jupiter" or "jupiter.plugins": namespaces
            module = types.ModuleType(spec.name)
            module.__path__ = []
            if spec.name == ORIGINAL_ROOT:
                vars(module).update(PluginUIConfig=PluginUIConfig, PluginUIType=PluginUIType)
            return module
        return importlib.import_module(self.target)

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class _OriginalFinder(importlib.abc.MetaPathFinder):
    """``jupiter.plugins.<id>[.x]`` -> ``jupiter_plugins.<id>[.x]`` for this plugin only."""

    def __init__(self, plugin_id: str, package: str) -> None:
        self.own = f"{ORIGINAL_ROOT}.{plugin_id}"
        self.package = package

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in ("jupiter", ORIGINAL_ROOT):
            return importlib.machinery.ModuleSpec(fullname, _AliasLoader(None), is_package=True)
        if fullname == self.own or fullname.startswith(self.own + "."):
            real = self.package + fullname[len(self.own) :]
            return importlib.machinery.ModuleSpec(fullname, _AliasLoader(real))
        return None


def alias_original_package(plugin_id: str, package: str) -> None:
    """Let the plugin import itself the original way (``jupiter.plugins.<id>.core``).

    Only its own package is aliased; another plugin's code stays out of reach.
    """
    if not any(isinstance(f, _OriginalFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _OriginalFinder(plugin_id, package))


class OriginalSettings(dict[str, Any]):
    """The effective settings, read the original's way too (``get_all()``, ``has(key)``)."""

    def get_all(self) -> dict[str, Any]:
        return dict(self)

    def has(self, key: str) -> bool:
        return key in self


class OriginalServices:
    """``bridge.services`` as the original offered it, over this host's services."""

    def __init__(self, services: Any, data_dir: Path, manifest: Manifest) -> None:
        self._services = services
        self._data_dir = data_dir
        self._manifest = manifest

    def has_permission(self, permission: Any) -> bool:
        """Whether the manifest asked for it (an enum's ``value`` or a name); the host still
        checks each use."""
        name = str(getattr(permission, "value", permission))
        return name in self._manifest.declared_permissions

    def get_logger(self, plugin_id: str | None = None) -> Any:
        return self._services.get_logger()

    def get_log_dir(self) -> Path:
        """The original's per-plugin log folder: ``logs/`` inside the plugin's data folder."""
        folder = self._data_dir / "logs"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def get_config(self, *args: Any, **kwargs: Any) -> OriginalSettings:
        """The plugin's own settings, whatever the arguments (the original took its id)."""
        return OriginalSettings(self._services.get_config(kwargs.get("project")))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._services, name)


class OriginalConfig:
    """``bridge.config``: the plugin's settings, read and written through the host's store."""

    def __init__(self, services: Any) -> None:
        self._services = services

    def get(self, key: str | None = None, default: Any = None) -> Any:
        config = dict(self._services.get_config(None))
        return config if key is None else config.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Saved by the host as ``jupiter_plugins config set`` would: the whole settings are
        validated against the schema and the change is audited; a refusal raises."""
        self._services.set_config(key, value)


class OriginalJobs:
    """``bridge.jobs``: background work inside the plugin process (submit/list/get/cancel).

    At most ``capabilities.jobs.max_concurrent`` jobs run at once; the others wait as
    ``pending`` (and a pending job cancelled never starts), as on the original host.
    """

    def __init__(self, max_concurrent: int | None = None) -> None:
        self._jobs: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_concurrent) if max_concurrent else None

    def submit(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
        job_id = f"job-{next(self._ids)}"
        record: dict[str, Any] = {"id": job_id, "status": "pending", "result": None, "error": None}

        def run() -> None:
            with self._slots or contextlib.nullcontext():
                with self._lock:
                    if record["status"] == "cancelled":
                        return
                    record["status"] = "running"
                try:
                    result = synchronous(func)(*args, **kwargs)
                except Exception as exc:
                    outcome = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
                else:
                    outcome = {"status": "completed", "result": result}
                with self._lock:
                    if record["status"] == "cancelled":
                        outcome.pop("status")
                    record.update(outcome)

        with self._lock:
            self._jobs[job_id] = record
        threading.Thread(target=run, name=f"jupiter-original-{job_id}", daemon=True).start()
        return job_id

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(record) for record in self._jobs.values()]

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._jobs.get(job_id)
            return None if record is None else dict(record)

    def cancel(self, job_id: str) -> bool:
        """Cancel a pending or running job: a running one is not interrupted (Python threads
        cannot be), but its status stays ``cancelled`` whatever it returns."""
        with self._lock:
            record = self._jobs.get(job_id)
            if record is None or record["status"] not in ("pending", "running"):
                return False
            record["status"] = "cancelled"
            return True


class OriginalPlugins:
    """``bridge.plugins``: ``has(id)`` is whether a plugin this one declared is loaded."""

    def __init__(self, plugins: Any) -> None:
        self._plugins = plugins

    def has(self, plugin_id: str) -> bool:
        try:
            self._plugins.get(plugin_id)
        except PluginUnavailable:
            return False
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._plugins, name)


class OriginalBridge:
    """What ``init(bridge)`` receives: the original Bridge's surface over a ``PluginBridge``."""

    def __init__(self, bridge: PluginBridge, data_dir: Path) -> None:
        self.native = bridge
        self.plugin_id = bridge.plugin_id
        self.manifest = bridge.manifest
        self.services = OriginalServices(bridge.services, data_dir, bridge.manifest)
        self.config = OriginalConfig(bridge.services)
        self.jobs = OriginalJobs(bridge.manifest.capabilities.jobs.max_concurrent)
        self.plugins = OriginalPlugins(bridge.plugins)

    def get_service(self, name: str) -> Any:
        return getattr(self.services, f"get_{name}", lambda: None)()

    def __getattr__(self, name: str) -> Any:
        raise OriginalApiError(
            f"bridge.{name} of the original Jupiter is not provided by this host ({DOCS})"
        )


Fit = Callable[[Callable[..., Any], tuple[Any, ...]], tuple[Any, ...]]


def _scan_hook(func: Callable[..., Any], config: Callable[[], dict[str, Any]], fit: Fit) -> Any:
    """``on_scan(report)`` / ``on_scan(scan_result, config)`` from the host's (root, files)."""

    def on_scan(root: str, files: list[str] | None = None) -> Any:
        report = {"root": root, "files": [{"path": path} for path in files or []]}
        return synchronous(func)(*fit(func, (report, config())))

    return on_scan


def _analyze_hook(func: Callable[..., Any], config: Callable[[], dict[str, Any]], fit: Fit) -> Any:
    def on_analyze(summary: dict[str, Any]) -> Any:
        return synchronous(func)(*fit(func, (summary, config())))

    return on_analyze


def _own_parser(func: Callable[..., Any]) -> argparse.ArgumentParser | None:
    """The parser the plugin's own ``build_parser(subparsers)`` gives ``func`` (the one whose
    defaults name it as ``func``), or None when its module has no such builder."""
    build = getattr(inspect.getmodule(func), "build_parser", None)
    if not callable(build):
        return None
    root = argparse.ArgumentParser(prog="jupiter", add_help=False)
    build(root.add_subparsers())
    pending = [root]
    while pending:
        parser = pending.pop()
        if parser.get_default("func") is func:
            return parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
    return None


def _command(
    parser: argparse.ArgumentParser | None, func: Callable[..., Any] | None
) -> Callable[..., Any]:
    """The original's commands take an argparse namespace and print: this host passes the
    words, parsed by the plugin's own parser when it has one (``argv`` holds them as given),
    and answers what the command printed when it returned nothing or an exit status.
    Without ``func``, the parsed ``func`` default (``set_defaults(func=...)``) runs."""

    def command(*argv: Any) -> Any:
        given = argv[0] if len(argv) == 1 and isinstance(argv[0], list) else list(argv)
        words = [str(word) for word in given]
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            try:
                namespace = parser.parse_args(words) if parser else argparse.Namespace()
            except SystemExit:
                raise OriginalApiError(printed.getvalue().strip() or "bad arguments") from None
            namespace.argv = words
            target = func or getattr(namespace, "func", None)
            if not callable(target):
                usage = parser.format_usage().strip() if parser else ""
                raise OriginalApiError(f"no command given ({usage})")
            result = synchronous(target)(namespace)
        text = printed.getvalue()
        if result is None or (isinstance(result, int) and not isinstance(result, bool)):
            if result:
                raise OriginalApiError(f"the command exited with status {result}: {text.strip()}")
            return text or None
        return result

    return command


def _contributed_commands(bridge: PluginBridge, contribute: Callable[..., Any]) -> None:
    """``entrypoints.cli``: ``contribute(subparsers)`` adds the plugin's argparse commands;
    each top-level one becomes a command of the host, dispatching on its own subcommands."""
    root = argparse.ArgumentParser(prog="jupiter", add_help=False)
    subparsers = root.add_subparsers()
    contribute(subparsers)
    helps = {action.dest: action.help or "" for action in subparsers._choices_actions}
    for name, parser in subparsers.choices.items():
        if name not in bridge.registration.cli_commands:
            bridge.register_cli_command(name, _command(parser, None), help=helps.get(name, ""))


# Response headers the host sets itself, or that a plugin may not set on Jupiter's origin.
_HOST_HEADERS = frozenset({"content-length", "content-type", "set-cookie", "transfer-encoding"})


async def _asgi_call(app: Callable[..., Any], request: PluginRequest) -> PluginResponse:
    """One HTTP exchange with an ASGI application, wholly in memory.

    The application sees the full path under ``root_path`` (ASGI's convention), so the
    redirects and links it builds point back under the plugin's prefix.
    """
    path = request.root_path + "/" + request.path.lstrip("/")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8"),
        "root_path": request.root_path,
        "query_string": urlencode(dict(request.GET)).encode("ascii"),
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1", "replace"))
            for name, value in request.headers.items()
        ],
        "client": None,
        "server": None,
    }
    pending = [{"type": "http.request", "body": request.body, "more_body": False}]
    started: dict[str, Any] = {"status": 500, "headers": []}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return pending.pop() if pending else {"type": "http.disconnect"}

    async def send(message: Mapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(status=message["status"], headers=message.get("headers") or [])
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body") or b""))

    await app(scope, receive, send)
    headers = {
        bytes(name).decode("latin-1").lower(): bytes(value).decode("latin-1")
        for name, value in started["headers"]
    }
    return PluginResponse(
        b"".join(chunks),
        int(started["status"]),
        headers.get("content-type", "application/octet-stream"),
        {name: value for name, value in headers.items() if name not in _HOST_HEADERS},
    )


def asgi_view(app: Callable[..., Any]) -> Callable[[PluginRequest], PluginResponse]:
    """An API route view answering every request with ``app`` (an ASGI application): the
    request's route (after ``/api/plugins/<id>/``) is the path the application sees."""

    def view(request: PluginRequest) -> PluginResponse:
        return asyncio.run(_asgi_call(app, request))

    return view


def _serve_router(
    manifest: Manifest, original: OriginalBridge, resolve: Callable[[Manifest, str], Any]
) -> None:
    """Serve the plugin's FastAPI routes under its own URL prefix: the router ``api.router``
    names, the routes ``api.routes`` declares one by one (each handler a FastAPI-style
    endpoint, as the original host called it), and what ``entrypoints.server``
    (``contribute(app, bridge)``) adds to the app. Raises ``OriginalApiError`` naming the
    route whose handler cannot be found.

    FastAPI is an optional extra (``jupiter[fastapi]``): without it the API stays off, which
    the manifest's warnings already say (``manifest.original.api_off_reason``).
    """
    try:
        fastapi = importlib.import_module("fastapi")
    except ImportError:
        original.services.get_logger().warning("API not served: FastAPI is not installed")
        return
    app = fastapi.FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    if manifest.api is not None and manifest.api.router:
        app.include_router(resolve(manifest, manifest.api.router))
    for route in manifest.api.routes if manifest.api is not None else ():
        try:
            handler = resolve(manifest, route.entrypoint)
        except (JupiterError, ImportError) as error:
            raise OriginalApiError(f"api.routes {route.method} {route.path}: {error}") from error
        app.add_api_route(route.path, handler, methods=[route.method], tags=list(route.tags))
    if "server" in manifest.entrypoints:
        synchronous(resolve(manifest, manifest.entrypoints["server"]))(app, original)
    methods = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    original.native.register_api_route(ANY_ROUTE, asgi_view(app), methods=methods)


def register_original(
    manifest: Manifest,
    bridge: PluginBridge,
    resolve: Callable[[Manifest, str], Any],
    fit: Fit,
    data_dir: Path,
) -> None:
    """Run an original-API plugin's ``init`` and register what the manifest names.

    ``resolve`` and ``fit`` are ``sdk.loading``'s (which imports this module): how an
    entrypoint is found, and which leading arguments a hook accepts. Raises
    ``OriginalApiError`` when ``init`` answers False (the original's "could not start"), or
    what the plugin raised.
    """
    original = OriginalBridge(bridge, data_dir)
    init = resolve(manifest, manifest.entrypoints["init"])
    if synchronous(init)(original) is False:
        raise OriginalApiError("init(bridge) returned False: the plugin could not start")
    package = resolve(manifest, "__init__")

    def config() -> dict[str, Any]:
        return original.services.get_config()

    hooks: dict[str, Callable[..., Any]] = {}
    for name in ("health", "metrics", "shutdown"):
        if name in manifest.entrypoints:
            try:
                hooks[name] = synchronous(resolve(manifest, manifest.entrypoints[name]))
            except JupiterError as error:  # the original host skipped a missing optional hook
                original.services.get_logger().warning("%s entrypoint skipped: %s", name, error)
    if "health" in hooks:
        check = hooks["health"]
        hooks["health"] = lambda: health_answer(check())
    for name, adapt in (("on_scan", _scan_hook), ("on_analyze", _analyze_hook)):
        named = manifest.entrypoints.get(name, "")
        func = resolve(manifest, named) if ":" in named else getattr(package, name, None)
        if callable(func):
            hooks[name] = adapt(func, config, fit)
    for name, hook in hooks.items():
        if name not in bridge.registration.hooks:
            bridge.register_hook(name, hook)
    for command in manifest.cli_commands:
        if command.entrypoint:
            func = resolve(manifest, command.entrypoint)
            command_func = _command(_own_parser(func), func)
            for name in (command.name, *command.aliases):
                bridge.register_cli_command(name, command_func, help=command.description)
    if "cli" in manifest.entrypoints:
        _contributed_commands(bridge, resolve(manifest, manifest.entrypoints["cli"]))
    api = manifest.api
    if (api is not None and (api.router or api.routes)) or "server" in manifest.entrypoints:
        _serve_router(manifest, original, resolve)
