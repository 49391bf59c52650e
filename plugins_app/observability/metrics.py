"""Plugin metrics, collected once per deployment and stored (SPEC U3, O1).

A plugin with ``capabilities.metrics.enabled`` provides a ``metrics`` hook returning
``{name: number}``. The worker holding the ``scheduler`` lease (``management.worker``) calls
``collect_due`` every second: each plugin whose last attempt is older than its manifest's
``interval`` is collected, all in parallel, each in its own daemon thread waited for at most
``COLLECT_TIMEOUT`` seconds, and the outcome is written to its ``MetricSample`` row. The
card, the JSON API and ``/metrics`` only read those rows: every process answers the same
and no request ever runs a plugin hook. A collector that raises or hangs is reported on the
card and as ``jupiter_plugin_metrics_up 0`` with the last good values kept, and a hung
collector is never started twice (so hung threads are bounded by the number of plugins).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from plugins_app.base import conf
from plugins_app.base.process import process_id
from plugins_app.kernel.remote import error_name, error_text
from plugins_app.kernel.runtime import get_runtime
from plugins_app.models import MetricPoint, MetricSample

COLLECT_TIMEOUT = 2.0
MAX_POINTS = 500  # per plugin: a week at the default 60 s interval would be 10,080
_NAME = re.compile(r"[^a-zA-Z0-9_]")


@dataclass(frozen=True)
class MetricsSample:
    """The last collection of one plugin; ``values`` stay those of the last success."""

    plugin_id: str
    interval: float
    values: Mapping[str, float] = field(default_factory=dict)
    collected_at: float | None = None
    attempted_at: float = 0.0
    error: str = ""
    note: str = ""

    def age(self, now: float | None = None) -> float | None:
        if self.collected_at is None:
            return None
        return max(0.0, (now or time.time()) - self.collected_at)


def metric_name(name: str) -> str:
    """A Prometheus-safe name: other characters become ``_``, never a leading digit."""
    safe = _NAME.sub("_", name) or "_"
    return f"_{safe}" if safe[0].isdigit() else safe


def numbers(result: Any) -> tuple[dict[str, float], str]:
    """The numeric values of a hook's result, and a note about what was left out."""
    if not isinstance(result, Mapping):
        return {}, f"the metrics hook returned {type(result).__name__}, not a mapping"
    values: dict[str, float] = {}
    refused = []
    for name, value in result.items():
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, int | float) and math.isfinite(value):
            values[metric_name(str(name))] = float(value)
        else:
            refused.append(str(name))
    note = f"not numbers, left out: {', '.join(sorted(refused))}" if refused else ""
    return values, note


class _Run:
    """One collection in its own thread; ``done`` is set when the hook returned or raised."""

    def __init__(self, hook: Callable[[], Any]) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.started = time.time()
        threading.Thread(
            target=self._run, args=(hook,), daemon=True, name="jupiter-metrics"
        ).start()

    def _run(self, hook: Callable[[], Any]) -> None:
        try:
            self.result = hook()
        except BaseException as exc:
            self.error = exc
        finally:
            self.done.set()


class MetricsCollector:
    """The leader's running collections; what they found goes to ``MetricSample`` rows."""

    def __init__(self, timeout: float = COLLECT_TIMEOUT) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._runs: dict[str, _Run] = {}

    def _start(self, plugin_id: str, hook: Callable[[], Any]) -> _Run:
        """A new run, or the one still running (a hung hook is never started twice)."""
        with self._lock:
            run = self._runs.get(plugin_id)
            if run is None or run.done.is_set():
                run = self._runs[plugin_id] = _Run(hook)
            return run

    def collect(
        self, hooks: Mapping[str, tuple[Callable[[], Any], float]], *, force: bool = False
    ) -> list[str]:
        """Collect the plugins of ``{plugin_id: (hook, interval)}`` whose stored attempt is
        older than their interval (all of them with ``force``), in parallel; store each
        outcome. Returns the plugin ids collected."""
        now = timezone.now()
        stored = {row.plugin_id: row for row in MetricSample.objects.filter(plugin_id__in=hooks)}
        due = [
            pid
            for pid, (_, interval) in hooks.items()
            if force
            or pid not in stored
            or (now - stored[pid].attempted_at).total_seconds() >= interval
        ]
        deadline = time.monotonic() + self.timeout
        runs = {pid: self._start(pid, hooks[pid][0]) for pid in due}
        for pid, run in runs.items():
            finished = run.done.wait(max(0.0, deadline - time.monotonic()))
            _store(pid, hooks[pid][1], run if finished else None, self.timeout, stored.get(pid))
        return due

    def forget_others(self, plugin_ids: Iterable[str]) -> int:
        """Remove the samples of plugins no longer collected (disabled, uninstalled)."""
        deleted, _ = MetricSample.objects.exclude(plugin_id__in=list(plugin_ids)).delete()
        return deleted


def _store(
    plugin_id: str,
    interval: float,
    run: _Run | None,
    timeout: float,
    previous: MetricSample | None,
) -> None:
    now = timezone.now()
    fields: dict[str, Any] = {
        "interval": interval,
        "attempted_at": now,
        "collector": process_id(),
        "values": previous.values if previous else {},
        "collected_at": previous.collected_at if previous else None,
        "note": previous.note if previous else "",
    }
    if run is None:
        fields["error"] = f"the metrics hook did not answer within {timeout:g} s"
    elif run.error is not None:
        name, text = error_name(run.error), error_text(run.error)
        fields["error"] = f"the metrics hook raised {name}: {text}"
    else:
        values, note = numbers(run.result)
        fields.update(values=values, collected_at=now, error="", note=note)
        MetricPoint.objects.create(plugin_id=plugin_id, values=values, collected_at=now)
    MetricSample.objects.update_or_create(plugin_id=plugin_id, defaults=fields)


def prune_history(now: datetime | None = None) -> int:
    """Drop history points older than the retention, then all but each plugin's newest
    ``MAX_POINTS``; returns how many were deleted. The leader runs it after collecting, so
    the table holds at most ``MAX_POINTS`` rows per plugin collected."""
    cutoff = (now or timezone.now()) - timedelta(hours=conf.get().metrics_retention_hours)
    deleted, _ = MetricPoint.objects.filter(collected_at__lt=cutoff).delete()
    crowded = (
        MetricPoint.objects.values("plugin_id")
        .annotate(n=Count("id"))
        .filter(n__gt=MAX_POINTS)
        .values_list("plugin_id", flat=True)
    )
    for plugin_id in list(crowded):
        oldest_kept = (
            MetricPoint.objects.filter(plugin_id=plugin_id)
            .order_by("-collected_at")
            .values_list("collected_at", flat=True)[MAX_POINTS - 1]
        )
        more, _ = MetricPoint.objects.filter(
            plugin_id=plugin_id, collected_at__lt=oldest_kept
        ).delete()
        deleted += more
    return deleted


def history(plugin_id: str, limit: int = MAX_POINTS) -> list[tuple[datetime, dict[str, float]]]:
    """The plugin's kept points, oldest first (the newest ``limit``)."""
    rows = MetricPoint.objects.filter(plugin_id=plugin_id).order_by("-collected_at")[:limit]
    return [(row.collected_at, dict(row.values)) for row in reversed(rows)]


def collector() -> MetricsCollector:
    """This process's collector (owned by the runtime, so a reset forgets its runs)."""
    return get_runtime().component(MetricsCollector, MetricsCollector)


def metrics_hooks(
    plugin_ids: list[str] | None = None,
) -> dict[str, tuple[Callable[[], Any], float]]:
    """Loaded plugins that enable metrics and registered a ``metrics`` hook."""
    runtime = get_runtime()
    found = {}
    for pid, manifest in runtime.manifests.items():
        if plugin_ids is not None and pid not in plugin_ids:
            continue
        registration = runtime.bridge.registration(pid)
        hook = registration.hooks.get("metrics") if registration else None
        if hook is not None and manifest.capabilities.metrics.enabled:
            found[pid] = (hook, float(manifest.capabilities.metrics.interval))
    return found


def collect_due() -> list[str]:
    """The leader's task: collect what is due, forget the samples of plugins not loaded."""
    hooks = metrics_hooks()
    done = collector().collect(hooks)
    collector().forget_others(hooks)
    if done:
        prune_history()
    return done


def _sample(row: MetricSample) -> MetricsSample:
    return MetricsSample(
        row.plugin_id,
        row.interval,
        dict(row.values),
        row.collected_at.timestamp() if row.collected_at else None,
        row.attempted_at.timestamp(),
        row.error,
        row.note,
    )


def plugin_sample(plugin_id: str) -> MetricsSample | None:
    """The plugin's stored sample, or None when nobody collects it (it is not loaded)."""
    row = MetricSample.objects.filter(plugin_id=plugin_id).first()
    return _sample(row) if row is not None else None


def stored_samples() -> list[MetricsSample]:
    return [_sample(row) for row in MetricSample.objects.all()]


def sample_payload(sample: MetricsSample | None) -> dict[str, Any]:
    if sample is None:
        return {"loaded": False, "values": {}, "error": "", "collected_at": None}
    return {
        "loaded": True,
        "interval": sample.interval,
        "values": dict(sample.values),
        "collected_at": sample.collected_at,
        "age_seconds": sample.age(),
        "error": sample.error,
        "note": sample.note,
    }


class PluginMetricsExporter(Collector):
    """Prometheus view of every plugin's sample, one gauge family per metric name."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "jupiter_plugin_metrics_up", "1 when the last collection succeeded", labels=["plugin"]
        )
        # A timestamp, not an age: the exposition is the same whichever process answers
        # and whenever (age = time() - this, in PromQL).
        collected = GaugeMetricFamily(
            "jupiter_plugin_metrics_collected_timestamp_seconds",
            "When the last successful collection ended (Unix time)",
            labels=["plugin"],
        )
        families: dict[str, GaugeMetricFamily] = {}
        for sample in stored_samples():
            up.add_metric([sample.plugin_id], 0.0 if sample.error else 1.0)
            if sample.collected_at is not None:
                collected.add_metric([sample.plugin_id], sample.collected_at)
            for name, value in sample.values.items():
                family = families.get(name)
                if family is None:
                    family = families[name] = GaugeMetricFamily(
                        f"jupiter_plugin_{name}",
                        f"{name}, as reported by plugins",
                        labels=["plugin"],
                    )
                family.add_metric([sample.plugin_id], value)
        yield up
        yield collected
        yield from families.values()


registry = CollectorRegistry(auto_describe=False)
registry.register(PluginMetricsExporter())
