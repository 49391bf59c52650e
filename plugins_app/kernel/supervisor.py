"""Which plugin processes run in this host process, and keeping them running.

The runtime asks the supervisor to load a plugin: it starts the plugin's process with the
policy its manifest earns (its folder; its projects readable with ``fs_read``, writable with
``fs_write``; TCP only with ``network_outbound``; no program execution: commands go through
the host's runner), and returns the registration the process answered. Calls go through
``call``, which starts a process again after a crash (pausing 1, 2, 4... s between tries) or
refuses once it crashed three times in a minute; a plugin's crashes are counted across its
loads too, so one that dies at every start is not started a fourth time within the minute.
Every start, stop, crash and kill is kept, and announced (``plugin_process_event``): the
receiver in ``observability.processes`` persists and audits it, for the plugin page and
safe mode. In safe mode no plugin process is started at all.

A plugin whose registration is remembered (``kernel.registrations``) is ``adopt``-ed: its
registration is built from the record and its process starts on first use, through the same
``_running`` that restarts a crashed one. The runtime hears of every start (to remember what
the process answered, and to install it if it changed) and of every failure that leaves the
plugin unusable (a start that fails, a crash loop), to keep its status truthful.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from django.dispatch import Signal

from plugins_app.base import conf
from plugins_app.base.signals import send_logged
from plugins_app.kernel import safe_mode
from plugins_app.kernel.processes import (
    CRASH_LIMIT,
    CRASH_WINDOW,
    CrashHistory,
    PluginProcess,
    PluginProcessError,
    ProcessEvent,
    ProcessLimits,
    child_environment,
)
from plugins_app.kernel.registrations import Remembered
from plugins_app.kernel.remote import HostServices, plugin_error, remote_registration
from plugins_app.logs.hub import plugin_logger
from plugins_app.manifest.model import Manifest
from plugins_app.models import ProjectPlugin
from plugins_app.sdk.bridge import Registration
from plugins_app.sdk.child import public_description
from plugins_app.sdk.confinement import Confinement
from plugins_app.sdk.errors import PluginUnavailable
from plugins_app.sdk.progress import ProgressError, Sink, parse
from plugins_app.sdk.protocol import RemoteError
from plugins_app.services.grants import granted, plugin_wide
from plugins_app.services.provider import ServiceProvider, plugin_data_dir

__all__ = ["SlotListener", "Supervisor", "confinement_for", "plugin_process_event"]

log = logging.getLogger("jupiter.supervisor")

# Sent with sender=Supervisor, event=ProcessEvent, for every start, stop, crash and kill.
plugin_process_event = Signal()


def confinement_for(manifest: Manifest, memory_mb: int) -> Confinement:
    """The kernel policy a plugin's permissions earn: its projects, the network, its own data
    folder, nothing else; in each project only what that project granted (``grants``)."""
    rows = ProjectPlugin.objects.filter(plugin__plugin_id=manifest.id, enabled=True)
    read, write = [], []
    for root, grant in rows.values_list("project__root_path", "granted_permissions"):
        permissions = set(granted(manifest.permissions, grant))
        if {"fs_read", "fs_write"} & permissions:
            read.append(Path(root))
        if "fs_write" in permissions:
            write.append(Path(root))
    return Confinement.for_plugin(
        manifest.root,
        project_roots_read=read,
        project_roots_write=[plugin_data_dir(manifest.id), *write],
        allow_network="network_outbound" in plugin_wide(manifest).permissions,
        env=child_environment(),
        memory_bytes=max(4 * memory_mb, 2048) * 1024 * 1024,
    )


Resolve = Callable[[str], Callable[..., Any]]
Prepare = Callable[[Resolve], object]


class SlotListener(Protocol):
    """What the runtime hears of its plugins' processes."""

    def started(
        self, manifest: Manifest, remembered: Remembered, changed: Registration | None
    ) -> None:
        """A process registered; ``changed`` is its registration when it differs from the
        one installed (an adopted plugin whose ``register()`` now answers otherwise)."""

    def failed(self, plugin_id: str, reason: str) -> None:
        """The plugin cannot be used: its process did not start, or crashed in a loop."""


def crash_loop_reason() -> str:
    return f"crashed {CRASH_LIMIT} times in {CRASH_WINDOW:g} s; not restarted"


@dataclass
class _Slot:
    manifest: Manifest
    process: PluginProcess | None
    crashes: CrashHistory
    stopped: bool = False
    next_start: float = 0.0
    prepare: Prepare | None = None
    known: Mapping[str, Any] | None = None  # the description its registration was built from
    lock: threading.RLock = field(default_factory=threading.RLock)


def _entrypoints(process_of: Callable[[], PluginProcess]) -> Resolve:
    """``resolve(entrypoint)`` -> a callable that runs that entrypoint in the process."""

    def resolve(entrypoint: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            params = {"name": entrypoint, "args": list(args), "kwargs": kwargs}
            try:
                return process_of().call("entrypoint.call", params, 60.0, entrypoint)
            except RemoteError as exc:
                raise plugin_error(exc) from None

        return call

    return resolve


class Supervisor:
    """The plugin processes of one host process (owned by its runtime)."""

    def __init__(
        self, service_provider: ServiceProvider, listener: SlotListener | None = None
    ) -> None:
        self._provider = service_provider
        self._listener = listener
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.RLock()
        self._jobs: dict[str, Any] = {}
        self._progress: dict[tuple[str, str], Sink] = {}
        self._subscriptions: dict[str, set[str]] = {}
        self._on_bus: set[tuple[str, str]] = set()
        self._crashes: dict[str, CrashHistory] = {}
        self.events: list[ProcessEvent] = []

    # -- lifecycle -------------------------------------------------------------------

    def load(self, manifest: Manifest, prepare: Prepare | None = None) -> Registration:
        """Start ``manifest``'s process and return its registration; ``PluginProcessError``
        (with the reason people see) when it does not come up.

        ``prepare(resolve)`` runs once the process is confined and before ``register()``:
        settings migrations, which are plugin code too, run there.
        """
        slot = self._new_slot(manifest, prepare)
        with slot.lock:
            return self._start(slot)

    def adopt(
        self, manifest: Manifest, remembered: Remembered, prepare: Prepare | None = None
    ) -> Registration:
        """The registration ``remembered`` describes, without starting the process: it
        starts on first use (``prepare`` runs then, as in ``load``)."""
        slot = self._new_slot(manifest, prepare)
        slot.known = remembered.description
        for topic in remembered.topics:
            self.subscribe(manifest.id, topic)
        return remote_registration(self, manifest, remembered.description)

    def _new_slot(self, manifest: Manifest, prepare: Prepare | None) -> _Slot:
        self.stop(manifest.id)
        crashes = self._crashes_of(manifest.id)
        if crashes.looping():
            raise PluginProcessError(manifest.id, crash_loop_reason())
        slot = _Slot(manifest, None, crashes, prepare=prepare)
        with self._lock:
            self._slots[manifest.id] = slot
        return slot

    def _crashes_of(self, plugin_id: str) -> CrashHistory:
        with self._lock:
            return self._crashes.setdefault(plugin_id, CrashHistory())

    def forget_crashes(self, plugin_id: str) -> None:
        """A fresh start for a plugin reloaded or updated on purpose."""
        with self._lock:
            self._crashes.pop(plugin_id, None)

    def code_of(self, manifest: Manifest) -> Resolve:
        """Entrypoints of ``manifest``'s code, loaded here or not (settings migrations).

        A plugin that has no process here (disabled, or this is the command line) gets one
        for each call, confined like any other, and stopped after it.
        """

        def resolve(entrypoint: str) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                if manifest.id in self._slots:
                    return self.resolver(manifest.id)(entrypoint)(*args, **kwargs)
                scratch = Supervisor(self._provider)
                slot = _Slot(manifest, None, CrashHistory())
                scratch._slots[manifest.id] = slot
                scratch._spawn(slot).start()
                try:
                    return _entrypoints(lambda: scratch._running(manifest.id))(entrypoint)(
                        *args, **kwargs
                    )
                finally:
                    scratch.close()

            return call

        return resolve

    def resolver(self, plugin_id: str) -> Resolve:
        """Entrypoints of the plugin's own code, run in its process (settings migrations)."""
        return _entrypoints(lambda: self._running(plugin_id))

    def _spawn(self, slot: _Slot) -> PluginProcess:
        """A new process for the slot's plugin (not started yet); refused in safe mode."""
        manifest = slot.manifest
        if (safe := safe_mode.state()).on:
            raise PluginProcessError(manifest.id, safe.reason)
        settings = conf.get()
        limits = ProcessLimits(
            register_timeout=settings.plugin_register_timeout, memory_mb=settings.plugin_memory_mb
        )
        slot.process = PluginProcess(
            manifest,
            HostServices(self, manifest, self._provider.for_plugin(manifest)),
            confinement_for(manifest, limits.memory_mb),
            limits,
            self._record,
            plugin_logger(manifest.id).info,
            plugin_data_dir(manifest.id),
        )
        return slot.process

    def _start(self, slot: _Slot) -> Registration:
        manifest = slot.manifest
        process = self._spawn(slot)
        try:
            process.start()
            if slot.prepare is not None:
                slot.prepare(_entrypoints(lambda: process))
            description = process.register(plugin_logger(manifest.id).getEffectiveLevel())
        except RemoteError as exc:
            process.stop()
            raise PluginProcessError(manifest.id, str(plugin_error(exc))) from None
        slot.crashes.reset()
        answered = description["registration"]
        registration = remote_registration(self, manifest, answered)
        changed = slot.known is not None and slot.known != answered
        slot.known = answered
        if self._listener is not None:
            topics = tuple(self._subscriptions.get(manifest.id, ()))
            self._listener.started(
                manifest, Remembered(answered, topics), registration if changed else None
            )
        return registration

    def stop(self, plugin_id: str) -> None:
        with self._lock:
            slot = self._slots.pop(plugin_id, None)
        if slot is not None and slot.process is not None:
            slot.stopped = True
            slot.process.stop()
        self._subscriptions.pop(plugin_id, None)

    def stop_all(self) -> None:
        for plugin_id in list(self._slots):
            self.stop(plugin_id)

    def kill(self, plugin_id: str, reason: str) -> None:
        slot = self._slots.get(plugin_id)
        if slot is not None and slot.process is not None:
            slot.process.kill(reason)

    def process(self, plugin_id: str) -> PluginProcess | None:
        slot = self._slots.get(plugin_id)
        return slot.process if slot is not None else None

    def _record(self, event: ProcessEvent) -> None:
        self.events.append(event)
        if event.kind in {"crashed", "killed"}:
            slot = self._slots.get(event.plugin_id)
            if slot is not None and not slot.stopped:
                slot.crashes.record()
                slot.next_start = time.monotonic() + slot.crashes.backoff()
                if slot.crashes.looping():
                    self._failed(event.plugin_id, crash_loop_reason())
        send_logged(plugin_process_event, Supervisor, event=event)

    def _failed(self, plugin_id: str, reason: str) -> None:
        if self._listener is not None:
            self._listener.failed(plugin_id, reason)

    # -- calls -----------------------------------------------------------------------

    def _running(self, plugin_id: str) -> PluginProcess:
        """The plugin's live process, started again after a crash when it may be.

        Only the plugin's own slot is locked while it starts: a plugin whose ``register``
        asks for another plugin's API must not wait on a lock its own start holds.
        """
        slot = self._slots.get(plugin_id)
        if slot is None:
            raise PluginProcessError(plugin_id, "it is not loaded")
        with slot.lock:
            process = slot.process
            if process is not None and process.alive:
                return process
            if slot.crashes.looping():
                raise PluginProcessError(plugin_id, crash_loop_reason())
            wait = slot.next_start - time.monotonic()
            if wait > 0:
                last = process.exit_reason if process is not None else "it stopped"
                raise PluginProcessError(plugin_id, f"{last}; restarting in {wait:.0f} s")
            try:
                self._start(slot)
            except PluginProcessError as exc:
                self._failed(plugin_id, exc.reason)
                raise
            assert slot.process is not None
            return slot.process

    def call(
        self,
        plugin_id: str,
        method: str,
        params: Mapping[str, Any],
        timeout: float | None,
        late: str,
    ) -> Any:
        return self._running(plugin_id).call(method, params, timeout, late)

    def notify(self, plugin_id: str, method: str, params: Mapping[str, Any]) -> None:
        process = self.process(plugin_id)
        if process is not None and process.alive:
            process.notify(method, params)

    def _deliver(self, plugin_id: str, params: Mapping[str, Any]) -> None:
        """A bus event for the plugin; one not running yet (or since a crash) is started
        first, on a thread of its own: the publisher does not wait for a process start."""
        process = self.process(plugin_id)
        if process is not None and process.alive:
            process.notify("event", params)
            return

        def start_then_notify() -> None:
            try:
                self._running(plugin_id).notify("event", params)
            except PluginProcessError as exc:
                log.warning("event %s not delivered: %s", params.get("topic"), exc)

        threading.Thread(target=start_then_notify, name="jupiter-plugin-event", daemon=True).start()

    # -- jobs, events, other plugins -------------------------------------------------

    def follow_job(self, job_id: str, context: Any) -> None:
        self._jobs[job_id] = context

    def unfollow_job(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)

    def job_progress(self, job_id: str, params: Mapping[str, Any]) -> None:
        context = self._jobs.get(job_id)
        if context is not None:
            context.progress(float(params.get("percent") or 0), str(params.get("message") or ""))

    def follow_progress(self, plugin_id: str, token: str, sink: Sink) -> None:
        """``plugin_id``'s reports under ``token`` (one hook call's) go to ``sink``."""
        self._progress[(plugin_id, token)] = sink

    def unfollow_progress(self, plugin_id: str, token: str) -> None:
        self._progress.pop((plugin_id, token), None)

    def hook_progress(self, plugin_id: str, params: Mapping[str, Any]) -> None:
        """A hook's report from its process: checked again here (the process is not
        trusted), and dropped when no call of that plugin follows its token."""
        sink = self._progress.get((plugin_id, str(params.get("token"))))
        if sink is None:
            return
        try:
            progress = parse(params)
        except ProgressError as exc:
            plugin_logger(plugin_id).warning("progress report ignored: %s", exc)
            return
        sink(progress)

    def subscribe(self, plugin_id: str, topic: str) -> None:
        """Deliver host bus events matching ``topic`` to the plugin's process."""
        self._subscriptions.setdefault(plugin_id, set()).add(topic)
        with self._lock:
            if (plugin_id, topic) in self._on_bus:
                return  # subscribed by an earlier load: it delivers while the topic is wanted
            self._on_bus.add((plugin_id, topic))

        def deliver(name: str, payload: dict[str, Any]) -> None:
            if topic in self._subscriptions.get(plugin_id, ()):
                self._deliver(plugin_id, {"topic": name, "payload": payload})

        self._provider.event_bus.subscribe(topic, deliver)

    def _declared(self, requester: Manifest, target: str) -> None:
        declared = {d.id for d in requester.dependencies} | set(requester.extends)
        if target not in declared:
            raise PluginUnavailable(requester.id, target, "it is not a declared dependency")
        if target not in self._slots:
            raise PluginUnavailable(requester.id, target, "it is not loaded")

    def describe_for(self, requester: Manifest, target: str) -> dict[str, Any]:
        """What ``bridge.plugins.get(target)`` gives ``requester`` (B4: declared only)."""
        self._declared(requester, target)
        process = self._running(target)
        described = process.description.get("registration", {}).get("public_api")
        return dict(described or public_description(None))

    def call_public(
        self,
        requester: Manifest,
        target: str,
        name: str,
        args: list[Any],
        kwargs: dict[str, Any],
    ) -> Any:
        self._declared(requester, target)
        params = {"name": name, "args": args, "kwargs": kwargs}
        return self.call(target, "public.call", params, None, f"{target}.{name}()")

    def close(self) -> None:
        """The runtime's close: every plugin process stops."""
        self.stop_all()
