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

    def greet(project: str | None = None) -> str:
        greeting = bridge.services.get_config(project)["greeting"]
        log.info("%s (#%d)", greeting, COUNTERS.greet())
        return greeting

    def overview(context: dict[str, Any]) -> dict[str, Any]:
        return {"greetings": COUNTERS.greetings}

    def greet_route(request: Any) -> dict[str, Any]:
        return {"greeting": greet(request.GET.get("project") or None)}

    bridge.register_job("greet", greet, title="Say hello", description="Logs the greeting.")
    bridge.register_ui("panel", "overview", overview, title="Overview")
    bridge.register_api_route("greet", greet_route, methods=("POST",))
    bridge.expose({"greet": greet})
    log.info("plugin_model registered")
