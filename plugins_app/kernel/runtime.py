"""The plugin runtime of one Jupiter process: boot, load, unload, status (SPEC B1, L1, L3).

Boot order: the core Bridge and ``settings_update`` first (outside the normal cycle), then
discovery and the database sync, then every plugin enabled in at least one project, in
dependency order. Code is imported only for plugins that are valid, compatible, trusted and
enabled somewhere (SPEC M5); the others keep a ``disabled`` or ``error`` status with a reason.
In safe mode (``kernel.safe_mode``) only the core plugins load: the enabled ones are
``disabled`` with the reason "safe mode", and no plugin process runs.
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
from plugins_app.kernel.scheduler import Scheduler
from plugins_app.kernel.supervisor import Supervisor
from plugins_app.logs import debug
from plugins_app.logs.hub import close_hub
from plugins_app.manifest.model import Manifest
from plugins_app.models import PluginStatus, ProjectPlugin, StatusSource
from plugins_app.projects.signals import project_plugins_changed
from plugins_app.registry.dependencies import plan_load_order
from plugins_app.registry.discovery import discover
from plugins_app.registry.status import set_status
from plugins_app.registry.sync import sync_installed_plugins
from plugins_app.sdk.loading import unload_modules
from plugins_app.services.provider import ServiceProvider
from plugins_app.trust.policy import assess

log = logging.getLogger("jupiter.runtime")
T = TypeVar("T")
NOT_ENABLED = "Not enabled for any project"

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
        self.supervisor = Supervisor(self.bridge.service_provider)
        self.manifests: dict[str, Manifest] = {}
        self.booted = False
        self.lock = threading.RLock()
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

    def boot(self) -> None:
        """Load the core plugins, then discover, sync and load; safe to call again."""
        with self.lock:
            if not self.booted:
                self.settings_update.install()
                log.info("core plugins ready: bridge, settings_update")
                if safe_mode.active():
                    log.warning("safe mode: no plugin other than the core ones is loaded")
            self.rescan()
            self.booted = True

    def rescan(self) -> None:
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
            self.reconcile(reload=changed)

    def enabled_ids(self) -> set[str]:
        return set(
            ProjectPlugin.objects.filter(enabled=True, plugin__plugin_id__in=self.manifests)
            .values_list("plugin__plugin_id", flat=True)
            .distinct()
        )

    def reconcile(self, reload: Iterable[str] = ()) -> None:
        """Make the loaded set match the enabled set; ``reload`` forces a fresh import.

        In safe mode the wanted set is empty: everything is unloaded, and the plugins that
        would have loaded say why they did not.
        """
        with self.lock:
            safe = safe_mode.state()
            enabled = self.enabled_ids()
            wanted = set() if safe.on else enabled
            plan = plan_load_order({pid: self.manifests[pid] for pid in wanted})
            for plugin_id in set(reload):
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
            for plugin_id in plan.order:
                registration = self.bridge.registration(plugin_id)
                if registration is None:
                    self._load(self.manifests[plugin_id])
                else:
                    self._restore_ready(plugin_id, registration.legacy)

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

    def _load(self, manifest: Manifest) -> None:
        trust = assess(manifest.root, manifest.id, manifest.version)
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
            return
        set_status(manifest.id, PluginStatus.LOADING, source=StatusSource.LOAD)
        try:
            # stored settings follow config_schema.version (M6), before register() runs
            registration = self.supervisor.load(
                manifest, lambda resolve: migrate_on_load(manifest, resolve)
            )
        except PluginProcessError as exc:
            set_status(manifest.id, PluginStatus.ERROR, exc.reason, source=StatusSource.LOAD)
            log.warning("plugin %s failed to load: %s", manifest.id, exc.reason)
            return
        self.bridge.install(registration)
        set_status(
            manifest.id, PluginStatus.READY, source=StatusSource.LOAD, legacy=registration.legacy
        )
        log.info("plugin %s %s ready", manifest.id, manifest.version)

    def code_of(self, manifest: Manifest) -> Callable[[str], Callable[..., Any]]:
        """The plugin's own entrypoints, run in a plugin process (settings migrations)."""
        return self.supervisor.code_of(manifest)

    def _unload(self, plugin_id: str) -> None:
        if self.bridge.remove(plugin_id) is not None:
            log.info("plugin %s unloaded", plugin_id)
        self.supervisor.stop(plugin_id)


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


def boot() -> Runtime:
    runtime = get_runtime()
    runtime.boot()
    return runtime


def _on_project_plugins_changed(**kwargs: Any) -> None:
    """Enabling or disabling a plugin anywhere loads or unloads it in this process."""
    runtime = get_runtime()
    if runtime.booted:
        runtime.reconcile()
    else:
        runtime.boot()


project_plugins_changed.connect(_on_project_plugins_changed, dispatch_uid="runtime.reconcile")
