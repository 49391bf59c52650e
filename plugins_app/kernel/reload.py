"""Hot reload of one plugin, in developer mode only (SPEC L6).

Steps, each logged: unregister (its jobs, hooks, UI and API vanish) -> drop its whole module
subtree from ``sys.modules`` -> re-read its ``plugin.yaml`` -> re-import and run ``register``
again. State lost: module globals start afresh; jobs running during the reload finish with the
old code; plugins that depend on it keep the public API object they already fetched until
they call ``bridge.plugins.get`` again. A plugin defining Django models needs a restart.

Each server process has its own copy of the plugin, so a reload is also recorded as a
``PluginReloadRequest``: the ``ReloadWatcher`` of every other process in developer mode
performs it too, and the first to do so stores its step log for the CLI to print.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from django.db.models import Max
from django.utils import timezone

from plugins_app.base import conf
from plugins_app.base.errors import JupiterError
from plugins_app.base.process import process_id
from plugins_app.kernel.runtime import Runtime, boot
from plugins_app.manifest.load import load_manifest
from plugins_app.models import InstalledPlugin, PluginReloadRequest
from plugins_app.models.audit import Actor, stored_user
from plugins_app.sdk.bridge import Registration

log = logging.getLogger("jupiter.reload")


class ReloadRefused(JupiterError):
    """Hot reload is off (not developer mode) or the plugin cannot be reloaded."""


@dataclass(frozen=True)
class ReloadReport:
    plugin_id: str
    ok: bool
    steps: tuple[str, ...]


def _describe(registration: Registration) -> str:
    counts = {
        "jobs": len(registration.jobs),
        "hooks": len(registration.hooks),
        "UI contributions": len(registration.ui),
        "API routes": len(registration.api_routes),
    }
    return ", ".join(f"{n} {what}" for what, n in counts.items())


def reload_plugin(runtime: Runtime, plugin_id: str) -> ReloadReport:
    """Reload ``plugin_id`` in this process; ``ReloadRefused`` outside developer mode."""
    if not conf.get().developer_mode:
        raise ReloadRefused(
            "hot reload is only available in developer mode (set JUPITER_DEVELOPER_MODE=1)"
        )
    steps: list[str] = []

    def step(text: str) -> None:
        log.info("reload %s: %s", plugin_id, text)
        steps.append(text)

    with runtime.lock:
        manifest = runtime.manifests.get(plugin_id)
        if manifest is None:
            raise ReloadRefused(f"plugin '{plugin_id}' is not installed or its manifest is invalid")
        if plugin_id not in runtime.enabled_ids():
            raise ReloadRefused(f"plugin '{plugin_id}' is not enabled in any project")
        registration = runtime.bridge.remove(plugin_id)
        step(f"unregistered ({_describe(registration)})" if registration else "was not loaded")
        process = runtime.supervisor.process(plugin_id)
        pid = process.pid if process is not None else None
        runtime.supervisor.stop(plugin_id)
        step(f"stopped its process (pid {pid})" if pid else "had no process")
        fresh = load_manifest(Path(manifest.root))
        if fresh.ok and fresh.manifest is not None:
            runtime.manifests[plugin_id] = fresh.manifest
            step(f"manifest re-read (version {fresh.manifest.version})")
        else:
            problems = "; ".join(str(e) for e in fresh.errors)
            step(f"manifest is now invalid, the previous one is kept: {problems}")
        runtime.reconcile(reload={plugin_id})  # a new process now, never a remembered one
        loaded = runtime.bridge.registration(plugin_id)
        if loaded is not None:
            started = runtime.supervisor.process(plugin_id)
            pid = started.pid if started is not None else None
            step(f"re-imported and re-registered in a new process, pid {pid} ({_describe(loaded)})")
        else:
            row = InstalledPlugin.objects.filter(plugin_id=plugin_id).first()
            step(f"failed to load again: {row.status_reason if row else 'unknown plugin'}")
    return ReloadReport(plugin_id, loaded is not None, tuple(steps))


def request_reload(runtime: Runtime, plugin_id: str, *, actor: Actor = None) -> ReloadReport:
    """Reload here, and ask the other server processes to do the same."""
    report = reload_plugin(runtime, plugin_id)
    PluginReloadRequest.objects.create(
        plugin_id=plugin_id,
        origin=process_id(),
        requested_by=stored_user(actor),
        handled_at=timezone.now(),
        ok=report.ok,
        steps=list(report.steps),
    )
    return report


class ReloadWatcher:
    """Performs the reload requests other processes (or the CLI) made since it started."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._seen = PluginReloadRequest.objects.aggregate(last=Max("id"))["last"] or 0

    def tick(self) -> list[ReloadReport]:
        reports = []
        for request in PluginReloadRequest.objects.filter(id__gt=self._seen).order_by("id"):
            self._seen = request.id
            if request.origin == process_id():
                continue
            try:
                report = reload_plugin(self._runtime, request.plugin_id)
            except ReloadRefused as exc:
                report = ReloadReport(request.plugin_id, False, (str(exc),))
            PluginReloadRequest.objects.filter(pk=request.pk, handled_at=None).update(
                handled_at=timezone.now(), ok=report.ok, steps=list(report.steps)
            )
            reports.append(report)
        return reports


def reload_via_servers(plugin_id: str, wait: float) -> tuple[ReloadReport, bool]:
    """For the CLI: ask the running servers, wait up to ``wait`` seconds for one to report.

    Returns (report, served): when no server in developer mode answers in time, the plugin
    is reloaded in this process instead, which at least proves its new code imports and
    registers, and ``served`` is False.
    """
    if not conf.get().developer_mode:
        raise ReloadRefused(
            "hot reload is only available in developer mode (set JUPITER_DEVELOPER_MODE=1)"
        )
    request = PluginReloadRequest.objects.create(plugin_id=plugin_id, origin=f"cli@{process_id()}")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        request.refresh_from_db()
        if request.handled_at is not None:
            return ReloadReport(plugin_id, bool(request.ok), tuple(request.steps)), True
        time.sleep(0.2)

    report = reload_plugin(boot(), plugin_id)
    PluginReloadRequest.objects.filter(pk=request.pk, handled_at=None).update(
        handled_at=timezone.now(), ok=report.ok, steps=list(report.steps)
    )
    return report, False
