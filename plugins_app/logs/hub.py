"""Plugin logs: this process's files and its bounded live feed (SPEC O2, X6, X8).

Every plugin logger (``jupiter.plugin.<id>``, from ``bridge.services.get_logger()``) ends in
one ``PluginLogHandler`` that formats each record once, escapes control characters and caps
its length (log injection and terminal escapes, X6), then writes it to this process's own
files (``files.py``: ``<log_dir>/plugins/<id>.<host>-<pid>.log`` and the aggregate
``<log_dir>/plugins.<host>-<pid>.log`` with a ``[<id>]`` prefix: one writer per file), and
queues it for the live panel. Plugin records do not propagate to the console handler: a
plugin logging 10,000 lines/s must not flood the server's output. Lines a plugin process
ships (a batch every 50 ms) take ``log_lines``: the same lines, formatted in one pass and
written with one call per file, so a flooding plugin costs the host little time (and the
event loop little of the GIL). Reading (the panel's
tail, the download) merges the files of every process of the deployment.

The live feed is bounded everywhere and coalesced per plugin before fan-out: each plugin
keeps at most ``PENDING_MAX`` unsent lines, as many as one viewer may receive per tick
(older ones are counted as skipped), and the publisher (``feed.py``) hands them to the
channel layer once per viewer tick as one numbered batch per plugin. Batches are hints: a
layer may drop them silently, so each carries the sequence range it covers and a consumer
that sees a hole re-reads the merged file tail (``snapshot``), which is the truth.

A log file that cannot be written (disk full, read-only) is closed, counted and reopened a
second later (``files.LogFile``), reported by ``file_health`` for the storage status page.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from plugins_app.base import conf
from plugins_app.logs.files import (
    FileFollower,
    LogFile,
    aggregate_file,
    level_of,
    merged_lines,
    merged_tail,
    plugin_files,
    process_file,
    process_tag,
    prune,
    tail,
)

__all__ = [
    "LEVELS",
    "LINES_PER_MESSAGE",
    "MESSAGES_PER_SECOND",
    "TAIL_DEFAULT",
    "Batch",
    "LogHub",
    "PluginLogHandler",
    "close_hub",
    "get_hub",
    "level_of",
    "log_lines",
    "plugin_logger",
    "prune_log_files",
    "sanitize",
    "tail",
]

LOGGER_ROOT = "jupiter.plugin"
MAX_LINE = 2000
TAIL_DEFAULT = 200
# What one live viewer receives at most (the panel shows the cap), and the level filter.
MESSAGES_PER_SECOND = 10
LINES_PER_MESSAGE = 200
# One group message per plugin per viewer tick, carrying what one viewer can take.
FLUSH_INTERVAL = 1 / MESSAGES_PER_SECOND
PENDING_MAX = LINES_PER_MESSAGE
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


class _Stream:
    def __init__(self, file: LogFile) -> None:
        self.file = file
        self.seq = 0
        self.sent = 0
        self.pending: deque[tuple[int, int, str]] = deque(maxlen=PENDING_MAX)


class LogHub:
    """This process's plugin log files and unsent live lines; thread-safe."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.pid = os.getpid()
        self.tag = process_tag()
        self.stream_id = f"{self.tag}-{secrets.token_hex(4)}"
        self._lock = threading.Lock()
        self._streams: dict[str, _Stream] = {}
        self._aggregate = LogFile(self.aggregate_file)
        self._dirty = False
        self._unwritten = 0

    def plugin_file(self, plugin_id: str) -> Path:
        """This process's file for ``plugin_id`` (it is its only writer)."""
        return process_file(self.log_dir, plugin_id, self.tag)

    @property
    def aggregate_file(self) -> Path:
        return aggregate_file(self.log_dir, self.tag)

    def files(self, plugin_id: str) -> list[Path]:
        """Every process's current file for ``plugin_id``, this one's included."""
        own = self.plugin_file(plugin_id)
        return [own, *(path for path in plugin_files(self.log_dir, plugin_id) if path != own)]

    def _stream(self, plugin_id: str) -> _Stream:
        stream = self._streams.get(plugin_id)
        if stream is None:
            stream = self._streams[plugin_id] = _Stream(LogFile(self.plugin_file(plugin_id)))
        return stream

    def emit(self, plugin_id: str, level: int, line: str) -> None:
        self.emit_many(plugin_id, ((level, line),))

    def emit_many(self, plugin_id: str, lines: Sequence[tuple[int, str]]) -> None:
        """Write ``(level, line)`` pairs with one call per file; only the newest
        ``PENDING_MAX`` are queued for the live feed (the others would be skipped anyway)."""
        if not lines:
            return
        text = "".join([f"{line}\n" for _, line in lines])
        with self._lock:
            stream = self._stream(plugin_id)
            written = stream.file.write(text)
            if not (self._aggregate.write(text) and written):
                self._unwritten += len(lines)
            newest = lines[-PENDING_MAX:]
            first = stream.seq + len(lines) - len(newest) + 1
            stream.pending.extend(
                (first + n, level, line) for n, (level, line) in enumerate(newest)
            )
            stream.seq += len(lines)
            self._dirty = True

    def flush(self) -> None:
        """Write buffered lines to the files (for readers in other processes)."""
        with self._lock:
            self._flush_files()

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

    def snapshot(
        self,
        plugin_id: str,
        count: int,
        min_level: int = 0,
        follower: FileFollower | None = None,
    ) -> tuple[list[str], int]:
        """The merged tail of every process's files and the sequence number of this
        process's lines it includes, read atomically w.r.t. emits: this process's live lines
        numbered above it are exactly those not in the tail. A ``follower`` (of the other
        processes' files) is placed where this tail stops, so it misses and repeats nothing.
        """
        with self._lock:
            self._flush_files()
            stream = self._streams.get(plugin_id)
            ends = follower.start() if follower is not None else None
            lines = merged_tail(self.files(plugin_id), count, min_level, ends)
            return lines, (stream.seq if stream else 0)

    def follower(self, plugin_id: str) -> FileFollower:
        """Follows the lines other processes append to ``plugin_id``'s files."""
        return FileFollower(self.log_dir, plugin_id, frozenset({self.plugin_file(plugin_id)}))

    def download(self, plugin_id: str) -> Iterator[bytes]:
        """Every line of every process's files (rotated copies included), in time order."""
        self.flush()
        return merged_lines(self.files(plugin_id))

    def size(self, plugin_id: str) -> int:
        """Bytes of ``plugin_id``'s current files across the deployment."""
        total = 0
        for path in self.files(plugin_id):
            try:
                total += path.stat().st_size
            except FileNotFoundError:
                continue
        return total

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
    if hub is not None and hub.log_dir == log_dir and hub.pid == os.getpid():
        return hub
    with _hub_lock:
        if _hub is None or _hub.log_dir != log_dir or _hub.pid != os.getpid():
            if _hub is not None and _hub.pid == os.getpid():
                _hub.close()
            _hub = LogHub(log_dir)
        return _hub


def prune_log_files() -> list[Path]:
    """Remove the plugin log files nobody wrote for ``JUPITER_LOG_RETENTION_DAYS``."""
    settings = conf.get()
    return prune(settings.log_dir, settings.log_retention_days * 86400)


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


def log_lines(plugin_id: str, lines: Iterable[tuple[int, str]]) -> int:
    """Log ``(level, message)`` pairs a plugin process shipped, as its logger would (same
    level filter, same line format), in one pass; returns how many were kept."""
    logger = plugin_logger(plugin_id)
    prefixes: dict[int, str | None] = {}
    stamp = _handler._timestamp(time.time())
    kept = []
    for level, message in lines:
        if level not in prefixes:
            enabled = logger.isEnabledFor(level)
            name = logging.getLevelName(level)
            prefixes[level] = f"{stamp} {name} [{plugin_id}] " if enabled else None
        prefix = prefixes[level]
        if prefix is not None:
            kept.append((level, prefix + sanitize(message)))
    get_hub().emit_many(plugin_id, kept)
    return len(kept)


def plugin_logger(plugin_id: str) -> logging.Logger:
    """The logger a plugin gets from ``bridge.services.get_logger()``, wired to its files."""
    root = logging.getLogger(LOGGER_ROOT)
    if _handler not in root.handlers:
        root.addHandler(_handler)
        root.propagate = False
    return logging.getLogger(f"{LOGGER_ROOT}.{plugin_id}")
