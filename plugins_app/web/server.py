"""What a server process runs beside its requests, started once by the ASGI entry point.

It composes the layers below (jobs, health, hot reload) on the runtime's one scheduler, so no
lower layer needs to know a server exists.
"""

from __future__ import annotations

import logging

from plugins_app.base import conf
from plugins_app.base.fsutil import sweep_temp_files
from plugins_app.jobs.api import recover_jobs
from plugins_app.kernel.reload import ReloadWatcher
from plugins_app.kernel.runtime import get_runtime
from plugins_app.observability.health import HealthMonitor
from plugins_app.projects.service import sweep_project_temp_files, sync_all_from_files

__all__ = [
    "HEALTH_TICK_SECONDS",
    "PROJECT_FILES_POLL_SECONDS",
    "RELOAD_POLL_SECONDS",
    "start_server_services",
    "sweep_interrupted_writes",
]

log = logging.getLogger("jupiter.server")

HEALTH_TICK_SECONDS = 1.0
RELOAD_POLL_SECONDS = 1.0
PROJECT_FILES_POLL_SECONDS = 2.0


def start_server_services() -> None:
    """For a server process, after ``runtime.boot()``: recover jobs, schedule, start.

    Interrupted jobs are failed and pending ones re-queued (SPEC J6); health checks run at
    each plugin's own interval (L2); hand edits of project files are imported every few
    seconds, since pages never write; in developer mode, hot-reload requests made by the
    CLI or another process are picked up (L6).
    """
    runtime = get_runtime()
    sweep_interrupted_writes()
    recover_jobs()
    scheduler = runtime.scheduler
    scheduler.every("health", HEALTH_TICK_SECONDS, HealthMonitor.for_runtime(runtime).tick)
    scheduler.every("project-files", PROJECT_FILES_POLL_SECONDS, sync_all_from_files)
    if conf.get().developer_mode:
        scheduler.every("reload-requests", RELOAD_POLL_SECONDS, ReloadWatcher(runtime).tick)
    scheduler.start()


def sweep_interrupted_writes() -> int:
    """Remove what atomic writes killed mid-way left behind, in var/ and every project root.

    Only a ``kill -9`` or a power loss between creating a temporary file and renaming it
    leaves one (a normal error removes it); older than a minute, it belongs to no write in
    flight in another server process. Returns how many were removed.
    """
    removed = sweep_temp_files([conf.get().var_dir], recursive=True)
    removed += sweep_project_temp_files()
    for path in removed:
        log.warning("removed %s, left by a write interrupted by a crash", path)
    return len(removed)
