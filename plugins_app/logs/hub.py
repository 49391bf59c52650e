"""Plugin logs: a file per plugin, a global aggregate, and a bounded live feed (SPEC O2, X6, X8).

Every plugin logger (``jupiter.plugin.<id>``, from ``bridge.services.get_logger()``) ends in
one ``PluginLogHandler`` that formats each record once, escapes control characters and caps
its length (log injection and terminal escapes, X6), then writes it to
``<log_dir>/plugins/<id>.log`` and to ``<log_dir>/plugins.log`` with a ``[<id>]`` prefix, and
queues it for the live panel. Plugin records do not propagate to the console handler: a
plugin logging 10,000 lines/s must not flood the server's output.

The live feed is bounded everywhere and coalesced per plugin before fan-out: each plugin
keeps at most ``PENDING_MAX`` unsent lines, as many as one viewer may receive per tick
(older ones are counted as skipped), and ``flush_forever`` hands them to the channel layer
once per viewer tick as one numbered batch per plugin whose lines are already JSON text. A
layer copies a message once per group member (the in-memory layer deep-copies it), so the
copy is of a few small fields and one string, never of thousands of lists: a plugin logging
50,000 lines/s to 20 viewers costs the event loop 10 small sends a second. Batches are
hints: a layer may drop them silently, so each carries the sequence range it covers and a
consumer that sees a hole re-reads the file tail (``snapshot``), which is the truth.

Storage failures never stop the feed: a log file that cannot be written (disk full,
read-only) is closed, counted and reopened a second later, and the publisher task survives
any error of a tick with a growing pause, reporting both in ``log_health()`` for the
storage status page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugins_app.base import conf

LOGGER_ROOT = "jupiter.plugin"
MAX_LINE = 2000
FILE_MAX_BYTES = 10 * 1024 * 1024
TAIL_DEFAULT = 200
# What one live viewer receives at most (the panel shows the cap), and the level filter.
MESSAGES_PER_SECOND = 10
LINES_PER_MESSAGE = 200
# One group message per plugin per viewer tick, carrying what one viewer can take.
FLUSH_INTERVAL = 1 / MESSAGES_PER_SECOND
PENDING_MAX = LINES_PER_MESSAGE
# A log file that failed is retried this long after; a failing publisher tick waits up to
# FLUSH_BACKOFF_MAX seconds (doubling from FLUSH_INTERVAL) before the next.
FILE_RETRY_SECONDS = 1.0
FLUSH_BACKOFF_MAX = 5.0
LEVELS = {"": 0, "DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}

# C0/C1 controls, DEL, line/paragraph separators and bidi overrides ("Trojan Source").
_CONTROL = [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
_CONTROL += [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ESCAPES = {code: (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}") for code in _CONTROL}
_ESCAPES.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})


def sanitize(message: str, limit: int = MAX_LINE) -> str:
    """One safe line: control characters escaped, at most ``limit`` characters kept."""
    if len(message) > limit:
        message = f"{message[:limit]}... [{len(message) - limit} more characters cut]"
    return message.translate(_ESCAPES)


def level_of(line: str) -> int:
    """The level of a formatted line (``<date> <time> <LEVEL> [<id>] ...``), 0 if unknown."""
    parts = line.split(" ", 3)
    level = logging.getLevelName(parts[2]) if len(parts) > 2 else 0
    return level if isinstance(level, int) else 0


def tail(path: Path, count: int, min_level: int = 0, block: int = 65536) -> list[str]:
    """The last ``count`` lines of ``path`` at ``min_level`` or above, read from the end."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return []
    with handle:
        end = handle.seek(0, os.SEEK_END)
        position, data, kept = end, b"", []
        while position > 0:
            step = min(block, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
            lines = data.split(b"\n")
            data, complete = (lines[0], lines[1:]) if position > 0 else (b"", lines)
            for raw in reversed(complete):
                line = raw.decode("utf-8", "replace")
                if line and level_of(line) >= min_level:
                    kept.append(line)
                    if len(kept) == count:
                        return kept[::-1]
    return kept[::-1]


@dataclass(frozen=True)
class Batch:
    """Lines ``start``..``end`` of one plugin from one process (``stream``); ``lines`` holds
    (seq, level, text) for those still queued, ``skipped`` those dropped at the source."""

    plugin_id: str
    stream: str
    start: int
    end: int
    lines: tuple[tuple[int, int, str], ...]

    @property
    def skipped(self) -> int:
        return self.end - self.start + 1 - len(self.lines)


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


class _File:
    """An append-only file rotated to ``<name>.1`` past ``FILE_MAX_BYTES`` (bounded disk).

    A write or flush that fails (disk full, read-only) closes the file and reports the error
    to ``on_error``; the file is reopened ``FILE_RETRY_SECONDS`` later, so a freed disk is
    picked up without a restart and a full one costs one failed open a second, not one per
    line.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: Any = None
        self.size = 0
        self.retry_at = 0.0
        self.error = ""

    def _open(self) -> bool:
        if time.monotonic() < self.retry_at:
            return False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            self._failed(exc)
            return False
        self.size = self.handle.tell()
        self.error = ""
        return True

    def _failed(self, exc: OSError) -> None:
        if self.handle is not None:
            # Its buffered lines are lost with the failing disk; the hub counts lost lines.
            with contextlib.suppress(OSError):
                self.handle.close()
        self.handle = None
        self.retry_at = time.monotonic() + FILE_RETRY_SECONDS
        self.error = f"{self.path}: {exc.strerror or exc}"

    def write(self, text: str) -> bool:
        """Append ``text``; False when the file cannot be written now."""
        if self.handle is None and not self._open():
            return False
        try:
            if self.size > FILE_MAX_BYTES:
                self.handle.close()
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
                self.handle = self.path.open("a", encoding="utf-8")
                self.size = 0
            self.handle.write(text)
        except OSError as exc:
            self._failed(exc)
            return False
        self.size += len(text)
        return True

    def flush(self) -> None:
        if self.handle is not None:
            try:
                self.handle.flush()
            except OSError as exc:
                self._failed(exc)

    def close(self) -> None:
        if self.handle is not None:
            try:
                self.handle.close()
            except OSError as exc:
                self._failed(exc)
            self.handle = None


class _Stream:
    def __init__(self, file: _File) -> None:
        self.file = file
        self.seq = 0
        self.sent = 0
        self.pending: deque[tuple[int, int, str]] = deque(maxlen=PENDING_MAX)


class LogHub:
    """This process's plugin log files and unsent live lines; thread-safe."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.stream_id = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._lock = threading.Lock()
        self._streams: dict[str, _Stream] = {}
        self._aggregate = _File(self.aggregate_file)
        self._dirty = False
        self._unwritten = 0

    def plugin_file(self, plugin_id: str) -> Path:
        return self.log_dir / "plugins" / f"{plugin_id}.log"

    @property
    def aggregate_file(self) -> Path:
        return self.log_dir / "plugins.log"

    def _stream(self, plugin_id: str) -> _Stream:
        stream = self._streams.get(plugin_id)
        if stream is None:
            stream = self._streams[plugin_id] = _Stream(_File(self.plugin_file(plugin_id)))
        return stream

    def emit(self, plugin_id: str, level: int, line: str) -> None:
        with self._lock:
            stream = self._stream(plugin_id)
            written = stream.file.write(line + "\n")
            if not (self._aggregate.write(line + "\n") and written):
                self._unwritten += 1
            stream.seq += 1
            stream.pending.append((stream.seq, level, line))
            self._dirty = True

    def _flush_files(self) -> None:
        if self._dirty:
            for stream in self._streams.values():
                stream.file.flush()
            self._aggregate.flush()
            self._dirty = False

    def drain(self) -> list[Batch]:
        """Everything unsent, one batch per plugin; files are flushed for readers too."""
        batches = []
        with self._lock:
            self._flush_files()
            for plugin_id, stream in self._streams.items():
                if stream.seq > stream.sent:
                    lines = tuple(stream.pending)
                    batches.append(
                        Batch(plugin_id, self.stream_id, stream.sent + 1, stream.seq, lines)
                    )
                    stream.pending.clear()
                    stream.sent = stream.seq
        return batches

    def snapshot(self, plugin_id: str, count: int, min_level: int = 0) -> tuple[list[str], int]:
        """The file tail and the sequence number it includes, read atomically w.r.t. emits:
        live lines numbered above it are exactly those not in the tail."""
        with self._lock:
            self._flush_files()
            stream = self._streams.get(plugin_id)
            return tail(self.plugin_file(plugin_id), count, min_level), (
                stream.seq if stream else 0
            )

    def file_health(self) -> tuple[str, int]:
        """The latest file error ("" if every file is writable now) and the lines not written."""
        with self._lock:
            files = [self._aggregate, *(stream.file for stream in self._streams.values())]
            errors = [file.error for file in files if file.error]
            return (errors[0] if errors else ""), self._unwritten

    def close(self) -> None:
        with self._lock:
            for stream in self._streams.values():
                stream.file.close()
            self._aggregate.close()
            self._streams.clear()


_hub: LogHub | None = None
_hub_lock = threading.Lock()


def get_hub() -> LogHub:
    """The hub writing under the configured log directory (a new one if it changed)."""
    global _hub
    log_dir = conf.get().log_dir
    hub = _hub
    if hub is not None and hub.log_dir == log_dir:
        return hub
    with _hub_lock:
        if _hub is None or _hub.log_dir != log_dir:
            if _hub is not None:
                _hub.close()
            _hub = LogHub(log_dir)
        return _hub


def close_hub() -> None:
    """Close this process's hub (``reset_runtime``); the next ``get_hub()`` opens a new one.

    The hub lives here rather than in the kernel's runtime because the log handler, below
    the kernel, writes to it; the runtime still decides when it is closed.
    """
    global _hub
    with _hub_lock:
        hub, _hub = _hub, None
    if hub is not None:
        hub.close()


class PluginLogHandler(logging.Handler):
    """Formats a plugin's record once and hands it to the hub."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""

    def _timestamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second, self._stamp = (
                second,
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created)),
            )
        return f"{self._stamp}.{int((created - second) * 1000):03d}"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            plugin_id = record.name[len(LOGGER_ROOT) + 1 :].split(".", 1)[0] or "?"
            message = record.getMessage()
            if record.exc_info:
                message = f"{message}\n{logging.Formatter().formatException(record.exc_info)}"
            stamp = self._timestamp(record.created)
            line = f"{stamp} {record.levelname} [{plugin_id}] {sanitize(message)}"
            get_hub().emit(plugin_id, record.levelno, line)
        except Exception:
            self.handleError(record)


_handler = PluginLogHandler()


def plugin_logger(plugin_id: str) -> logging.Logger:
    """The logger a plugin gets from ``bridge.services.get_logger()``, wired to its files."""
    root = logging.getLogger(LOGGER_ROOT)
    if _handler not in root.handlers:
        root.addHandler(_handler)
        root.propagate = False
    return logging.getLogger(f"{LOGGER_ROOT}.{plugin_id}")


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


@dataclass
class _PublisherState:
    """The publisher's failures, for ``log_health``; written by the one publisher task."""

    error: str = ""
    failures: int = 0


_flusher: asyncio.Task[None] | None = None
_publisher = _PublisherState()
log = logging.getLogger("jupiter.logs")


async def _flush_forever(layer: Any) -> None:
    """Publish every tick; a failing tick (disk, channel layer) is reported, then retried
    after a pause that doubles up to ``FLUSH_BACKOFF_MAX``, so the feed resumes by itself."""
    pause = FLUSH_INTERVAL
    while True:
        await asyncio.sleep(pause)
        try:
            for batch in get_hub().drain():
                await layer.group_send(group_name(batch.plugin_id), batch_message(batch))
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


def log_health() -> LogHealth:
    """Plugin log files and the live feed's publisher, as the storage status page shows them."""
    hub = get_hub()
    file_error, unwritten = hub.file_health()
    return LogHealth(hub.log_dir, file_error, unwritten, _publisher.error, _publisher.failures)


def ensure_flusher(layer: Any) -> None:
    """Run the batch publisher on the running event loop (one per process; a new loop,
    as in tests, takes it over)."""
    global _flusher
    loop = asyncio.get_running_loop()
    if _flusher is None or _flusher.done() or _flusher.get_loop() is not loop:
        if _flusher is not None and not _flusher.done() and not _flusher.get_loop().is_closed():
            _flusher.get_loop().call_soon_threadsafe(_flusher.cancel)
        _flusher = loop.create_task(_flush_forever(layer))
