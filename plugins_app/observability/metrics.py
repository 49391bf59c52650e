"""Plugin metrics, collected lazily through the Bridge (SPEC U3, O1).

A plugin with ``capabilities.metrics.enabled`` provides a ``metrics`` hook returning
``{name: number}``. There is no scheduler here: a sample older than the manifest's
``interval`` is refreshed when someone looks (the card's poll, a ``/metrics`` scrape, the JSON
API). Each collection runs in its own daemon thread and is waited for at most
``COLLECT_TIMEOUT`` seconds; a collector that raises or hangs is reported on the card and as
``jupiter_plugin_metrics_up 0``, the page and the scrape go on, and a hung collector is never
started twice (so hung threads are bounded by the number of plugins).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CollectorRegistry, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from plugins_app.kernel.remote import error_name, error_text
from plugins_app.kernel.runtime import get_runtime

COLLECT_TIMEOUT = 2.0
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
    """This process's samples and running collections."""

    def __init__(self, timeout: float = COLLECT_TIMEOUT) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._samples: dict[str, MetricsSample] = {}
        self._runs: dict[str, _Run] = {}

    def _start(self, plugin_id: str, hook: Callable[[], Any], interval: float) -> _Run | None:
        """Start a collection if the sample is stale and none is running; return the run."""
        with self._lock:
            sample = self._samples.get(plugin_id)
            if sample is not None and time.time() - sample.attempted_at < interval:
                return None
            run = self._runs.get(plugin_id)
            if run is None or run.done.is_set():
                run = self._runs[plugin_id] = _Run(hook)
            return run

    def _finish(self, plugin_id: str, run: _Run, interval: float, deadline: float) -> None:
        finished = run.done.wait(max(0.0, deadline - time.time()))
        with self._lock:
            previous = self._samples.get(plugin_id) or MetricsSample(plugin_id, interval)
            now = time.time()
            if not finished:
                error = f"the metrics hook did not answer within {self.timeout:g} s"
                sample = MetricsSample(
                    plugin_id, interval, previous.values, previous.collected_at, now, error
                )
            elif run.error is not None:
                name, text = error_name(run.error), error_text(run.error)
                error = f"the metrics hook raised {name}: {text}"
                sample = MetricsSample(
                    plugin_id, interval, previous.values, previous.collected_at, now, error
                )
            else:
                values, note = numbers(run.result)
                sample = MetricsSample(plugin_id, interval, values, now, now, note=note)
            self._samples[plugin_id] = sample

    def collect(self, hooks: Mapping[str, tuple[Callable[[], Any], float]]) -> list[MetricsSample]:
        """Fresh-enough samples for ``{plugin_id: (hook, interval)}``, collected in parallel."""
        deadline = time.time() + self.timeout
        runs = {pid: self._start(pid, hook, interval) for pid, (hook, interval) in hooks.items()}
        for pid, run in runs.items():
            if run is not None:
                self._finish(pid, run, hooks[pid][1], deadline)
        with self._lock:
            return [self._samples[pid] for pid in hooks if pid in self._samples]


def collector() -> MetricsCollector:
    """This process's collector (owned by the runtime, so a reset forgets its samples)."""
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


def plugin_sample(plugin_id: str) -> MetricsSample | None:
    """The plugin's sample (refreshed if stale), or None when it has no live collector."""
    samples = collector().collect(metrics_hooks([plugin_id]))
    return samples[0] if samples else None


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
        age = GaugeMetricFamily(
            "jupiter_plugin_metrics_age_seconds", "Age of the sample", labels=["plugin"]
        )
        families: dict[str, GaugeMetricFamily] = {}
        for sample in collector().collect(metrics_hooks()):
            up.add_metric([sample.plugin_id], 0.0 if sample.error else 1.0)
            if (seconds := sample.age()) is not None:
                age.add_metric([sample.plugin_id], seconds)
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
        yield age
        yield from families.values()


registry = CollectorRegistry(auto_describe=False)
registry.register(PluginMetricsExporter())
