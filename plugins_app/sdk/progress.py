"""Progress a hook reports while it runs (``bridge.report_progress(done, total, message)``).

A hook is one call from the host, so it cannot return progress; it reports it as it goes,
to whatever sink the caller set around the call: in a plugin process, a notification to the
host; on the host, the running job. A hook called with no sink (a health check, a test)
reports to nobody, so reporting is always safe. Values are checked on both sides (the host
never trusts the plugin process), and ``Throttle`` bounds how often a sink passes them on:
a hook may report per file, thousands of times a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from plugins_app.base.errors import BridgeError

__all__ = [
    "MAX_MESSAGE",
    "MIN_INTERVAL",
    "Progress",
    "ProgressError",
    "Sink",
    "Throttle",
    "current_sink",
    "parse",
    "progress_from",
    "report_progress",
    "reporting_to",
]

MIN_INTERVAL = 0.1  # at most ten reports a second reach the job
MAX_MESSAGE = 200


class ProgressError(BridgeError, ValueError):
    """A report that is not ``0 <= done <= total`` with ``total > 0`` (whole numbers)."""


@dataclass(frozen=True)
class Progress:
    """One report: ``done`` of ``total`` units of work, and what is being worked on."""

    done: int
    total: int
    message: str = ""

    @property
    def fraction(self) -> float:
        return self.done / self.total

    def to_json(self) -> dict[str, Any]:
        return {"done": self.done, "total": self.total, "message": self.message}


Sink = Callable[[Progress], None]

_sink: ContextVar[Sink | None] = ContextVar("jupiter_progress_sink", default=None)


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProgressError(f"progress {name} must be a whole number, got {value!r:.40}")
    return value


def progress_from(done: Any, total: Any, message: Any = "") -> Progress:
    """A checked report; raises ``ProgressError`` on anything else."""
    done, total = _whole(done, "done"), _whole(total, "total")
    if total <= 0 or not 0 <= done <= total:
        raise ProgressError(
            f"progress must be 0 <= done <= total and total > 0, not {done}/{total}"
        )
    return Progress(done, total, str(message)[:MAX_MESSAGE])


def parse(params: Mapping[str, Any]) -> Progress:
    """A report as it came over the wire from a plugin process."""
    return progress_from(params.get("done"), params.get("total"), params.get("message") or "")


@contextmanager
def reporting_to(sink: Sink) -> Iterator[None]:
    """Reports made by the code run inside this block (same thread) go to ``sink``."""
    token = _sink.set(sink)
    try:
        yield
    finally:
        _sink.reset(token)


def report_progress(done: int, total: int, message: str = "") -> None:
    """What ``bridge.report_progress`` does: check, then hand to the current sink if any."""
    progress = progress_from(done, total, message)
    sink = _sink.get()
    if sink is not None:
        sink(progress)


def current_sink() -> Sink | None:
    """The sink set around this call, so a proxy can carry it to a plugin process."""
    return _sink.get()


class Throttle:
    """Passes a report on at most once per ``interval``; a report of completion
    (``done == total``) and the first one always pass, so the bar never stops short."""

    def __init__(self, sink: Sink, interval: float = MIN_INTERVAL) -> None:
        self._sink, self._interval = sink, interval
        self._last = float("-inf")
        self._lock = threading.Lock()

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        with self._lock:
            if progress.done != progress.total and now - self._last < self._interval:
                return
            self._last = now
        self._sink(progress)
