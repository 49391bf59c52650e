"""Plugin log files on disk: one writer per file, read merged (SPEC O2, T3).

Every host process that runs plugin processes (web servers, workers, on one host or several
sharing the log directory) writes its plugins' lines to files of its own:
``<log_dir>/plugins/<id>.<host>-<pid>.log``, and the aggregate
``<log_dir>/plugins.<host>-<pid>.log``. One writer per file, so no two processes ever
interleave half-lines, rotate a file under another's open handle, or clobber each other's
rotated copy. A file past ``FILE_MAX_BYTES`` is renamed to ``<name>.1`` by its own writer
(bounded disk: one previous generation kept). Every process starts new files (its pid is in
their names): ``prune`` removes those nobody wrote for the retention period
(``JUPITER_LOG_RETENTION_DAYS``), left by processes that stopped long ago.

Readers merge: a plugin's tail, its download and the live follower read every process's
files (and a ``<id>.log`` left by an older version), ordered by the timestamp each line
starts with. ``FileFollower`` reads what is appended to a set of files, keeping the handle of
a file that was rotated until its last line is read, so a rotation loses nothing.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = [
    "FILE_MAX_BYTES",
    "FILE_RETRY_SECONDS",
    "FileFollower",
    "LogFile",
    "aggregate_file",
    "level_of",
    "merged_lines",
    "merged_tail",
    "plugin_files",
    "process_file",
    "process_tag",
    "prune",
    "tail",
]

FILE_MAX_BYTES = 10 * 1024 * 1024
# A log file that failed is retried this long after.
FILE_RETRY_SECONDS = 1.0
# A writer idle this long checks that its file still exists before writing (pruned, moved).
IDLE_RECHECK_SECONDS = 60.0
# What a follower reads from one file per poll at most; beyond, it skips to the newest lines.
FOLLOW_MAX_BYTES = 512 * 1024
STAMP = len("2025-01-01 00:00:00.000")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def process_tag() -> str:
    """``<host>-<pid>`` of this process, safe in a file name (computed anew after a fork)."""
    return _UNSAFE.sub("_", f"{socket.gethostname()}-{os.getpid()}")


def process_file(log_dir: Path, plugin_id: str, tag: str) -> Path:
    return log_dir / "plugins" / f"{plugin_id}.{tag}.log"


def aggregate_file(log_dir: Path, tag: str) -> Path:
    return log_dir / f"plugins.{tag}.log"


def plugin_files(log_dir: Path, plugin_id: str) -> list[Path]:
    """The current file of every process that logged for ``plugin_id`` (rotated copies are
    ``<file>.1`` beside each), and the single file of older versions, if any."""
    folder = log_dir / "plugins"
    found = sorted(folder.glob(f"{plugin_id}.*.log"))
    legacy = folder / f"{plugin_id}.log"
    return [*found, legacy] if legacy.exists() else found


def prune(log_dir: Path, max_age: float, now: float | None = None) -> list[Path]:
    """Remove the log files (per process, aggregate, rotated copies, an older version's
    single file) not written for ``max_age`` seconds; returns them. A live writer whose
    idle file went finds it missing at its next line and starts it again
    (``IDLE_RECHECK_SECONDS``)."""
    cutoff = (time.time() if now is None else now) - max_age
    removed = []
    for pattern in ("plugins.*.log", "plugins.*.log.1", "plugins/*.log", "plugins/*.log.1"):
        for path in log_dir.glob(pattern):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed.append(path)
            except FileNotFoundError:
                continue
    return removed


def level_of(line: str) -> int:
    """The level of a formatted line (``<date> <time> <LEVEL> [<id>] ...``), 0 if unknown."""
    parts = line.split(" ", 3)
    level = logging.getLevelName(parts[2]) if len(parts) > 2 else 0
    return level if isinstance(level, int) else 0


def tail(
    path: Path, count: int, min_level: int = 0, block: int = 65536, end: int | None = None
) -> list[str]:
    """The last ``count`` lines of ``path`` (up to byte ``end``) at ``min_level`` or above."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return []
    with handle:
        return _tail(handle, count, min_level, block, end)


def _tail(handle: IO[bytes], count: int, min_level: int, block: int, end: int | None) -> list[str]:
    size = handle.seek(0, os.SEEK_END)
    position = size if end is None else min(end, size)
    data, kept = b"", []
    if count <= 0:
        return []
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


def _stamp(line: str) -> str:
    return line[:STAMP]


def _file_tail(path: Path, count: int, min_level: int, end: int | None = None) -> list[str]:
    """The tail of one writer's lines: its rotated copy first when the file holds too few."""
    lines = tail(path, count, min_level, end=end)
    if len(lines) < count:
        lines = tail(path.with_name(path.name + ".1"), count - len(lines), min_level) + lines
    return lines


def merged_tail(
    paths: list[Path],
    count: int,
    min_level: int = 0,
    ends: dict[Path, int] | None = None,
) -> list[str]:
    """The last ``count`` lines of all ``paths`` together, in time order; ``ends`` bounds a
    file's reading at that byte (what a follower has already positioned itself after)."""
    ends = ends or {}
    tails = [_file_tail(path, count, min_level, ends.get(path)) for path in paths]
    merged = list(heapq.merge(*tails, key=_stamp))
    return merged[-count:] if count else []


def merged_lines(paths: list[Path]) -> Iterator[bytes]:
    """Every line of all ``paths`` (each after its rotated copy), in time order, as bytes."""

    def lines_of(path: Path) -> Iterator[bytes]:
        for part in (path.with_name(path.name + ".1"), path):
            with contextlib.suppress(FileNotFoundError), part.open("rb") as handle:
                for line in handle:
                    yield line if line.endswith(b"\n") else line + b"\n"

    yield from heapq.merge(*(lines_of(path) for path in paths), key=lambda line: line[:STAMP])


class LogFile:
    """An append-only file with one writer, rotated to ``<name>.1`` past ``FILE_MAX_BYTES``.

    A write or flush that fails (disk full, read-only) closes the file and reports the error
    in ``error``; the file is reopened ``FILE_RETRY_SECONDS`` later, so a freed disk is
    picked up without a restart and a full one costs one failed open a second, not one per
    line. A writer idle for a minute checks that its file still exists (a pruned or moved
    file is opened anew rather than written into an unlinked inode).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: Any = None
        self.size = 0
        self.retry_at = 0.0
        self.error = ""
        self._written_at = 0.0

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

    def _still_there(self, now: float) -> None:
        idle = now - self._written_at > IDLE_RECHECK_SECONDS
        if self.handle is not None and idle and not self.path.exists():
            self.close()

    def write(self, text: str) -> bool:
        """Append ``text``; False when the file cannot be written now."""
        now = time.monotonic()
        self._still_there(now)
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
        self._written_at = now
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


@dataclass
class _Followed:
    handle: IO[bytes]
    inode: int
    partial: bytes = b""
    skipped: int = 0


@dataclass
class FileFollower:
    """New complete lines appended to a plugin's files by other processes.

    ``start`` opens every file and places itself at their ends (returning those ends, for a
    snapshot that must stop exactly there); ``poll`` returns the lines appended since, in
    time order, and how many it skipped (a file that grew by more than ``FOLLOW_MAX_BYTES``
    in one poll: a live tail shows the newest). A file that was rotated is read to its end
    through the handle kept open, then the new file from its start: nothing is lost.
    """

    log_dir: Path
    plugin_id: str
    exclude: frozenset[Path] = frozenset()
    _files: dict[Path, _Followed] = field(default_factory=dict)

    def _paths(self) -> list[Path]:
        return [p for p in plugin_files(self.log_dir, self.plugin_id) if p not in self.exclude]

    def start(self) -> dict[Path, int]:
        self.close()
        ends = {}
        for path in self._paths():
            followed = self._open(path)
            if followed is not None:
                ends[path] = followed.handle.seek(0, os.SEEK_END)
                self._files[path] = followed
        return ends

    @staticmethod
    def _open(path: Path) -> _Followed | None:
        try:
            handle = path.open("rb")
        except OSError:
            return None
        return _Followed(handle, os.fstat(handle.fileno()).st_ino)

    def poll(self) -> tuple[list[str], int]:
        per_file: list[list[str]] = []
        skipped = 0
        for path in self._paths():
            followed = self._files.get(path)
            if followed is None:  # a process that started logging since
                followed = self._open(path)
                if followed is None:
                    continue
                self._files[path] = followed
            try:
                inode = path.stat().st_ino
            except FileNotFoundError:
                inode = followed.inode
            lines = self._read(followed)
            if inode != followed.inode:  # rotated: the old file is read out, then the new one
                followed.handle.close()
                fresh = self._open(path)
                if fresh is not None:
                    self._files[path] = fresh
                    lines += self._read(fresh)
                    followed = fresh
            skipped += followed.skipped
            followed.skipped = 0
            per_file.append(lines)
        return list(heapq.merge(*per_file, key=_stamp)), skipped

    @staticmethod
    def _read(followed: _Followed) -> list[str]:
        handle = followed.handle
        position = handle.tell()
        end = handle.seek(0, os.SEEK_END)
        if end - position > FOLLOW_MAX_BYTES:
            position = end - FOLLOW_MAX_BYTES
            followed.skipped += 1  # at least one line; the panel shows "dropped"
            followed.partial = b""
            handle.seek(position)
            handle.readline()  # to the start of the next whole line
        else:
            handle.seek(position)
        data = followed.partial + handle.read(end - handle.tell())
        raw_lines = data.split(b"\n")
        followed.partial = raw_lines.pop()
        return [raw.decode("utf-8", "replace") for raw in raw_lines if raw]

    def close(self) -> None:
        for followed in self._files.values():
            followed.handle.close()
        self._files.clear()
