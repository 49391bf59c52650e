"""What a worker process runs (``manage.py jupiter_worker``; ``make run`` starts one).

It loads the enabled plugins (each in its own process), runs jobs on its threads, publishes
its plugins' log lines (``logs.feed``), follows the change feed, and competes for the
``scheduler`` lease: the one worker holding it runs the deployment's periodic tasks (health
checks and metrics collection at each plugin's interval, retrying or failing the jobs of
stopped workers, importing hand edits of project files, removing plugin log files past their
retention, checking the catalogues for updates), so each runs once for the whole deployment.
When it stops, another worker takes the lease over within ``LEADER_TTL`` seconds.
"""

from __future__ import annotations

import logging
import threading

from channels.layers import get_channel_layer
from django.db import close_old_connections, connections

from plugins_app.base import conf
from plugins_app.jobs.api import make_runner
from plugins_app.jobs.worker import JobWorker, reap_jobs
from plugins_app.kernel import leases
from plugins_app.kernel.feed import Follower
from plugins_app.kernel.runtime import Runtime
from plugins_app.kernel.scheduler import Scheduler
from plugins_app.lifecycle.updates import UPDATE_CHECK_SECONDS, record_check
from plugins_app.logs.feed import LogPublisher, publisher_for
from plugins_app.logs.hub import prune_log_files
from plugins_app.observability.health import HealthMonitor
from plugins_app.observability.metrics import collect_due
from plugins_app.projects.service import sync_all_from_files

__all__ = ["LEADER", "LEADER_TTL", "WorkerServices"]

log = logging.getLogger("jupiter.worker")
LEADER = "scheduler"
LEADER_TTL = 10.0
LEADER_RENEW = 2.0
HEALTH_TICK_SECONDS = 1.0
METRICS_TICK_SECONDS = 1.0
REAP_SECONDS = 2.0
PROJECT_FILES_SECONDS = 2.0
LOG_PRUNE_SECONDS = 3600.0


class WorkerServices:
    """A worker's threads: jobs, the change feed, and the leader's scheduler."""

    def __init__(self, runtime: Runtime, threads: int | None = None) -> None:
        self.runtime = runtime
        self.jobs = JobWorker(threads or conf.get().job_workers, make_runner)
        self.follower = Follower(runtime)
        self.scheduler = Scheduler()
        self.scheduler.every("health", HEALTH_TICK_SECONDS, HealthMonitor.for_runtime(runtime).tick)
        self.scheduler.every("metrics", METRICS_TICK_SECONDS, collect_due)
        self.scheduler.every("reap-jobs", REAP_SECONDS, reap_jobs)
        self.scheduler.every("project-files", PROJECT_FILES_SECONDS, sync_all_from_files)
        self.scheduler.every("prune-logs", LOG_PRUNE_SECONDS, prune_log_files)
        self.scheduler.every("update-check", UPDATE_CHECK_SECONDS, record_check)
        self.leading = False
        self._stopped = threading.Event()

    def start(self) -> WorkerServices:
        # A worker serves no viewer, but its plugins' lines must reach every viewer.
        layer = get_channel_layer()
        self.runtime.component(LogPublisher, lambda: publisher_for(layer)).start()
        self.jobs.start()
        self.follower.follow()
        threading.Thread(target=self._lead, name="jupiter-leader", daemon=True).start()
        return self

    def _lead(self) -> None:
        """Hold (or wait for) the scheduler lease; run the periodic tasks while holding it."""
        holder = self.jobs.worker_id
        while not self._stopped.is_set():
            close_old_connections()
            leading = leases.hold(LEADER, holder, LEADER_TTL)
            if leading != self.leading:
                log.info("worker %s %s the scheduler", holder, "leads" if leading else "left")
                self.leading = leading
            if leading:
                self.scheduler.run_pending()
            self._stopped.wait(min(LEADER_RENEW, HEALTH_TICK_SECONDS))
        leases.release(LEADER, holder)
        connections.close_all()

    def stop(self, drain: float) -> bool:
        """SIGTERM: take no new job, let the running ones finish (up to ``drain`` s)."""
        drained = self.jobs.drain(drain)
        self._stopped.set()
        self.follower.stop()
        self.jobs.close()
        return drained
