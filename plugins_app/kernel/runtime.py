"""The plugin runtime of one Jupiter process: boot, load, unload, status (SPEC B1, L1, L3).

Boot order: the core Bridge and ``settings_update`` first (outside the normal cycle), then
discovery and the database sync, then every plugin enabled in at least one project, in
dependency order. Code is imported only for plugins that are valid, compatible, trusted and
enabled somewhere (SPEC M5); the others keep a ``disabled`` or ``error`` status with a reason.
In safe mode (``kernel.safe_mode``) only the core plugins load: the enabled ones are
``disabled`` with the reason "safe mode", and no plugin process runs.

Loading a plugin starts no process when its registration is remembered for its current code
(``kernel.registrations``): it is ``ready`` at once, "not started", and its process starts on
first use; a start that fails then, or a crash loop later, turns it to ``error`` with the
reason. The others start their process to register, at once, or, for the web server's boot
(``boot(background=True)``), on a few threads in the background while they show ``loading``
("starting"): the server answers before any plugin process is up (``kernel.starts``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from django.dispatch import Signal

from plugins_app.base import conf
from plugins_app.base.signals import send_logged
from plugins_app.config.migrations import migrate_on_load
from plugins_app.kernel import safe_mode
from plugins_app.kernel.bridge import Bridge
from plugins_app.kernel.core.settings_update import SettingsUpdate
from plugins_app.kernel.processes import PluginProcessError
from plugins_app.kernel.registrations import Remembered, recall, remember
from plugins_app.kernel.scheduler import Scheduler
from plugins_app.kernel.starts import BackgroundStarts
from plugins_app.kernel.supervisor import Prepare, Supervisor
from plugins_app.logs import debug
from plugins_app.logs.hub import close_hub
from plugins_app.manifest.model import Manifest
from plugins_app.models import InstalledPlugin, PluginStatus, ProjectPlugin, StatusSource
from plugins_app.projects.signals import project_plugins_changed
from plugins_app.registry.dependencies import plan_load_order
from plugins_app.registry.discovery import discover
from plugins_app.registry.status import StatusChange, set_status, set_statuses
from plugins_app.registry.sync import sync_installed_plugins
from plugins_app.sdk.bridge import Registration
from plugins_app.sdk.loading import unload_modules
from plugins_app.services.provider import ServiceProvider
from plugins_app.trust.policy import assess

log = logging.getLogger("jupiter.runtime")
T = TypeVar("T")
NOT_ENABLED = "Not enabled for any project"
NOT_STARTED = "not started: its process starts on first use"
STARTING = "starting its process"

# Sent with sender=Runtime, bus=<EventBus> when a runtime creates the bus its plugins share:
# upper layers (the notification bell) subscribe to plugins' events without the kernel
# knowing them.
event_bus_created = Signal()


class Runtime:
    """The composition root of one process: every process-wide object lives here.

    The Bridge, the loaded manifests and the scheduler are its own; layers above the kernel
    (the job executor, the health monitor, the metrics collector, the job event publisher)
    keep their single instance in ``component``, never in a module global. So ``close``
    stops everything at once, tests get a clean process with one ``reset_runtime()``, and a
    forked child builds its own runtime instead of inheriting threads that did not survive
    the fork.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.bridge = Bridge(ServiceProvider())
        self.settings_update = SettingsUpdate(self.bridge)
        send_logged(event_bus_created, Runtime, bus=self.bridge.service_provider.event_bus)
        self.scheduler = Scheduler()
        self.supervisor = Supervisor(self.bridge.service_provider, _Listener(self))
        self.manifests: dict[str, Manifest] = {}
        self.booted = False
        self.lock = threading.RLock()
        self.starts = BackgroundStarts(self._load_now, self._started_in_background, self.lock)
        self._components: dict[type, Any] = {}
        self._components_lock = threading.Lock()

    def component(self, kind: type[T], build: Callable[[], T]) -> T:
        """This process's one ``kind``, built by ``build`` on first use."""
        with self._components_lock:
            found = self._components.get(kind)
            if found is None:
                found = self._components[kind] = build()
            return cast(T, found)

    def existing(self, kind: type[T]) -> T | None:
        """The ``kind`` built so far, or None (asking never builds one)."""
        with self._components_lock:
            return cast("T | None", self._components.get(kind))

    def provide(self, instance: object) -> None:
        """Use ``instance`` as this process's ``type(instance)`` (tests swap one in)."""
        with self._components_lock:
            self._components[type(instance)] = instance

    def close(self) -> None:
        """Stop the scheduler and every component, then unload every plugin."""
        self.starts.close()
        self.scheduler.stop()
        with self._components_lock:
            components, self._components = list(self._components.values()), {}
        for component in components:
            close = getattr(component, "close", None)
            if callable(close):
                close()
        for registration in self.bridge.registrations():
            self._unload(registration.plugin_id)
        self.supervisor.close()
        unload_modules()
        self.settings_update.uninstall()

    def boot(self, background: bool = False) -> None:
        """Load the core plugins, then discover, sync and load; safe to call again.

        ``background``: plugins that must start a process to register start on threads of
        their own, and this returns before they are up (the web server's boot).
        """
        with self.lock:
            if not self.booted:
                self.settings_update.install()
                log.info("core plugins ready: bridge, settings_update")
                if safe_mode.active():
                    log.warning("safe mode: no plugin other than the core ones is loaded")
            self.rescan(background=background)
            self.booted = True

    def rescan(self, background: bool = False) -> None:
        """Re-read every plugin folder and reconcile what is loaded with what is enabled."""
        with self.lock:
            settings = conf.get()
            found = discover(settings.plugin_dirs, max_bytes=settings.manifest_max_bytes)
            report = sync_installed_plugins(found)
            for plugin_id in set(self.manifests) - set(report.loadable):
                self._unload(plugin_id)
            # A plugin whose folder now holds another version (updated by another process)
            # runs the new code at once, whichever change-feed event brought this rescan.
            changed = {
                pid
                for pid, manifest in report.loadable.items()
                if pid in self.manifests and self.manifests[pid].version != manifest.version
            }
            self.manifests = report.loadable
            debug.apply_all()
            self.reconcile(reload=changed, background=background)

    def enabled_ids(self) -> set[str]:
        return set(
            ProjectPlugin.objects.filter(enabled=True, plugin__plugin_id__in=self.manifests)
            .values_list("plugin__plugin_id", flat=True)
            .distinct()
        )

    def reconcile(self, reload: Iterable[str] = (), background: bool = False) -> None:
        """Make the loaded set match the enabled set; ``reload`` forces a fresh import
        (``background``: see ``boot``).

        In safe mode the wanted set is empty: everything is unloaded, and the plugins that
        would have loaded say why they did not.
        """
        with self.lock:
            safe = safe_mode.state()
            enabled = self.enabled_ids()
            wanted = set() if safe.on else enabled
            plan = plan_load_order({pid: self.manifests[pid] for pid in wanted})
            fresh = set(reload)
            for plugin_id in fresh:
                self._unload(plugin_id)
                self.supervisor.forget_crashes(plugin_id)
            for plugin_id in self.manifests:
                if plugin_id in plan.blocked:
                    self._unload(plugin_id)
                    set_status(
                        plugin_id,
                        PluginStatus.DISABLED,
                        plan.blocked[plugin_id],
                        source=StatusSource.DEPENDENCIES,
                    )
                elif plugin_id in enabled and plugin_id not in wanted:
                    self._unload(plugin_id)
                    set_status(
                        plugin_id,
                        PluginStatus.DISABLED,
                        safe.reason,
                        source=StatusSource.SAFE_MODE,
                    )
                elif plugin_id not in wanted:
                    self._unload(plugin_id)
                    set_status(
                        plugin_id,
                        PluginStatus.DISABLED,
                        NOT_ENABLED,
                        source=StatusSource.ENABLEMENT,
                    )
            to_load = []
            for plugin_id in plan.order:
                registration = self.bridge.registration(plugin_id)
                if registration is not None:
                    self._restore_ready(plugin_id, registration.legacy)
                elif plugin_id not in self.starts:
                    to_load.append(self.manifests[plugin_id])
            self._load_all(to_load, background, fresh)

    def _restore_ready(self, plugin_id: str, legacy: bool) -> None:
        """A loaded plugin whose row says otherwise (rows reset by a re-sync) is ready again.

        An ``error`` set by a failing health check is kept: only the next check clears it.
        """
        set_status(
            plugin_id,
            PluginStatus.READY,
            source=StatusSource.LOAD,
            only_from={PluginStatus.LOADING, PluginStatus.DISABLED},
            legacy=legacy,
        )

    def _load_all(self, manifests: list[Manifest], background: bool, fresh: set[str]) -> None:
        """Load ``manifests`` (in dependency order): adopt the remembered, start the others
        (those reloaded, in ``fresh``, start at once: they run their new code now).

        The statuses of the adopted and of those starting in the background are written
        together, in one transaction, before any background start can change them.
        """
        remembered = recall(m for m in manifests if m.id not in fresh)
        signed = set(
            InstalledPlugin.objects.filter(
                plugin_id__in=[m.id for m in manifests], signed=True
            ).values_list("plugin_id", flat=True)
        )
        changes, later, now = [], [], []
        for manifest in manifests:
            if not self._trusted(manifest, manifest.id in signed):
                continue
            known = remembered.get(manifest.id)
            if known is not None:
                if self._adopt(manifest, known):
                    changes.append(_status(manifest.id, PluginStatus.READY, NOT_STARTED))
            elif background:
                changes.append(_status(manifest.id, PluginStatus.LOADING, STARTING))
                later.append(manifest)
            else:
                now.append(manifest)
        set_statuses(changes)
        for manifest in later:
            self.starts.submit(manifest)
        for manifest in now:
            self._install(manifest, self._start(manifest))

    def _trusted(self, manifest: Manifest, was_signed: bool) -> bool:
        trust = assess(manifest.root, manifest.id, manifest.version, was_signed=was_signed)
        if trust.refusal:  # files may have changed since the last sync: verified at every load
            status = PluginStatus.ERROR if trust.tampered else PluginStatus.DISABLED
            set_status(
                manifest.id,
                status,
                trust.refusal,
                source=StatusSource.TRUST,
                trust_level=trust.level,
            )
            log.warning("plugin %s refused: %s", manifest.id, trust.refusal)
            return False
        return True

    def _prepare(self, manifest: Manifest) -> Prepare:
        """Stored settings follow config_schema.version (M6), before register() runs."""
        return lambda resolve: migrate_on_load(manifest, resolve)

    def _adopt(self, manifest: Manifest, known: Remembered) -> bool:
        try:
            registration = self.supervisor.adopt(manifest, known, self._prepare(manifest))
        except PluginProcessError as exc:
            self._load_failed(manifest.id, exc.reason)
            return False
        self.bridge.install(registration)
        log.info("plugin %s %s ready (not started)", manifest.id, manifest.version)
        return True

    def _start(self, manifest: Manifest) -> Registration | None:
        """Start the plugin's process; its registration, or None (its status says why)."""
        set_status(manifest.id, PluginStatus.LOADING, STARTING, source=StatusSource.LOAD)
        try:
            return self._load_now(manifest)
        except PluginProcessError as exc:
            self._load_failed(manifest.id, exc.reason)
            return None

    def _load_failed(self, plugin_id: str, reason: str) -> None:
        set_status(plugin_id, PluginStatus.ERROR, reason, source=StatusSource.LOAD)
        log.warning("plugin %s failed to load: %s", plugin_id, reason)

    def _install(self, manifest: Manifest, registration: Registration | None) -> None:
        if registration is None:
            return
        self.bridge.install(registration)
        set_status(
            manifest.id, PluginStatus.READY, source=StatusSource.LOAD, legacy=registration.legacy
        )
        log.info("plugin %s %s ready", manifest.id, manifest.version)

    def _load_now(self, manifest: Manifest) -> Registration:
        return self.supervisor.load(manifest, self._prepare(manifest))

    def _started_in_background(
        self, manifest: Manifest, registration: Registration | None, reason: str, wanted: bool
    ) -> None:
        """A background start ended (under ``lock``): install it, or say why it failed; one
        not wanted any more (unloaded, or the runtime closed) is stopped, unless another
        load of the plugin took its place."""
        if not wanted:
            if manifest.id not in self.starts and self.bridge.registration(manifest.id) is None:
                self.supervisor.stop(manifest.id)
        elif registration is None:
            self._load_failed(manifest.id, reason)
        else:
            self._install(manifest, registration)

    def code_of(self, manifest: Manifest) -> Callable[[str], Callable[..., Any]]:
        """The plugin's own entrypoints, run in a plugin process (settings migrations)."""
        return self.supervisor.code_of(manifest)

    def _unload(self, plugin_id: str) -> None:
        self.starts.cancel(plugin_id)
        if self.bridge.remove(plugin_id) is not None:
            log.info("plugin %s unloaded", plugin_id)
        self.supervisor.stop(plugin_id)


def _status(plugin_id: str, status: PluginStatus, reason: str) -> StatusChange:
    return StatusChange(plugin_id, status, reason, StatusSource.LOAD)


class _Listener:
    """The runtime's ear on its supervisor: statuses follow what the processes do."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def started(
        self, manifest: Manifest, remembered: Remembered, changed: Registration | None
    ) -> None:
        """Remember what it registered; a plugin already installed (adopted, or restarted
        after a crash) shows ``ready`` again, with what it registered now."""
        remember(manifest, remembered)
        bridge = self._runtime.bridge
        if bridge.registration(manifest.id) is None:
            return  # being loaded: the runtime installs it and sets its status
        if changed is not None:
            bridge.install(changed)
        set_status(
            manifest.id,
            PluginStatus.READY,
            source=StatusSource.LOAD,
            only_source=StatusSource.LOAD,
            legacy=bool(remembered.description.get("legacy")),
        )

    def failed(self, plugin_id: str, reason: str) -> None:
        set_status(
            plugin_id,
            PluginStatus.ERROR,
            reason,
            source=StatusSource.LOAD,
            only_from={PluginStatus.READY, PluginStatus.LOADING, PluginStatus.ERROR},
        )
        log.warning("plugin %s: %s", plugin_id, reason)


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def get_runtime() -> Runtime:
    """This process's runtime, built on first use (and anew in a forked child)."""
    global _runtime
    with _runtime_lock:
        if _runtime is None or _runtime.pid != os.getpid():
            _runtime = Runtime()
        return _runtime


def reset_runtime() -> None:
    """Close the runtime and forget it; the next use builds a fresh one (tests, shutdown)."""
    global _runtime
    with _runtime_lock:
        runtime, _runtime = _runtime, None
    if runtime is not None and runtime.pid == os.getpid():
        runtime.close()
    close_hub()


def boot(background: bool = False) -> Runtime:
    runtime = get_runtime()
    runtime.boot(background=background)
    return runtime


def _on_project_plugins_changed(**kwargs: Any) -> None:
    """Enabling or disabling a plugin anywhere loads or unloads it in this process."""
    runtime = get_runtime()
    if runtime.booted:
        runtime.reconcile()
    else:
        runtime.boot()


project_plugins_changed.connect(_on_project_plugins_changed, dispatch_uid="runtime.reconcile")
