"""Entrypoints of the reference plugin."""

from __future__ import annotations

import threading
from typing import Any


class Counters:
    """Thread-safe counters reported as metrics; reset when the plugin is reloaded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.greetings = 0

    def greet(self) -> int:
        with self._lock:
            self.greetings += 1
            return self.greetings


COUNTERS = Counters()


def health() -> dict[str, Any]:
    return {"ok": True, "greetings": COUNTERS.greetings}


def metrics() -> dict[str, float]:
    return {"greetings_total": float(COUNTERS.greetings)}


def register(bridge: Any) -> None:
    log = bridge.services.get_logger()

    def greet(job: Any) -> str:
        """A job: logs the greeting configured for the job's project and returns it."""
        greeting = job.config["greeting"]
        job.progress(50, "greeting")
        job.log.info("%s (#%d)", greeting, COUNTERS.greet())
        return greeting

    bridge.register_job("greet", greet, title="Say hello", description="Logs the greeting.")
    bridge.expose({"greetings": lambda: COUNTERS.greetings})
    log.info("plugin_model registered")
