"""A plugin's registration in the host, made of calls into its process.

The process answers ``init`` with what the plugin registered, as data. From it the host
builds an ordinary ``Registration`` whose jobs, hooks, renderers, routes, commands, actions
and public API are callables that call into the process with a time limit. Everything that
used registrations before (the job engine, health, metrics, pages, the CLI, Meeting) keeps
working unchanged, without ever importing plugin code. The other direction, the plugin's
calls to ``bridge.services``, is ``HostServices``: each call is checked here, on the host,
against the manifest's permissions, and audited when refused.
"""

from __future__ import annotations

import base64
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from django.http import HttpRequest, HttpResponse

from plugins_app.config.transfer import set_setting
from plugins_app.logs.hub import log_lines, plugin_logger
from plugins_app.manifest.model import Manifest
from plugins_app.sdk import errors as sdk_errors
from plugins_app.sdk.bridge import (
    ApiRouteSpec,
    CliCommandSpec,
    JobSpec,
    Registration,
    RemoteActionSpec,
    UiContributionSpec,
)
from plugins_app.sdk.child import RemoteApi, rebuild
from plugins_app.sdk.progress import Sink, current_sink
from plugins_app.sdk.protocol import RemoteError, RemoteFailure
from plugins_app.sdk.values import PluginRequest
from plugins_app.services.grants import plugin_wide
from plugins_app.services.permissions import require
from plugins_app.services.provider import Services

__all__ = [
    "HostServices",
    "PluginCodeError",
    "Supervisor",
    "error_name",
    "error_text",
    "remote_registration",
]

log = logging.getLogger("jupiter.remote")
CANCEL_POLL = 0.2
RENDER_TIMEOUT = 10.0
API_TIMEOUT = 30.0
CLI_TIMEOUT = 300.0
ACTION_TIMEOUT = 60.0
HOOK_TIMEOUTS = {"on_config_changed": 10.0, "metrics": 2.0}
LONG_HOOK_TIMEOUT = 600.0


class Supervisor(Protocol):
    """What the proxies and the host services need of the supervisor (``supervisor.py``)."""

    def call(
        self,
        plugin_id: str,
        method: str,
        params: Mapping[str, Any],
        timeout: float | None,
        late: str,
    ) -> Any: ...

    def notify(self, plugin_id: str, method: str, params: Mapping[str, Any]) -> None: ...

    def kill(self, plugin_id: str, reason: str) -> None: ...

    def follow_job(self, job_id: str, context: Any) -> None: ...

    def unfollow_job(self, job_id: str) -> None: ...

    def job_progress(self, job_id: str, params: Mapping[str, Any]) -> None: ...

    def follow_progress(self, plugin_id: str, token: str, sink: Sink) -> None: ...

    def unfollow_progress(self, plugin_id: str, token: str) -> None: ...

    def hook_progress(self, plugin_id: str, params: Mapping[str, Any]) -> None: ...

    def subscribe(self, plugin_id: str, topic: str) -> None: ...

    def describe_for(self, requester: Manifest, target: str) -> dict[str, Any]: ...

    def call_public(
        self,
        requester: Manifest,
        target: str,
        name: str,
        args: list[Any],
        kwargs: dict[str, Any],
    ) -> Any: ...


class PluginCodeError(sdk_errors.BridgeError):
    """The plugin's own code raised in its process; ``failure`` says what and where."""

    def __init__(self, failure: RemoteFailure) -> None:
        super().__init__(f"{failure.type}: {failure.message}{failure.where}")
        self.failure = failure


def error_name(exc: BaseException) -> str:
    """The class name of what the plugin raised, whether here or in its process."""
    return exc.failure.type if isinstance(exc, PluginCodeError) else type(exc).__name__


def error_text(exc: BaseException) -> str:
    """The message of what the plugin raised, without the host's wrapping."""
    return exc.failure.message if isinstance(exc, PluginCodeError) else str(exc)


def plugin_error(exc: RemoteError) -> Exception:
    """A failure in the plugin, raised here as the named error it was (plugin-facing ones
    keep their class, so ``PluginUnavailable`` is still ``PluginUnavailable``)."""
    error = rebuild(exc)
    return PluginCodeError(exc.failure) if error is exc else error


class _Caller:
    """Calls into one plugin's process through the supervisor (which restarts it if needed)."""

    def __init__(self, supervisor: Supervisor, plugin_id: str) -> None:
        self._supervisor, self.plugin_id = supervisor, plugin_id

    def __call__(
        self, method: str, params: Mapping[str, Any], timeout: float | None, what: str
    ) -> Any:
        late = f"{what} did not return within {timeout:g} s" if timeout else what
        try:
            return self._supervisor.call(self.plugin_id, method, params, timeout, late)
        except RemoteError as exc:
            raise plugin_error(exc) from None


class JobProxy:
    """A plugin job: ``func(job, **params)`` runs in the process; cancel is relayed there,
    and ``abort`` (a job that ignored its cancellation or its time limit) kills it."""

    def __init__(self, caller: _Caller, name: str) -> None:
        self._caller, self._name = caller, name

    def __call__(self, job: Any, **params: Any) -> Any:
        if job is None:
            return self._caller("job.run", {"name": self._name, "kwargs": params}, None, "job")
        spec = {
            "id": str(job.id),
            "plugin_id": job.plugin_id,
            "name": job.name,
            "params": dict(job.params),
            "project": (
                {"name": job.project.name, "root": str(job.project.root)} if job.project else None
            ),
        }
        supervisor = self._caller._supervisor
        done = threading.Event()
        supervisor.follow_job(str(job.id), job)
        threading.Thread(
            target=self._relay_cancel, args=(job, done), name="jupiter-job-cancel", daemon=True
        ).start()
        try:
            return self._caller(
                "job.run", {"name": self._name, "job": spec, "kwargs": params}, None, "job"
            )
        finally:
            done.set()
            supervisor.unfollow_job(str(job.id))

    def _relay_cancel(self, job: Any, done: threading.Event) -> None:
        while not done.wait(CANCEL_POLL):
            if job.is_cancelled():
                self._caller._supervisor.notify(
                    self._caller.plugin_id, "job.cancel", {"job": str(job.id)}
                )
                return

    def abort(self, reason: str) -> None:
        """Stop the job for good: its process is killed (and started again on next use)."""
        self._caller._supervisor.kill(self._caller.plugin_id, reason)


def _hook(caller: _Caller, name: str, manifest: Manifest) -> Callable[..., Any]:
    if name == "health":
        timeout = manifest.capabilities.health.timeout
    else:
        timeout = HOOK_TIMEOUTS.get(name, LONG_HOOK_TIMEOUT)

    def call(*args: Any, **kwargs: Any) -> Any:
        params: dict[str, Any] = {"name": name, "args": list(args), "kwargs": kwargs}
        sink = current_sink()
        if sink is None:
            return caller("hook", params, timeout, f"{name}()")
        # The process reports under a token only this call knows, so it can move this
        # call's progress and no other's.
        token = secrets.token_urlsafe(16)
        supervisor = caller._supervisor
        supervisor.follow_progress(caller.plugin_id, token, sink)
        try:
            return caller("hook", {**params, "progress": token}, timeout, f"{name}()")
        finally:
            supervisor.unfollow_progress(caller.plugin_id, token)

    return call


# The user's credentials never reach plugin code: session, API token, CSRF token.
_PRIVATE_HEADERS = frozenset({"cookie", "authorization", "x-csrftoken"})


def _api_view(caller: _Caller, path: str) -> Callable[[HttpRequest], Any]:
    def view(request: HttpRequest) -> Any:
        user = request.user.get_username() if request.user.is_authenticated else ""
        body = request.body  # first: a form body can still be parsed after, not before
        match = request.resolver_match  # the route asked for, which a catch-all view needs
        route = str(match.kwargs.get("route", path)) if match is not None else path
        root = request.path[: -len(route)] if request.path.endswith(route) else ""
        forwarded = PluginRequest(
            method=request.method or "GET",
            path=route,
            root_path=root.rstrip("/"),
            GET={k: request.GET.get(k, "") for k in request.GET},
            POST={k: request.POST.get(k, "") for k in request.POST},
            body=body,
            headers={k: v for k, v in request.headers.items() if k.lower() not in _PRIVATE_HEADERS},
            user=user,
        )
        answer = caller(
            "api.call", {"name": path, "args": [forwarded.to_json()]}, API_TIMEOUT, "the route"
        )
        if "response" in answer:
            raw = answer["response"]
            response = HttpResponse(
                base64.b64decode(raw.get("body", "")),
                status=int(raw.get("status", 200)),
                content_type=str(raw.get("content_type", "application/octet-stream")),
            )
            for key, value in dict(raw.get("headers") or {}).items():
                response[str(key)] = str(value)
            return response
        return answer.get("json")

    return view


def remote_registration(
    supervisor: Supervisor, manifest: Manifest, description: Mapping[str, Any]
) -> Registration:
    """The host's ``Registration`` of a plugin whose process answered ``description``."""
    caller = _Caller(supervisor, manifest.id)
    registration = Registration(manifest.id, legacy=bool(description.get("legacy")))
    for job in description.get("jobs", []):
        registration.jobs[job["name"]] = JobSpec(
            job["name"], JobProxy(caller, job["name"]), job["title"], job["description"]
        )
    for name in description.get("hooks", []):
        registration.hooks[name] = _hook(caller, name, manifest)
    for item in description.get("ui", []):
        key = f"{item['kind']}:{item['name']}"

        def render(context: Mapping[str, Any], key: str = key) -> Any:
            params = {"name": key, "args": [dict(context)]}
            return caller("ui.render", params, RENDER_TIMEOUT, "the renderer")

        registration.ui[key] = UiContributionSpec(item["kind"], item["name"], render, item["title"])
    for route in description.get("api_routes", []):
        registration.api_routes[route["path"]] = ApiRouteSpec(
            route["path"], _api_view(caller, route["path"]), tuple(route["methods"])
        )
    for command in description.get("cli_commands", []):

        def run(args: list[str], name: str = command["name"]) -> Any:
            return caller("cli.run", {"name": name, "args": [list(args)]}, CLI_TIMEOUT, name)

        registration.cli_commands[command["name"]] = CliCommandSpec(
            command["name"], run, command["help"]
        )
    for action in description.get("remote_actions", []):

        def act(name: str = action["name"], **params: Any) -> Any:
            return caller("action.run", {"name": name, "kwargs": params}, ACTION_TIMEOUT, name)

        registration.remote_actions[action["name"]] = RemoteActionSpec(
            action["name"],
            act,
            action["description"],
            action["read_only"],
            action["params_schema"],
        )
    registration.services.update({name: name for name in description.get("services", [])})
    registration.public_api = _public_api(caller, description.get("public_api") or {})
    return registration


def _public_api(caller: _Caller, described: Mapping[str, Any]) -> Any:
    kind = described.get("kind")
    if kind in (None, "none"):
        return None
    if kind == "value":
        return described.get("value")

    def call(name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        params = {"name": name, "args": args, "kwargs": kwargs}
        return caller("public.call", params, LONG_HOOK_TIMEOUT, name)

    return RemoteApi(call, described)


class HostServices:
    """What a plugin process may ask of the host, each answered under its permissions."""

    def __init__(self, supervisor: Supervisor, manifest: Manifest, services: Services) -> None:
        self._supervisor = supervisor
        self._manifest = manifest
        self._services = services
        self._logger = plugin_logger(manifest.id)

    def __call__(self, method: str, params: Mapping[str, Any]) -> Any:
        try:
            return self._answer(method, params)
        except sdk_errors.BridgeError as exc:
            raise RemoteError(
                RemoteFailure(type(exc).__name__, str(exc), module=type(exc).__module__)
            ) from None

    def _files(self, project: str) -> Any:
        return self._services.get_project_manager().files(project, self._manifest)

    def _answer(self, method: str, params: Mapping[str, Any]) -> Any:
        services, manifest = self._services, self._manifest
        if method == "log":
            self._log(params)
            return None
        if method == "hook.progress":
            self._supervisor.hook_progress(manifest.id, params)
            return None
        if method == "job.progress":
            self._supervisor.job_progress(str(params.get("job")), params)
            return None
        if method == "config.get":
            return services.get_config(params.get("project"))
        if method == "config.set":  # validated and audited as `jupiter_plugins config set`
            set_setting(manifest.id, str(params["key"]), params.get("value"))
            return None
        if method == "projects.list":
            projects = services.get_project_manager().list_projects()
            return [{"name": p.name, "root": str(p.root)} for p in projects]
        if method == "files.root":
            return str(services.get_project_manager().root(str(params["project"])))
        if method == "files.path":
            return str(self._files(str(params["project"])).path(str(params["path"])))
        if method == "files.read":
            files = self._files(str(params["project"]))
            if params.get("binary"):
                return base64.b64encode(files.read_bytes(str(params["path"]))).decode("ascii")
            return files.read_text(str(params["path"]), str(params.get("encoding") or "utf-8"))
        if method == "files.list":
            return self._files(str(params["project"])).list(str(params.get("pattern") or "**/*"))
        if method == "files.write":
            files = self._files(str(params["project"]))
            return str(files.write_text(str(params["path"]), str(params["text"])))
        if method == "runner.run":
            options = dict(params.get("options") or {})
            done = services.get_runner(str(params["project"])).run(
                str(params["project"]), list(params["args"]), **options
            )
            return {
                "args": list(done.args),
                "returncode": done.returncode,
                "stdout": done.stdout,
                "stderr": done.stderr,
                "duration": done.duration,
                "timed_out": done.timed_out,
            }
        if method == "events.publish":
            bus = services.get_event_bus()
            return bus.publish(str(params["name"]), dict(params.get("payload") or {}))
        if method == "events.subscribe":
            self._supervisor.subscribe(manifest.id, str(params["topic"]))
            return True
        if method == "plugins.statuses":
            return services.get_plugin_statuses()
        if method == "plugins.describe":
            return self._supervisor.describe_for(manifest, str(params["target"]))
        if method == "plugins.call":
            return self._supervisor.call_public(
                manifest,
                str(params["target"]),
                str(params["name"]),
                list(params.get("args") or []),
                dict(params.get("kwargs") or {}),
            )
        if method == "history.record":
            services.get_history().record(
                str(params["project"]), str(params["summary"]), dict(params.get("data") or {})
            )
            return None
        if method == "history.timeline":
            items = services.get_history().timeline(str(params["project"]), int(params["limit"]))
            return [
                {"at": i.at.isoformat(), "kind": i.kind, "summary": i.summary, "data": i.data}
                for i in items
            ]
        if method == "graph.get":
            graph = services.get_graph().for_project(str(params["project"]))
            if graph is None:
                return None
            return {"project": graph.project, "files": graph.files, "edges": graph.edges}
        if method == "permissions.require":
            permission = str(params["permission"])
            require(plugin_wide(manifest), permission, f"use the '{permission}' permission")
            return True
        raise LookupError(f"no host service {method!r}")

    def _log(self, params: Mapping[str, Any]) -> None:
        lines = params.get("lines") or []
        log_lines(self._manifest.id, [(int(level), str(message)) for level, _, message in lines])
        if dropped := int(params.get("dropped") or 0):
            self._logger.warning("%d log lines dropped in the plugin process (too many)", dropped)
