"""Crash-safe file writes and content hashes (SPEC X7).

Files that people also edit by hand (``<project>.jupiter.yaml``) or that other processes read
(exports, installed plugins) must never be seen half-written: a reader sees either the old
content or the new one. Hashes let the project-file sync notice hand edits without keeping a
copy of the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

# Mode of a file that did not exist before: what an editor creates under the usual umask.
_NEW_FILE_MODE = 0o644
_CHUNK = 64 * 1024
# ``.<target name>.<mkstemp's 8 random characters>.tmp``: what atomic_write_bytes leaves
# behind only when its process is killed between creating and renaming the file.
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
# A temporary file younger than this may belong to a write in flight in another process.
TEMP_GRACE_SECONDS = 60.0


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8); see ``atomic_write_bytes``."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that no reader ever sees a partial file.

    The content goes to a temporary file in the same directory (same filesystem, so the rename
    is atomic), is flushed and fsynced, then renamed over ``path``; the directory is fsynced so
    the rename survives a power loss. An existing file keeps its permission bits. On any error
    the temporary file is removed and ``path`` is left untouched; only a killed process
    leaves one behind, for ``sweep_temp_files`` at the next start.
    """
    path = Path(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = _NEW_FILE_MODE
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def sweep_temp_files(
    directories: Iterable[Path], *, recursive: bool = False, grace: float = TEMP_GRACE_SECONDS
) -> list[Path]:
    """Remove the temporary files of atomic writes interrupted by a crash; returns them.

    Only names of the shape ``atomic_write_bytes`` creates are touched, and only when older
    than ``grace`` seconds, so a write in flight in another server process is never broken.
    A directory that is missing or unreadable is skipped: the sweep is hygiene, not a gate.
    """
    cutoff = time.time() - grace
    removed: list[Path] = []
    for directory in directories:
        root = Path(directory)
        try:
            found = [
                candidate
                for candidate in (root.rglob(".*.tmp") if recursive else root.glob(".*.tmp"))
                if _TEMP_NAME.match(candidate.name)
            ]
        except OSError:
            continue
        for candidate in found:
            try:
                if candidate.lstat().st_mtime < cutoff:
                    candidate.unlink()
                    removed.append(candidate)
            except OSError:
                continue
    return removed


def _fsync_dir(directory: Path) -> None:
    """Persist a rename; some platforms cannot open a directory, which is then best effort."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of the file's bytes, or ``""`` when it does not exist.

    A missing file hashes to ``""`` so callers compare it with a stored hash without a
    separate existence check.
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        return ""
    return digest.hexdigest()
