"""A plugin process: one plugin's code, confined, talking to the host over the protocol.

Started by the host as ``python -B -m plugins_app.sdk.child --fd N`` with a socket as fd N.
The host's first call is ``init`` with the manifest and the confinement policy: the process
restricts itself (kernel rules, resource limits, a scrubbed environment) *before* importing
any plugin code, then runs ``register`` against a Bridge whose services are calls back to
the host, where every one is checked against the manifest's permissions. It answers with
what the plugin registered; afterwards the host invokes jobs, hooks, renderers, routes and
commands by name. Nothing here imports Django: the plugin never touches the database.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import logging
import os
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from plugins_app.manifest.model import Manifest
from plugins_app.manifest.tracebacks import summarise_exception
from plugins_app.sdk import errors
from plugins_app.sdk.bridge import PluginBridge, Registration
from plugins_app.sdk.confinement import (
    Confinement,
    ConfinementReport,
    apply,
)
from plugins_app.sdk.errors import JobCancelled, PermissionRefused
from plugins_app.sdk.events import EventHandler
from plugins_app.sdk.loading import fitting_args, register_plugin, resolve
from plugins_app.sdk.progress import Progress, Throttle, reporting_to
from plugins_app.sdk.protocol import Endpoint, RemoteError, RemoteFailure, read_frame, write_frame
from plugins_app.sdk.sandbox import CommandResult, HttpClient
from plugins_app.sdk.values import Graph, PluginRequest, PluginResponse, ProjectInfo

__all__ = [
    "RemoteApi",
    "confinement_from_json",
    "confinement_to_json",
    "main",
    "public_description",
    "rebuild",
]

LOG_BATCH_SECONDS = 0.05
LOG_QUEUE_MAX = 10_000
HOST_CALL_TIMEOUT = 60.0


def public_description(api: Any) -> dict[str, Any]:
    """What another plugin's process needs to build a proxy of ``api`` (B4).

    Plain JSON data travels as it is; a mapping of callables becomes named entries, and any
    other object its public callable attributes: calling one is a call into this process.
    """
    if api is None:
        return {"kind": "none"}
    if _is_json(api):
        return {"kind": "value", "value": api}
    if isinstance(api, Mapping):
        callables = sorted(str(k) for k, v in api.items() if callable(v))
        values = {str(k): v for k, v in api.items() if not callable(v)}
        if _is_json(values):
            return {"kind": "mapping", "callables": callables, "values": values}
    names = sorted(n for n in dir(api) if not n.startswith("_") and callable(getattr(api, n)))
    return {"kind": "object", "methods": names}


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


class _HostCalls:
    """Calls from the plugin to the host, turning host-side refusals into local errors."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def __call__(self, method: str, **params: Any) -> Any:
        try:
            return self.endpoint.call(method, params, HOST_CALL_TIMEOUT)
        except RemoteError as exc:
            raise rebuild(exc) from None


def rebuild(exc: RemoteError) -> Exception:
    """The plugin-facing error the host raised, as the same class where it is one of ours."""
    cls = getattr(errors, exc.failure.type, None)
    if isinstance(cls, type) and issubclass(cls, errors.BridgeError):
        error = cls.__new__(cls)
        Exception.__init__(error, exc.failure.message)
        return error
    return exc


class RemoteProjectFiles:
    """``ProjectFiles`` through the host: it checks ``fs_read``/``fs_write`` and the root."""

    def __init__(self, host: _HostCalls, project: str) -> None:
        self._host, self._project = host, project
        self.root = Path(host("files.root", project=project))

    def path(self, relative: str | os.PathLike[str]) -> Path:
        return Path(self._host("files.path", project=self._project, path=os.fspath(relative)))

    def read_text(self, relative: str | os.PathLike[str], encoding: str = "utf-8") -> str:
        text = self._host(
            "files.read", project=self._project, path=os.fspath(relative), encoding=encoding
        )
        return str(text)

    def read_bytes(self, relative: str | os.PathLike[str]) -> bytes:
        data = self._host(
            "files.read", project=self._project, path=os.fspath(relative), binary=True
        )
        return base64.b64decode(str(data))

    def list(self, pattern: str = "**/*") -> list[str]:
        return list(self._host("files.list", project=self._project, pattern=pattern))

    def write_text(
        self, relative: str | os.PathLike[str], text: str, encoding: str = "utf-8"
    ) -> Path:
        written = self._host(
            "files.write", project=self._project, path=os.fspath(relative), text=text
        )
        return Path(written)


class RemoteRunner:
    def __init__(self, host: _HostCalls) -> None:
        self._host = host

    def run(self, project: str | Any, args: list[str], **kwargs: Any) -> CommandResult:
        name = getattr(project, "name", project)
        done = self._host("runner.run", project=name, args=list(args), options=kwargs)
        return CommandResult(
            tuple(done["args"]),
            done["returncode"],
            done["stdout"],
            done["stderr"],
            done["duration"],
            done["timed_out"],
        )


class RemoteProjectManager:
    def __init__(self, host: _HostCalls) -> None:
        self._host = host

    def list_projects(self) -> list[ProjectInfo]:
        return [ProjectInfo(p["name"], Path(p["root"])) for p in self._host("projects.list")]

    def get(self, name: str) -> ProjectInfo | None:
        return next((p for p in self.list_projects() if p.name == name), None)

    def root(self, name: str) -> Path:
        return Path(self._host("files.root", project=name))

    def files(self, name: str, manifest: Manifest | None = None) -> RemoteProjectFiles:
        return RemoteProjectFiles(self._host, name)


class RemoteEventBus:
    """The plugin's view of the host's bus: publish under ``plugin.<id>.``; subscriptions are
    delivered by the host as ``event`` calls."""

    def __init__(self, host: _HostCalls, handlers: dict[str, list[EventHandler]]) -> None:
        self._host, self._handlers = host, handlers

    def publish(self, name: str, payload: dict[str, Any] | None = None) -> int:
        return int(self._host("events.publish", name=name, payload=payload or {}))

    def subscribe(self, topic: str, handler: EventHandler) -> Callable[[], None]:
        self._handlers.setdefault(topic, []).append(handler)
        self._host("events.subscribe", topic=topic)

        def unsubscribe() -> None:
            if handler in self._handlers.get(topic, []):
                self._handlers[topic].remove(handler)

        return unsubscribe


class RemoteHistory:
    def __init__(self, host: _HostCalls) -> None:
        self._host = host

    def record(self, project: str, summary: str, data: Mapping[str, Any] | None = None) -> None:
        self._host("history.record", project=project, summary=summary, data=dict(data or {}))

    def timeline(self, project: str, limit: int = 50) -> list[dict[str, Any]]:
        return list(self._host("history.timeline", project=project, limit=limit))


class RemoteGraph:
    def __init__(self, host: _HostCalls) -> None:
        self._host = host

    def for_project(self, project: str) -> Graph | None:
        found = self._host("graph.get", project=project)
        if found is None:
            return None
        edges = tuple((str(s), str(t), bool(i)) for s, t, i in found["edges"])
        return Graph(found["project"], tuple(found["files"]), edges)


class RemoteServices:
    """``bridge.services`` in a plugin process: the host's services, over the protocol."""

    def __init__(
        self, host: _HostCalls, manifest: Manifest, logger: logging.Logger, data_dir: Path
    ) -> None:
        self._host, self._manifest, self._logger = host, manifest, logger
        self._data_dir = data_dir
        self.event_handlers: dict[str, list[EventHandler]] = {}

    def get_data_dir(self) -> Path:
        """The plugin's private folder: caches and state that survive a restart."""
        return self._data_dir

    def get_logger(self) -> logging.Logger:
        return self._logger

    def get_config(self, project: str | None = None) -> dict[str, Any]:
        return dict(self._host("config.get", project=project))

    def set_config(self, key: str, value: Any) -> None:
        """Set the global value of dotted ``key``: validated and audited by the host."""
        self._host("config.set", key=key, value=value)

    def get_project_manager(self) -> RemoteProjectManager:
        return RemoteProjectManager(self._host)

    def get_event_bus(self) -> RemoteEventBus:
        return RemoteEventBus(self._host, self.event_handlers)

    def get_plugin_statuses(self) -> list[dict[str, Any]]:
        return list(self._host("plugins.statuses"))

    def get_runner(self) -> RemoteRunner:
        return RemoteRunner(self._host)

    def get_history(self) -> RemoteHistory:
        return RemoteHistory(self._host)

    def get_graph(self) -> RemoteGraph:
        return RemoteGraph(self._host)

    def get_http_client(self, timeout: float = 10.0) -> HttpClient:
        """Granted by the host (``network_outbound``, audited when refused); the connections
        are then made from here, which the kernel allows only with that permission."""
        self._host("permissions.require", permission="network_outbound")
        return HttpClient(self._manifest, lambda *_: None, timeout)


class RemoteApi:
    """Another plugin's public API: its entries and methods are calls into its process.

    ``call(name, args, kwargs)`` carries one call; the plugin process sends it through the
    host (which checks the dependency), the host straight to the other process.
    """

    def __init__(
        self, call: Callable[[str, list[Any], dict[str, Any]], Any], description: Mapping[str, Any]
    ) -> None:
        self._remote_call = call
        self._callables = set(description.get("callables", description.get("methods", [])))
        self._values = dict(description.get("values", {}))

    def _call(self, name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            return self._remote_call(name, list(args), kwargs)

        return call

    def __getitem__(self, key: str) -> Any:
        if key in self._values:
            return self._values[key]
        if key in self._callables:
            return self._call(key)
        raise KeyError(key)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self._callables:
            raise AttributeError(name)
        return self._call(name)


class ChildHost:
    """The ``PluginHost`` of a plugin process: services and other plugins via the host."""

    def __init__(self, host: _HostCalls, services: RemoteServices) -> None:
        self._host, self._services = host, services

    def services_for(self, manifest: Manifest) -> RemoteServices:
        return self._services

    def public_api(self, plugin_id: str) -> Any:
        described = self._host("plugins.describe", target=plugin_id)
        if described is None or described.get("kind") == "none":
            return None
        if described["kind"] == "value":
            return described["value"]

        def call(name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
            return self._host("plugins.call", target=plugin_id, name=name, args=args, kwargs=kwargs)

        return RemoteApi(call, described)


class ChildJob:
    """What a job function receives as ``job`` in a plugin process (see ``jobs/api.py``)."""

    def __init__(self, host: _HostCalls, spec: Mapping[str, Any], logger: logging.Logger) -> None:
        self._host = host
        self.id = spec.get("id")
        self.plugin_id = spec.get("plugin_id", "")
        self.name = spec.get("name", "")
        self.params = dict(spec.get("params") or {})
        project = spec.get("project")
        self.project = ProjectInfo(project["name"], Path(project["root"])) if project else None
        self.log = logger
        self.cancelled = threading.Event()
        self._config: dict[str, Any] | None = None

    @property
    def config(self) -> dict[str, Any]:
        if self._config is None:
            self._config = dict(
                self._host("config.get", project=self.project.name if self.project else None)
            )
        return self._config

    def progress(self, percent: float, message: str = "") -> None:
        self._host.endpoint.notify(
            "job.progress", {"job": self.id, "percent": percent, "message": str(message)}
        )

    def is_cancelled(self) -> bool:
        return self.cancelled.is_set()

    def raise_if_cancelled(self) -> None:
        if self.is_cancelled():
            raise JobCancelled(str(self.id))

    @property
    def files(self) -> RemoteProjectFiles:
        if self.project is None:
            raise PermissionRefused(
                self.plugin_id, "fs_read", "use project files outside a project"
            )
        return RemoteProjectFiles(self._host, self.project.name)

    def run(self, args: list[str], **kwargs: Any) -> CommandResult:
        if self.project is None:
            raise PermissionRefused(
                self.plugin_id, "run_commands", "run commands outside a project"
            )
        return RemoteRunner(self._host).run(self.project.name, args, **kwargs)


class _LogForwarder(logging.Handler):
    """Ships the plugin's log records to the host in batches (the host writes the files)."""

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__()
        self._endpoint = endpoint
        self._queue: queue.Queue[tuple[int, str, str]] = queue.Queue(LOG_QUEUE_MAX)
        self._dropped = 0
        thread = threading.Thread(target=self._ship, name="jupiter-log-forwarder", daemon=True)
        thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._queue.put_nowait((record.levelno, record.name, self.format(record)))
        except queue.Full:
            self._dropped += 1

    def _ship(self) -> None:
        while True:
            time.sleep(LOG_BATCH_SECONDS)
            lines: list[tuple[int, str, str]] = []
            while not self._queue.empty() and len(lines) < 2000:
                lines.append(self._queue.get_nowait())
            dropped, self._dropped = self._dropped, 0
            if lines or dropped:
                self._endpoint.notify("log", {"lines": lines, "dropped": dropped})


class PluginProcess:
    """The plugin side: holds the registration and answers the host's calls."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.host = _HostCalls(endpoint)
        self.manifest: Manifest | None = None
        self.registration: Registration | None = None
        self.services: RemoteServices | None = None
        self.jobs: dict[str, ChildJob] = {}
        self.data_dir = Path()
        self.logger = logging.getLogger("jupiter.plugin")

    def handle(self, method: str, params: Mapping[str, Any]) -> Any:
        if method == "init":
            return self._init(params)
        if method == "shutdown":
            self._plugin_shutdown()
            threading.Timer(0.05, os._exit, args=(0,)).start()
            return True
        if method == "job.cancel":
            job = self.jobs.get(str(params.get("job")))
            if job is not None:
                job.cancelled.set()
            return True
        if method == "entrypoint.call":  # settings migrations run before register()
            assert self.manifest is not None
            manifest, name = self.manifest, str(params.get("name", ""))
            args, kwargs = list(params.get("args") or []), dict(params.get("kwargs") or {})
            return _checked(self._guard(lambda: resolve(manifest, name)(*args, **kwargs)))
        if self.registration is None or self.manifest is None:
            raise LookupError(f"{method}: the plugin is not registered yet")
        return self._invoke(method, params)

    def _init(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Register the plugin (the host sent the manifest already, in the bootstrap)."""
        manifest = self.manifest
        assert manifest is not None
        self.logger.setLevel(int(params.get("log_level") or logging.INFO))
        self.services = RemoteServices(self.host, manifest, self.logger, self.data_dir)
        bridge = PluginBridge(
            ChildHost(self.host, self.services), manifest, Registration(manifest.id)
        )
        self._guard(lambda: register_plugin(manifest, bridge))
        self.registration = bridge.registration
        return {"registration": describe(bridge.registration)}

    def _plugin_shutdown(self) -> None:
        """The plugin's own ``shutdown`` hook (original Jupiter API), when it declared one;
        a failure there is logged, and the process stops all the same."""
        hook = self.registration.hooks.get("shutdown") if self.registration else None
        if hook is not None:
            try:
                hook()
            except Exception:
                self.logger.exception("shutdown() of the plugin failed")

    def adopt(self, manifest: Manifest, data_dir: Path) -> None:
        """The plugin this process runs, known from the bootstrap, before any of its code."""
        self.manifest = manifest
        self.data_dir = data_dir
        self.logger = logging.getLogger(f"jupiter.plugin.{manifest.id}")
        forwarder = _LogForwarder(self.endpoint)
        forwarder.setFormatter(logging.Formatter("%(message)s"))
        self.logger.addHandler(forwarder)
        self.logger.propagate = False

    def _guard(self, call: Callable[[], Any]) -> Any:
        """Run plugin code; its exception travels to the host as a named failure."""
        assert self.manifest is not None
        try:
            return call()
        except JobCancelled:
            raise
        except (Exception, SystemExit) as exc:
            raise failure_of(exc, self.manifest) from exc

    def _invoke(self, method: str, params: Mapping[str, Any]) -> Any:
        registration, manifest = self.registration, self.manifest
        assert registration is not None and manifest is not None
        args, kwargs = list(params.get("args") or []), dict(params.get("kwargs") or {})
        name = str(params.get("name", ""))
        if method == "job.run":
            return self._run_job(params)
        if method == "hook":
            hook = registration.hooks[name]
            fitted = fitting_args(hook, tuple(args))
            with reporting_to(self._progress_sink(params.get("progress"))):
                return _checked(self._guard(lambda: hook(*fitted, **kwargs)))
        if method == "ui.render":
            return _checked(self._guard(lambda: registration.ui[name].render(*args)))
        if method == "api.call":
            request = PluginRequest.from_json(args[0])
            return self._guard(lambda: _api_answer(registration.api_routes[name].view(request)))
        if method == "cli.run":
            return _checked(self._guard(lambda: registration.cli_commands[name].func(*args)))
        if method == "action.run":
            return _checked(self._guard(lambda: registration.remote_actions[name].func(**kwargs)))
        if method == "public.call":
            return _checked(
                self._guard(lambda: _public_target(registration, name)(*args, **kwargs))
            )
        if method == "public.describe":
            return public_description(registration.public_api)
        if method == "event":
            assert self.services is not None
            topic, payload = str(params["topic"]), dict(params["payload"])
            for pattern, handlers in self.services.event_handlers.items():
                if pattern == topic or (pattern.endswith("*") and topic.startswith(pattern[:-1])):
                    for handler in handlers:
                        self._deliver(handler, topic, payload)
            return True
        raise LookupError(f"unknown method {method!r}")

    def _progress_sink(self, token: Any) -> Callable[[Progress], None]:
        """Where this call's ``bridge.report_progress`` goes: to the host, throttled here so
        a per-file loop does not flood the socket, when the host follows it (``token``)."""
        if not isinstance(token, str):
            return lambda progress: None
        endpoint = self.host.endpoint
        return Throttle(
            lambda progress: endpoint.notify(
                "hook.progress", {"token": token, **progress.to_json()}
            )
        )

    def _deliver(self, handler: EventHandler, topic: str, payload: dict[str, Any]) -> None:
        self._guard(lambda: handler(topic, payload))

    def _run_job(self, params: Mapping[str, Any]) -> Any:
        assert self.registration is not None
        spec = dict(params["job"]) if params.get("job") else None
        name = str(params["name"])
        job = ChildJob(self.host, spec, self.logger) if spec is not None else None
        if job is not None:
            self.jobs[str(job.id)] = job
        try:
            func = self.registration.jobs[name].func
            kwargs = dict(params.get("kwargs") or {})
            return _checked(self._guard(lambda: func(job, **kwargs)))
        except JobCancelled:
            raise RemoteError(RemoteFailure("JobCancelled", "the job stopped on request")) from None
        finally:
            if job is not None:
                self.jobs.pop(str(job.id), None)


def _public_target(registration: Registration, name: str) -> Callable[..., Any]:
    api = registration.public_api
    target = api[name] if isinstance(api, Mapping) else getattr(api, name)
    if name.startswith("_") or not callable(target):
        raise LookupError(f"{name!r} is not part of this plugin's public API")
    return target


def _checked(value: Any) -> Any:
    if not _is_json(value):
        raise RemoteError(
            RemoteFailure("TypeError", f"returned a {type(value).__name__}, which is not JSON")
        )
    return value


def _api_answer(value: Any) -> dict[str, Any]:
    """A route returns JSON data, or a ``PluginResponse`` for anything else."""
    if isinstance(value, PluginResponse):
        return {"response": value.to_json()}
    return {"json": _checked(value)}


def failure_of(exc: BaseException, manifest: Manifest) -> RemoteError:
    """A plugin exception as the host reports it: type, message, and where in the plugin."""
    summary = summarise_exception(exc, manifest)
    head = f"{type(exc).__name__}: {exc or '(no message)'}"
    where = summary[len(head) :] if summary.startswith(head) else ""
    return RemoteError(
        RemoteFailure(type(exc).__name__, str(exc) or "(no message)", where, type(exc).__module__)
    )


def describe(registration: Registration) -> dict[str, Any]:
    """The registration as data: the host builds its proxies from this."""
    return {
        "jobs": [
            {"name": j.name, "title": j.title, "description": j.description}
            for j in registration.jobs.values()
        ],
        "hooks": sorted(registration.hooks),
        "ui": [
            {"kind": u.kind, "name": u.name, "title": u.title} for u in registration.ui.values()
        ],
        "api_routes": [
            {"path": r.path, "methods": list(r.methods)} for r in registration.api_routes.values()
        ],
        "cli_commands": [
            {"name": c.name, "help": c.help} for c in registration.cli_commands.values()
        ],
        "remote_actions": [
            {
                "name": a.name,
                "description": a.description,
                "read_only": a.read_only,
                "params_schema": dict(a.params_schema),
            }
            for a in registration.remote_actions.values()
        ],
        "services": sorted(registration.services),
        "public_api": public_description(registration.public_api),
        "legacy": registration.legacy,
    }


def confinement_to_json(confinement: Confinement) -> dict[str, Any]:
    data = {f.name: getattr(confinement, f.name) for f in dataclasses.fields(confinement)}
    data["env"] = dict(confinement.env)
    return data


def confinement_from_json(data: Mapping[str, Any]) -> Confinement:
    fields = {f.name for f in dataclasses.fields(Confinement)}
    values: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in fields
    }
    return Confinement(**values)


def report_to_json(report: ConfinementReport) -> dict[str, Any]:
    data = dataclasses.asdict(report)
    data["summary"] = report.summary
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fd", type=int, required=True, help="the socket to the host")
    options = parser.parse_args(argv)
    sys.dont_write_bytecode = True
    sock = socket.socket(fileno=options.fd)
    # Confined on the main thread before any other thread exists: the kernel's rules bind
    # the calling thread and every thread it starts afterwards, so all of them.
    bootstrap = read_frame(sock)
    manifest = Manifest.from_snapshot(bootstrap.get("manifest"))
    if manifest is None:
        raise SystemExit("the host sent an unreadable manifest")
    report = apply(confinement_from_json(bootstrap["confinement"]))
    write_frame(sock, {"confinement": report_to_json(report)})
    process: PluginProcess | None = None

    def handle(method: str, params: Mapping[str, Any]) -> Any:
        assert process is not None
        return process.handle(method, params)

    endpoint = Endpoint(sock, handle)
    process = PluginProcess(endpoint)
    process.adopt(manifest, Path(bootstrap["data_dir"]))
    endpoint.start()
    endpoint.wait_closed()
    os._exit(0)


if __name__ == "__main__":
    main()
