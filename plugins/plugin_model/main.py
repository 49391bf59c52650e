"""Entrypoints of the reference plugin: one example of each part of the plugin API.

- settings: ``config_schema`` in plugin.yaml (nested ``notifications``), read as ``job.config``;
- jobs: ``greet`` (short) and ``inventory`` (progress per file, cooperative cancellation);
- logs: everything goes through ``bridge.services.get_logger()`` (the live log panel);
- debug mode: when the console turns it on, the plugin's logger is at DEBUG level, and the
  plugin then logs each file and adds debug metrics;
- health and metrics: ``health()`` and ``metrics()``, named in ``entrypoints``;
- UI: an overview panel (``register_ui`` + ``ui/overview.html``); help and changelog are in
  plugin.yaml (``description``, ``changelog``);
- an API for plugins that depend on it (``expose``) and a CLI command.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
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

    def greet_in(project: str | None = None) -> str:
        return say_hello(bridge.services.get_config(project), log)

    def greet_route(request: Any) -> dict[str, Any]:
        return {"greeting": greet_in(request.GET.get("project") or None)}

    bridge.register_job("greet", greet, title="Say hello", description="Logs the greeting.")
    bridge.register_job(
        "inventory",
        inventory,
        title="Inventory",
        description="Counts the project's files by extension, with progress; cancellable.",
    )
    bridge.register_ui("panel", "overview", overview, title="Overview")
    bridge.register_api_route("greet", greet_route, methods=("POST",))
    bridge.register_cli_command(
        "greetings", lambda args: f"{COUNTERS.greetings} greeting(s)", help="Greetings so far."
    )
    bridge.expose({"greet": greet_in, "greetings": lambda: COUNTERS.greetings})
    log.info("plugin_model registered")
