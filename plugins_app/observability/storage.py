"""Where Jupiter writes, and whether it can right now (issue 16): the storage status page.

Each place is probed the way Jupiter uses it: a small file written, fsynced and removed in
the directory (a full disk, a read-only mount and missing permissions all fail that, unlike
``os.access``, which root passes and which knows nothing of free space), and one query for
the database. The live log feed reports its own file and publisher errors.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.db import DatabaseError, connection

from plugins_app.base import conf
from plugins_app.base.storage import database_location, storage_problem
from plugins_app.logs.feed import LogHealth, log_health
from plugins_app.models import Project

PROBE_BYTES = b"jupiter storage probe\n"


@dataclass(frozen=True)
class StorageCheck:
    """One place: ``problem`` is "" when it is writable; free space when it can be read."""

    name: str
    path: str
    free_bytes: int | None
    total_bytes: int | None
    problem: str

    @property
    def ok(self) -> bool:
        return not self.problem


@dataclass(frozen=True)
class StorageReport:
    checks: tuple[StorageCheck, ...]
    logs: LogHealth

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks) and not (
            self.logs.file_error or self.logs.publish_error
        )


def check_directory(name: str, path: Path) -> StorageCheck:
    """Free space of ``path``'s file system and whether a file can be written there now."""
    free: int | None = None
    total: int | None = None
    try:
        usage = shutil.disk_usage(path)
        free, total = usage.free, usage.total
    except OSError:
        pass  # the write probe below says why
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".jupiter-probe-") as probe:
            probe.write(PROBE_BYTES)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        problem = storage_problem(exc)
        text = problem.message if problem else f"{exc.strerror or exc}"
        return StorageCheck(name, str(path), free, total, text)
    return StorageCheck(name, str(path), free, total, "")


def check_database() -> StorageCheck:
    """One query, and for SQLite the free space and writability of the file's directory."""
    location = database_location()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        problem = storage_problem(exc)
        return StorageCheck(
            "Database", location, None, None, problem.message if problem else str(exc)
        )
    if connection.vendor != "sqlite":
        return StorageCheck("Database", location, None, None, "")
    folder = check_directory("Database", Path(location).parent)
    return StorageCheck("Database", location, folder.free_bytes, folder.total_bytes, folder.problem)


def storage_report() -> StorageReport:
    """Every place Jupiter writes: var/, the database, the log directory, project roots."""
    settings = conf.get()
    checks = [
        check_directory("Data directory (var/)", settings.var_dir),
        check_database(),
        check_directory("Log directory", settings.log_dir),
    ]
    try:
        projects = list(Project.objects.order_by("name").values_list("name", "root_path"))
    except DatabaseError:
        projects = []  # the database check above already says why
    checks += [check_directory(f"Project {name}", Path(root)) for name, root in projects]
    return StorageReport(tuple(checks), log_health())
