"""The one periodic scheduler of a server process (health checks, reload requests, ...).

Tasks run one after the other in a single daemon thread; a task that raises is logged and
runs again at its next due time. It is started by ``start_server_services`` from the ASGI
entry point, never in ordinary tests: those call ``run_pending`` (or the task itself)
explicitly, so nothing runs behind their back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("jupiter.scheduler")


@dataclass
class _Task:
    name: str
    interval: float
    func: Callable[[], object]
    due: float


class Scheduler:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def every(self, name: str, interval: float, func: Callable[[], object]) -> None:
        """Run ``func`` every ``interval`` seconds, the first time at the next pass."""
        with self._lock:
            self._tasks[name] = _Task(name, interval, func, self._clock())
        self._changed.set()

    def cancel(self, name: str) -> None:
        with self._lock:
            self._tasks.pop(name, None)

    def run_pending(self) -> list[str]:
        """Run every task that is due now; returns their names."""
        now = self._clock()
        with self._lock:
            due = [task for task in self._tasks.values() if task.due <= now]
            for task in due:
                task.due = now + task.interval
        for task in due:
            try:
                task.func()
            except Exception:
                log.exception("scheduled task %s failed", task.name)
        return [task.name for task in due]

    def _next_wait(self) -> float:
        with self._lock:
            if not self._tasks:
                return 60.0
            return max(0.0, min(t.due for t in self._tasks.values()) - self._clock())

    def _loop(self) -> None:
        while not self._stopped.is_set():
            self.run_pending()
            self._changed.wait(self._next_wait())
            self._changed.clear()

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopped.clear()
            self._thread = threading.Thread(target=self._loop, name="jupiter-scheduler")
            self._thread.daemon = True
            self._thread.start()
            log.info("scheduler started with %s", ", ".join(sorted(self._tasks)) or "no task")

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        self._changed.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


scheduler = Scheduler()
HEALTH_TICK_SECONDS = 1.0
RELOAD_POLL_SECONDS = 1.0
PROJECT_FILES_POLL_SECONDS = 2.0


def start_server_services() -> None:
    """For a server process, after ``runtime.boot()``: recover jobs, schedule, start.

    Interrupted jobs are failed and pending ones re-queued (SPEC J6); health checks run at
    each plugin's own interval (L2); in developer mode, hot-reload requests made by the CLI
    or another process are picked up (L6).
    """
    from plugins_app.base import conf
    from plugins_app.jobs.api import recover_jobs
    from plugins_app.kernel.reload import ReloadWatcher
    from plugins_app.kernel.runtime import get_runtime
    from plugins_app.observability.health import HealthMonitor
    from plugins_app.projects.service import sync_all_from_files

    runtime = get_runtime()
    recover_jobs()
    scheduler.every("health", HEALTH_TICK_SECONDS, HealthMonitor.for_runtime(runtime).tick)
    scheduler.every("project-files", PROJECT_FILES_POLL_SECONDS, sync_all_from_files)
    if conf.get().developer_mode:
        scheduler.every("reload-requests", RELOAD_POLL_SECONDS, ReloadWatcher(runtime).tick)
    scheduler.start()
