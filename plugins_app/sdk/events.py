"""Publish/subscribe between the host and plugins, and a plugin's namespaced view of it."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

__all__ = ["EventBus", "EventHandler", "PluginEventBus"]

EventHandler = Callable[[str, dict[str, Any]], None]

log = logging.getLogger("jupiter.events")


class EventBus:
    """In-process publish/subscribe between the host and plugins.

    A handler that raises is logged and skipped: one faulty subscriber never stops the
    others or the publisher.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, list[EventHandler]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, topic: str, handler: EventHandler) -> Callable[[], None]:
        """Subscribe to ``topic`` (exact, or a prefix ending in ``*``); returns unsubscribe."""
        with self._lock:
            self._handlers[topic].append(handler)

        def unsubscribe() -> None:
            with self._lock:
                if handler in self._handlers.get(topic, []):
                    self._handlers[topic].remove(handler)

        return unsubscribe

    def publish(self, topic: str, payload: dict[str, Any] | None = None) -> int:
        """Deliver to every matching handler; returns how many received it."""
        with self._lock:
            targets = [
                h
                for pattern, handlers in self._handlers.items()
                if pattern == topic or (pattern.endswith("*") and topic.startswith(pattern[:-1]))
                for h in handlers
            ]
        for handler in targets:
            try:
                handler(topic, dict(payload or {}))
            except Exception:
                log.exception("event handler for %r failed", topic)
        return len(targets)


class PluginEventBus:
    """A plugin's view of the bus: it publishes only under ``plugin.<id>.`` (SPEC U5)."""

    def __init__(self, bus: EventBus, plugin_id: str) -> None:
        self._bus = bus
        self.namespace = f"plugin.{plugin_id}."

    def publish(self, name: str, payload: dict[str, Any] | None = None) -> int:
        return self._bus.publish(self.namespace + name, payload)

    def subscribe(self, topic: str, handler: EventHandler) -> Callable[[], None]:
        return self._bus.subscribe(topic, handler)
