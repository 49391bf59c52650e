"""Plugin health checks (SPEC L2).

Each loaded plugin with a ``health`` hook is called every ``capabilities.health.interval``
seconds, in a thread of its own, and given ``capabilities.health.timeout`` seconds to answer.
A check that raises, answers ``False`` or ``{"ok": False, "reason": ...}``, or hangs moves a
``ready`` plugin to ``error`` with the reason; the next successful check brings it back to
``ready``. A hung check is not started again while its thread still runs: the plugin stays in
``error`` ("still running") instead of piling up threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.utils import timezone

from plugins_app.kernel.processes import PluginProcessError
from plugins_app.kernel.runtime import Runtime
from plugins_app.manifest.tracebacks import summarise_exception
from plugins_app.models import PluginStatus, StatusSource
from plugins_app.registry.status import set_status

log = logging.getLogger("jupiter.health")
# Shown to people at the start of the reason; who set the error is ``status_source``.
HEALTH_PREFIX = "Health check failed: "
# The hook's own time limit is enforced in its call (the plugin's process is killed past it);
# waiting longer here leaves room for a process that has to start again first.
START_ALLOWANCE = 15.0


@dataclass(frozen=True)
class HealthResult:
    plugin_id: str
    ok: bool
    reason: str = ""


def interpret(value: Any) -> tuple[bool, str]:
    """What a health hook's answer means: ``None``/truthy is healthy, ``False`` is not, and
    a mapping says it with ``ok`` (or ``healthy``) and ``reason`` (or ``message``)."""
    if isinstance(value, Mapping):
        ok = bool(value.get("ok", value.get("healthy", True)))
        return ok, str(value.get("reason") or value.get("message") or "")
    if value is False:
        return False, "the health hook answered False"
    return True, ""


def apply(result: HealthResult) -> None:
    """Record a check's outcome in the plugin's status, leaving other errors alone.

    A failure turns only a ``ready`` plugin to error (or updates the reason of an error a
    check set); a success clears only an error a check set, never a load or trust error.
    """
    health, error = StatusSource.HEALTH, PluginStatus.ERROR
    if result.ok:
        restored = set_status(
            result.plugin_id,
            PluginStatus.READY,
            source=health,
            only_from={error},
            only_source=health,
        )
        if restored:
            log.info("plugin %s is healthy again", result.plugin_id)
        return
    reason = HEALTH_PREFIX + (result.reason or "no reason given")
    turned = set_status(
        result.plugin_id, error, reason, source=health, only_from={PluginStatus.READY}
    )
    if turned or set_status(
        result.plugin_id, error, reason, source=health, only_from={error}, only_source=health
    ):
        log.warning("plugin %s: %s", result.plugin_id, reason)


class HealthMonitor:
    def __init__(self, runtime: Runtime, clock: Callable[[], float] = time.monotonic) -> None:
        self._runtime = runtime
        self._clock = clock
        self._last: dict[str, float] = {}
        self._inflight: dict[str, threading.Thread] = {}
        self.results: dict[str, tuple[HealthResult, Any]] = {}

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> HealthMonitor:
        """The monitor of ``runtime``, shared by the scheduler and the plugin pages."""
        return runtime.component(cls, lambda: cls(runtime))

    def _checkable(self) -> dict[str, tuple[Callable[[], Any], Any]]:
        found = {}
        for registration in self._runtime.bridge.registrations():
            hook = registration.hooks.get("health")
            manifest = self._runtime.manifests.get(registration.plugin_id)
            # ``capabilities.health_check.enabled: false`` (original Jupiter): never called.
            if hook is not None and manifest is not None and manifest.capabilities.health.enabled:
                found[registration.plugin_id] = (hook, manifest)
        return found

    def tick(self) -> list[HealthResult]:
        """Check every plugin whose interval has elapsed since its last check."""
        now = self._clock()
        due = [
            pid
            for pid, (_, manifest) in self._checkable().items()
            if now - self._last.get(pid, float("-inf")) >= manifest.capabilities.health.interval
        ]
        return self.check(due)

    def check(self, plugin_ids: list[str]) -> list[HealthResult]:
        """Run these plugins' checks concurrently, each with its own timeout; apply them."""
        checkable = self._checkable()
        started: list[tuple[str, threading.Thread, dict[str, Any], float]] = []
        results: list[HealthResult] = []
        for pid in plugin_ids:
            if pid not in checkable:
                continue
            self._last[pid] = self._clock()
            hook, manifest = checkable[pid]
            previous = self._inflight.get(pid)
            if previous is not None and previous.is_alive():
                results.append(HealthResult(pid, False, "the previous check is still running"))
                continue
            outcome: dict[str, Any] = {}
            thread = threading.Thread(
                target=_call, args=(hook, manifest, outcome), name=f"jupiter-health-{pid}"
            )
            thread.daemon = True
            thread.start()
            self._inflight[pid] = thread
            started.append((pid, thread, outcome, manifest.capabilities.health.timeout))
        for pid, thread, outcome, timeout in started:
            thread.join(timeout + START_ALLOWANCE)
            if thread.is_alive():
                results.append(HealthResult(pid, False, f"no answer within {timeout:g} s"))
            else:
                self._inflight.pop(pid, None)
                results.append(HealthResult(pid, outcome["ok"], outcome["reason"]))
        for result in results:
            apply(result)
            self.results[result.plugin_id] = (result, timezone.now())
        return results


def _call(hook: Callable[[], Any], manifest: Any, outcome: dict[str, Any]) -> None:
    try:
        outcome["ok"], outcome["reason"] = interpret(hook())
    except PluginProcessError as exc:  # it hung and was killed, or its process is down
        outcome["ok"], outcome["reason"] = False, exc.reason
    except Exception as exc:
        outcome["ok"], outcome["reason"] = False, summarise_exception(exc, manifest)
    finally:
        connections.close_all()
