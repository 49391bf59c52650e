"""The live feed of plugin log lines: from every process's hub to every viewer (SPEC O2, X8).

Lines are logged in the host process that runs the plugin's process: a web server or a
worker. ``LogPublisher`` runs in every such process, in a thread with an event loop of its
own, so a worker (which serves no WebSocket) publishes its plugins' lines too:

- with a channel layer that crosses processes (Redis), it drains the hub every tick and
  sends one numbered batch per plugin to the plugin's group, wherever the viewer is;
- with the in-memory layer (the embedded default: one web process and one worker, no
  Redis), lines cannot leave their process through the layer; the publisher then only
  flushes the files every tick, and a viewer's consumer follows the other processes' files
  (``files.FileFollower``), as ``jobs/relay.py`` does for job events. Lines logged in the
  web process itself reach its viewers through ``ensure_flusher``, on the consumers' loop
  (the in-memory layer belongs to that loop).

A publisher tick that fails (disk, channel layer) is reported and retried after a pause
that doubles up to ``FLUSH_BACKOFF_MAX``, so the feed resumes by itself; ``log_health``
tells the storage status page.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugins_app.logs.hub import FLUSH_INTERVAL, Batch, get_hub

__all__ = [
    "FLUSH_BACKOFF_MAX",
    "LogHealth",
    "LogPublisher",
    "batch_message",
    "ensure_flusher",
    "group_name",
    "log_health",
    "publisher_for",
]

FLUSH_BACKOFF_MAX = 5.0
log = logging.getLogger("jupiter.logs")


def group_name(plugin_id: str) -> str:
    """The channel-layer group of a plugin's live log lines."""
    return f"jupiter.logs.{plugin_id}"


def batch_message(batch: Batch) -> dict[str, Any]:
    """The group message of a batch: its lines as one JSON text of ``[level, text]`` pairs.

    ``first`` is the sequence number of the first line carried (the carried lines are
    consecutive: the newest of the range). A string is shared, not copied, by the channel
    layer's per-member copy, and a viewer without a filter forwards it as it is.
    """
    return {
        "type": "log.batch",
        "stream": batch.stream,
        "start": batch.start,
        "end": batch.end,
        "first": batch.lines[0][0] if batch.lines else batch.end + 1,
        "count": len(batch.lines),
        "lines": json.dumps([[level, text] for _, level, text in batch.lines]),
    }


@dataclass(frozen=True)
class LogHealth:
    """Whether plugin log files are being written and the live feed published, for people.

    ``unwritten_lines`` counts lines that reached the live feed but not the files since the
    process started; ``file_error``/``publish_error`` are the last failures ("" when the
    latest attempt succeeded) and ``publish_failures`` counts failed publisher ticks.
    """

    log_dir: Path
    file_error: str
    unwritten_lines: int
    publish_error: str
    publish_failures: int


@dataclass
class _PublisherState:
    """The publisher's failures, for ``log_health``; written by the one publisher task."""

    error: str = ""
    failures: int = 0


_flusher: asyncio.Task[None] | None = None
_publisher = _PublisherState()
_thread_publisher: LogPublisher | None = None


async def _tick_forever(tick: Any) -> None:
    """Run ``await tick()`` every ``FLUSH_INTERVAL``; a failing tick is reported, then
    retried after a pause doubling up to ``FLUSH_BACKOFF_MAX``."""
    pause = FLUSH_INTERVAL
    while True:
        await asyncio.sleep(pause)
        try:
            await tick()
        except Exception as exc:  # any failure of a tick is retried, not fatal
            pause = min(pause * 2, FLUSH_BACKOFF_MAX)
            _publisher.failures += 1
            if not _publisher.error:
                log.error("live plugin logs not published (%s); retrying", exc, exc_info=exc)
            _publisher.error = f"{type(exc).__name__}: {exc}"
            continue
        if _publisher.error:
            log.warning("live plugin logs published again after: %s", _publisher.error)
            _publisher.error = ""
        pause = FLUSH_INTERVAL


async def _flush_forever(layer: Any) -> None:
    """Publish this process's new lines every tick."""

    async def tick() -> None:
        for batch in get_hub().drain():
            await layer.group_send(group_name(batch.plugin_id), batch_message(batch))

    await _tick_forever(tick)


async def _flush_files_forever() -> None:
    """Keep this process's files current for the other processes' followers."""

    async def tick() -> None:
        get_hub().flush()

    await _tick_forever(tick)


class LogPublisher:
    """This process's publisher thread (one per process, owned by its runtime)."""

    def __init__(self, layer: Any, *, send: bool) -> None:
        self.layer = layer
        self.send = send
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LogPublisher:
        global _thread_publisher
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="jupiter-logs", daemon=True)
            self._thread.start()
            self._ready.wait(5)
            if self.send:
                _thread_publisher = self
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        work = _flush_forever(self.layer) if self.send else _flush_files_forever()
        self._task = loop.create_task(work)
        self._ready.set()
        try:
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        finally:
            loop.close()

    def close(self) -> None:
        global _thread_publisher
        if _thread_publisher is self:
            _thread_publisher = None
        loop, task = self._loop, self._task
        if loop is not None and task is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None
        get_hub().flush()


def publisher_for(layer: Any) -> LogPublisher:
    """A publisher sending through ``layer`` if it crosses processes, else one that keeps the
    files current for the other processes' followers (the in-memory layer)."""
    from channels.layers import InMemoryChannelLayer

    return LogPublisher(
        layer, send=layer is not None and not isinstance(layer, InMemoryChannelLayer)
    )


def log_health() -> LogHealth:
    """Plugin log files and the live feed's publisher, as the storage status page shows them."""
    hub = get_hub()
    file_error, unwritten = hub.file_health()
    return LogHealth(hub.log_dir, file_error, unwritten, _publisher.error, _publisher.failures)


def ensure_flusher(layer: Any) -> None:
    """Publish this process's lines on the running event loop (one per process; a new loop,
    as in tests, takes it over), unless a ``LogPublisher`` thread already sends them."""
    global _flusher
    if _thread_publisher is not None:
        return
    loop = asyncio.get_running_loop()
    if _flusher is None or _flusher.done() or _flusher.get_loop() is not loop:
        if _flusher is not None and not _flusher.done() and not _flusher.get_loop().is_closed():
            _flusher.get_loop().call_soon_threadsafe(_flusher.cancel)
        _flusher = loop.create_task(_flush_forever(layer))
