"""Entrypoints of the reference plugin: one example of each part of the plugin API.

- settings: ``config_schema`` in plugin.yaml (nested ``notifications``), read as ``job.config``;
- jobs: ``greet`` (short) and ``inventory`` (progress per file, cooperative cancellation);
- logs: everything goes through ``bridge.services.get_logger()`` (the live log panel);
- debug mode: when the console turns it on, the plugin's logger is at DEBUG level, and the
  plugin then logs each file and adds debug metrics;
- health and metrics: ``health()`` and ``metrics()``, named in ``entrypoints``;
- UI: an overview panel (``register_ui`` + ``ui/overview.html``) and a live chart
  (``assets/live.js``, a JavaScript module in the panel's sandboxed frame) fed through
  ``window.jupiterBridge``: it reads the ``samples`` route, receives the ``sample`` events
  the sampler publishes while someone watches, and calls ``greet``; help and changelog are
  in plugin.yaml (``description``, ``changelog``);
- an API for plugins that depend on it (``expose``) and a CLI command.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from pathlib import PurePosixPath
from typing import Any

LOG = logging.getLogger("jupiter.plugin.plugin_model")


class Counters:
    """Thread-safe counters reported as metrics; reset when the plugin is reloaded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.greetings = 0
        self.inventories = 0
        self.files_seen = 0
        self.last_inventory_seconds = 0.0

    def greet(self) -> int:
        with self._lock:
            self.greetings += 1
            return self.greetings

    def inventory(self, files: int, seconds: float) -> None:
        with self._lock:
            self.inventories += 1
            self.files_seen += files
            self.last_inventory_seconds = seconds


COUNTERS = Counters()


class Sampler:
    """Samples the counters once a second and publishes each sample as the ``sample`` event
    (``plugin.plugin_model.sample``), for the live chart. It runs only while someone watches:
    every ``samples`` call keeps it going for ``WATCH_SECONDS`` more."""

    INTERVAL = 1.0
    WATCH_SECONDS = 300
    KEEP = 120

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._history: deque[dict[str, float]] = deque(maxlen=self.KEEP)
        self._until = 0.0
        self._thread: threading.Thread | None = None
        self._publish: Any = None

    def sample(self) -> dict[str, float]:
        return {
            "t": round(time.time(), 3),
            "greetings": float(COUNTERS.greetings),
            "inventories": float(COUNTERS.inventories),
            "files_seen": float(COUNTERS.files_seen),
        }

    def record(self) -> dict[str, float]:
        """Take a sample now, keep it, and publish it."""
        point = self.sample()
        with self._lock:
            self._history.append(point)
            publish = self._publish
        if publish is not None:
            try:
                publish("sample", point)
            except Exception:  # the host went away: the next watcher starts again
                LOG.debug("sample not published", exc_info=True)
        return point

    def watch(self, publish: Any) -> list[dict[str, float]]:
        """Keep sampling for a while (starting if needed); the samples kept so far."""
        with self._lock:
            self._publish = publish
            self._until = time.monotonic() + self.WATCH_SECONDS
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="plugin_model-sampler", daemon=True
                )
                self._thread.start()
            return list(self._history)

    def _run(self) -> None:
        while True:
            with self._lock:
                if time.monotonic() > self._until:
                    self._thread = None
                    return
            self.record()
            time.sleep(self.INTERVAL)


SAMPLER = Sampler()


def debug_mode() -> bool:
    """True when the console's debug mode set this plugin's logger to DEBUG."""
    return LOG.isEnabledFor(logging.DEBUG)


def health() -> dict[str, Any]:
    return {"ok": True, "greetings": COUNTERS.greetings}


def metrics() -> dict[str, float]:
    values = {
        "greetings_total": float(COUNTERS.greetings),
        "inventories_total": float(COUNTERS.inventories),
        "files_seen_total": float(COUNTERS.files_seen),
    }
    if debug_mode():
        values["debug_last_inventory_seconds"] = COUNTERS.last_inventory_seconds
    return values


def say_hello(config: dict[str, Any], log: logging.Logger) -> str:
    """Log the configured greeting and count it; shared by the job and the API route."""
    greeting = config["greeting"]
    log.info("%s (#%d)", greeting, COUNTERS.greet())
    return greeting


def greet(job: Any) -> str:
    """A job: logs the greeting configured for the job's project and returns it."""
    job.progress(50, "greeting")
    return say_hello(job.config, job.log)


def inventory(job: Any, pattern: str = "**/*") -> dict[str, Any]:
    """A job: files by extension, progress per file; a cancel stops it between two files
    (``raise_if_cancelled`` ends the job as ``cancelled``)."""
    started = time.monotonic()
    paths = job.files.list(pattern)
    counts: Counter[str] = Counter()
    for n, path in enumerate(paths, 1):
        job.raise_if_cancelled()
        counts[PurePosixPath(path).suffix or "(none)"] += 1
        job.log.debug("file %d/%d: %s", n, len(paths), path)
        job.progress(100 * n / len(paths), path)
    COUNTERS.inventory(len(paths), time.monotonic() - started)
    if job.config["notifications"]["enabled"]:
        job.log.info("inventory of %s: %d files", job.project.name, len(paths))
    return {"files": len(paths), "by_extension": dict(counts.most_common())}


def overview(context: dict[str, Any]) -> dict[str, Any]:
    """Data for the overview panel (``ui/overview.html``); ``context`` has the project."""
    return {
        "greetings": COUNTERS.greetings,
        "inventories": COUNTERS.inventories,
        "debug_mode": debug_mode(),
    }


def register(bridge: Any) -> None:
    log = bridge.services.get_logger()
    events = bridge.services.get_event_bus()

    def greet_in(project: str | None = None) -> str:
        greeting = say_hello(bridge.services.get_config(project), log)
        events.publish("greeted", {"greetings": COUNTERS.greetings})
        return greeting

    def greet_route(request: Any) -> dict[str, Any]:
        greeting = greet_in(request.GET.get("project") or None)
        SAMPLER.record()  # the chart moves at once, not at the next tick
        return {"greeting": greeting, "greetings": COUNTERS.greetings}

    def samples_route(request: Any) -> dict[str, Any]:
        """What the live chart starts from; calling it keeps the sampler running."""
        history = SAMPLER.watch(events.publish)
        return {"interval": Sampler.INTERVAL, "samples": history or [SAMPLER.sample()]}

    bridge.register_job("greet", greet, title="Say hello", description="Logs the greeting.")
    bridge.register_job(
        "inventory",
        inventory,
        title="Inventory",
        description="Counts the project's files by extension, with progress; cancellable.",
    )
    bridge.register_ui("panel", "overview", overview, title="Overview")
    bridge.register_api_route("greet", greet_route, methods=("POST",))
    bridge.register_api_route("samples", samples_route, methods=("GET",))
    bridge.register_cli_command(
        "greetings", lambda args: f"{COUNTERS.greetings} greeting(s)", help="Greetings so far."
    )
    bridge.expose({"greet": greet_in, "greetings": lambda: COUNTERS.greetings})
    log.info("plugin_model registered")
