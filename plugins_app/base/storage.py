"""Storage failures named for people: what failed, where, what to do (issue 16).

A full disk, a read-only mount, a directory Jupiter may not write, or a database locked past
its timeout reach the console as an ``OSError`` or a ``django.db.OperationalError`` from deep
inside a save. ``storage_problem`` recognises them (following ``raise ... from`` chains, as
``ProjectFileError`` wraps the ``OSError``) so the console can answer 507 or 503 with a
sentence instead of a bare 500; anything else is not a storage problem and stays a 500.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import OperationalError

INSUFFICIENT_STORAGE = 507
SERVICE_UNAVAILABLE = 503


@dataclass(frozen=True)
class StorageProblem:
    """One storage failure: ``status`` to answer, ``what`` failed, ``where``, ``advice``."""

    status: int
    what: str
    where: str
    advice: str

    @property
    def message(self) -> str:
        place = f" ({self.where})" if self.where else ""
        return f"{self.what}{place}. {self.advice}"


_FULL = "Free space on that disk (old logs, exports, staging folders), then try again."
_READ_ONLY = (
    "The file system is mounted read-only: remount it read-write (or fix the disk that made "
    "the system remount it), then try again."
)
_DENIED = "Give the user running Jupiter write access to it, then try again."
_LOCKED = (
    "Another process held the database longer than its timeout (a long job or a backup): "
    "try again in a moment."
)
_IO = "The disk reported an error: check the system log and the disk, then try again."

_ERRNO: dict[int, tuple[int, str, str]] = {
    errno.ENOSPC: (INSUFFICIENT_STORAGE, "The disk is full", _FULL),
    errno.EDQUOT: (INSUFFICIENT_STORAGE, "The disk quota is exhausted", _FULL),
    errno.EROFS: (SERVICE_UNAVAILABLE, "Storage is read-only", _READ_ONLY),
    errno.EACCES: (SERVICE_UNAVAILABLE, "Jupiter may not write there", _DENIED),
    errno.EPERM: (SERVICE_UNAVAILABLE, "Jupiter may not write there", _DENIED),
    errno.EIO: (SERVICE_UNAVAILABLE, "The disk failed to read or write", _IO),
}

# Below this, a file system counts as full: SQLite needs pages, not bytes, to open a database.
NEARLY_FULL_BYTES = 1024 * 1024

# SQLite's messages (PostgreSQL reports disk trouble as OSError-like text in the same way).
_DATABASE: tuple[tuple[str, int, str, str], ...] = (
    ("database or disk is full", INSUFFICIENT_STORAGE, "The database's disk is full", _FULL),
    ("could not extend file", INSUFFICIENT_STORAGE, "The database's disk is full", _FULL),
    ("no space left", INSUFFICIENT_STORAGE, "The database's disk is full", _FULL),
    ("readonly database", SERVICE_UNAVAILABLE, "The database is read-only", _READ_ONLY),
    ("read-only", SERVICE_UNAVAILABLE, "The database is read-only", _READ_ONLY),
    ("database is locked", SERVICE_UNAVAILABLE, "The database is busy", _LOCKED),
    ("disk i/o error", SERVICE_UNAVAILABLE, "The database's disk failed", _IO),
    ("unable to open", SERVICE_UNAVAILABLE, "The database file cannot be opened", _DENIED),
)


def storage_problem(exc: BaseException | None) -> StorageProblem | None:
    """The storage failure behind ``exc`` (or its causes), or None if it is something else."""
    seen = 0
    while exc is not None and seen < 8:
        problem = _direct(exc)
        if problem is not None:
            return problem
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _direct(exc: BaseException) -> StorageProblem | None:
    if isinstance(exc, OperationalError):
        text = str(exc).lower()
        for fragment, status, what, advice in _DATABASE:
            if fragment in text:
                where = database_location()
                return _database_disk_state(where) or StorageProblem(status, what, where, advice)
        return None
    if isinstance(exc, OSError) and exc.errno in _ERRNO:
        status, what, advice = _ERRNO[exc.errno]
        return StorageProblem(status, what, str(exc.filename or ""), advice)
    return None


def _database_disk_state(where: str) -> StorageProblem | None:
    """Why a SQLite file fails, seen from its file system: SQLite says "disk I/O error" or
    "unable to open" when it cannot create its shared-memory file on a full or read-only
    disk, which would send people to check a healthy disk."""
    if "sqlite" not in settings.DATABASES["default"]["ENGINE"]:
        return None
    try:
        stats = os.statvfs(Path(where).parent)
    except OSError:
        return None
    if stats.f_flag & os.ST_RDONLY:
        return StorageProblem(SERVICE_UNAVAILABLE, "The database is read-only", where, _READ_ONLY)
    if stats.f_bavail * stats.f_frsize < NEARLY_FULL_BYTES:
        return StorageProblem(INSUFFICIENT_STORAGE, "The database's disk is full", where, _FULL)
    return None


def database_location() -> str:
    """Where the default database lives, for messages: a file path or a server name."""
    database = settings.DATABASES["default"]
    if "sqlite" in database["ENGINE"]:
        return str(database["NAME"])
    return f"database {database.get('NAME', '')} on {database.get('HOST') or 'localhost'}"
