"""Entrypoints of the reference plugin."""

from __future__ import annotations

import logging
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


def say_hello(config: dict[str, Any], log: logging.Logger) -> str:
    """Log the configured greeting and count it; shared by the job and the API route."""
    greeting = config["greeting"]
    log.info("%s (#%d)", greeting, COUNTERS.greet())
    return greeting


def register(bridge: Any) -> None:
    log = bridge.services.get_logger()

    def greet(job: Any) -> str:
        """A job: logs the greeting configured for the job's project and returns it."""
        job.progress(50, "greeting")
        return say_hello(job.config, job.log)

    def greet_in(project: str | None = None) -> str:
        return say_hello(bridge.services.get_config(project), log)

    def overview(context: dict[str, Any]) -> dict[str, Any]:
        return {"greetings": COUNTERS.greetings}

    def greet_route(request: Any) -> dict[str, Any]:
        return {"greeting": greet_in(request.GET.get("project") or None)}

    bridge.register_job("greet", greet, title="Say hello", description="Logs the greeting.")
    bridge.register_ui("panel", "overview", overview, title="Overview")
    bridge.register_api_route("greet", greet_route, methods=("POST",))
    bridge.expose({"greet": greet_in, "greetings": lambda: COUNTERS.greetings})
    log.info("plugin_model registered")
