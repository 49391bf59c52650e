"""Workers: the processes that run jobs, on Django's tasks API (SPEC J1-J6, T3).

Web processes only enqueue: ``submit`` writes the ``Job`` row (the product's record) and
enqueues ``run_job`` through Django's tasks API (the ``django-tasks`` backport of Django 6's
``django.tasks``), stored by ``django-tasks-db`` in the same database, SQLite or PostgreSQL.
Workers (``manage.py jupiter_worker``; ``make run`` starts one) claim those tasks with the
engine's row locking and run them on their threads. Jupiter adds what the engine leaves out:

- **Leases.** A running job carries ``lease_until``, renewed every few seconds by its
  worker's heartbeat. The scheduler's leader retries a job whose lease ran out once, then
  fails it as "its worker stopped", whatever host the worker was on; such a failure is not
  held against the plugin (the circuit breaker skips it).
- **Limits.** ``JUPITER_JOB_WORKERS`` jobs run at once in the whole deployment, and at most
  ``capabilities.jobs.max_concurrent`` of one plugin; a job that finds no free slot goes
  back to the queue for a moment.
- **Wake-ups.** Enqueueing rings a doorbell (a datagram to each worker's socket in the
  shared run folder), so an idle worker starts a job within milliseconds instead of at its
  next poll; workers on other hosts poll every half second.
- **Drain.** On SIGTERM a worker takes no new job and lets running ones finish (up to
  ``JUPITER_WORKER_DRAIN`` seconds) before it exits; a rolling deploy fails nothing.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.db import close_old_connections, connections, transaction
from django.db.models import F
from django.db.utils import OperationalError
from django.utils import timezone
from django_tasks import task
from django_tasks_db.management.commands.db_worker import Worker as EngineWorker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from plugins_app.base import conf
from plugins_app.base.process import process_id
from plugins_app.jobs.events import FINAL_EVENTS, JobEvent, publisher
from plugins_app.jobs.executor import JobRunner, JobTicket
from plugins_app.kernel.runtime import get_runtime
from plugins_app.models import Job, JobState, Lease

__all__ = [
    "LEASE_SECONDS",
    "QUEUE",
    "JobWorker",
    "announce_final",
    "enqueue",
    "reap_jobs",
    "ring",
    "run_job",
    "this_worker",
]

log = logging.getLogger("jupiter.worker")
QUEUE = "jupiter"
LEASE_SECONDS = 15.0
HEARTBEAT_SECONDS = 5.0
POLL_SECONDS = 0.5
DEFER_SECONDS = 0.25
MAX_ATTEMPTS = 2
SLOTS = "job-slots"
LOST = "its worker stopped (no heartbeat for {lease:g} s) while it ran"

_current: JobWorker | None = None


def _run_dir() -> Path:
    folder = Path(conf.get().log_dir).parent / "run" / "workers"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def ring() -> None:
    """Wake the idle workers of this host: one datagram to each worker's socket."""
    with contextlib.suppress(OSError):
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sender.setblocking(False)
        with sender:
            for path in _run_dir().glob("*.sock"):
                try:
                    sender.sendto(b"1", str(path))
                except (ConnectionRefusedError, FileNotFoundError):
                    path.unlink(missing_ok=True)  # a worker that is gone
                except BlockingIOError:
                    pass  # its queue is full: it is awake anyway


def enqueue(job: Job) -> None:
    """Queue ``job`` for the workers, once the transaction that created it commits."""
    job_id = str(job.pk)

    def send() -> None:
        run_job.enqueue(job_id)
        ring()

    transaction.on_commit(send)


@task(queue_name=QUEUE)
def run_job(job_id: str) -> str:
    """The engine's task: run one Jupiter job on the worker that claimed it."""
    worker = this_worker()
    if worker is None:
        raise RuntimeError("run_job runs only in a Jupiter worker (manage.py jupiter_worker)")
    return worker.execute(job_id)


def this_worker() -> JobWorker | None:
    return _current


class _Doorbell:
    """A datagram socket the web processes ring; waiting on it is the idle worker's sleep."""

    def __init__(self, worker_id: str) -> None:
        self.path = _run_dir() / f"{worker_id.replace(':', '-')}.sock"
        self.path.unlink(missing_ok=True)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.path))
        self._event = threading.Event()
        threading.Thread(target=self._listen, name="jupiter-doorbell", daemon=True).start()

    def _listen(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self._sock.recv(64)
                self._event.set()

    def wait(self, timeout: float) -> None:
        self._event.wait(timeout)
        self._event.clear()

    def ring(self) -> None:
        self._event.set()

    def close(self) -> None:
        self._sock.close()
        self.path.unlink(missing_ok=True)


class JobWorker:
    """A worker's job threads: claim queued tasks, run their jobs, keep the leases alive."""

    def __init__(self, threads: int, make_runner: Callable[[], JobRunner]) -> None:
        self.worker_id = f"{process_id()}:{secrets.token_hex(4)}"
        self.runner = make_runner()
        self._threads = threads
        self._accepting = threading.Event()
        self._stopped = threading.Event()
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._doorbell = _Doorbell(self.worker_id)
        self._pool: list[threading.Thread] = []

    def start(self) -> JobWorker:
        global _current
        _current = self
        self._accepting.set()
        for n in range(self._threads):
            thread = threading.Thread(target=self._loop, name=f"jupiter-worker-{n}", daemon=True)
            thread.start()
            self._pool.append(thread)
        beat = threading.Thread(target=self._heartbeat, name="jupiter-heartbeat", daemon=True)
        beat.start()
        log.info("worker %s started with %d threads", self.worker_id, self._threads)
        return self

    # -- claiming tasks --------------------------------------------------------------

    def _loop(self) -> None:
        engine = EngineWorker(
            queue_names=[QUEUE],
            interval=0,
            batch=False,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=self.worker_id[-64:],
            excluded_queue_names=[],
        )
        try:
            while self._accepting.is_set():
                close_old_connections()
                claimed = self._claim_task()
                if claimed is None:
                    self._doorbell.wait(POLL_SECONDS)
                    continue
                with self._busy_lock:
                    self._busy += 1
                try:
                    engine.run_task(claimed)
                finally:
                    with self._busy_lock:
                        self._busy -= 1
        finally:
            connections.close_all()

    def _claim_task(self) -> DBTaskResult | None:
        tasks = DBTaskResult.objects.ready().filter(queue_name=QUEUE, backend_name="default")
        try:
            with exclusive_transaction(tasks.db):
                found = tasks.get_locked()
                if found is not None:
                    found.claim(self.worker_id[-64:])
                return found
        except OperationalError as exc:
            if is_locked_database_exception(exc):
                return None
            raise

    # -- running jobs ----------------------------------------------------------------

    def execute(self, job_id: str) -> str:
        """Run the job, or put its task back for a moment when no slot is free."""
        job = Job.objects.select_related("project").filter(pk=job_id).first()
        if job is None or job.state != JobState.PENDING:
            return "skipped"  # cancelled before it started, or already taken
        if not self.runner.run(ticket_for(job), self._claim):
            if Job.objects.filter(pk=job_id, state=JobState.PENDING).exists():
                run_job.using(run_after=timezone.now() + timedelta(seconds=DEFER_SECONDS)).enqueue(
                    job_id
                )
                return "deferred"
            return "skipped"
        return "ran"

    def _claim(self, ticket: JobTicket, started: JobEvent) -> bool:
        """``pending`` -> ``running`` under the deployment-wide and per-plugin limits.

        The ``job-slots`` lease row is locked for the count and the update, so two workers
        never both take the last slot (SQLite serialises the transaction anyway).
        """
        now = timezone.now()
        with transaction.atomic():
            Lease.objects.select_for_update().get_or_create(name=SLOTS)
            running = Job.objects.filter(state=JobState.RUNNING, lease_until__gt=now)
            if running.count() >= conf.get().job_workers:
                return False
            limit = _plugin_limit(ticket.plugin_id)
            if limit and running.filter(plugin_id=ticket.plugin_id).count() >= limit:
                return False
            return bool(
                Job.objects.filter(pk=ticket.job_id, state=JobState.PENDING).update(
                    state=JobState.RUNNING,
                    started_at=now,
                    runner=self.worker_id,
                    lease_until=now + timedelta(seconds=LEASE_SECONDS),
                    attempts=F("attempts") + 1,
                    seq=started.seq,
                )
            )

    def _heartbeat(self) -> None:
        while not self._stopped.wait(HEARTBEAT_SECONDS):
            close_old_connections()
            running = self.runner.running_ids()
            if running:
                until = timezone.now() + timedelta(seconds=LEASE_SECONDS)
                Job.objects.filter(pk__in=running, runner=self.worker_id).update(lease_until=until)
        connections.close_all()

    # -- waiting and stopping --------------------------------------------------------

    def wait(self, job_id: str, timeout: float | None = None) -> bool:
        """Until the job is settled and, if it ran here, its ending fully announced (tests and
        the command line); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            if job_id not in self.runner.running_ids() and (
                Job.objects.filter(pk=job_id, state__in=list(FINAL_EVENTS)).exists()
            ):
                return True
            time.sleep(0.01)
        return False

    def drain(self, timeout: float) -> bool:
        """Take no new job; wait for the running ones. True when none is left."""
        self._accepting.clear()
        self._doorbell.ring()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._busy_lock:
                if self._busy == 0:
                    return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        """Stop claiming, stop the heartbeat (running jobs' leases then expire)."""
        global _current
        self._accepting.clear()
        self._stopped.set()
        self._doorbell.ring()
        for thread in self._pool:
            thread.join(1.0)
        self._doorbell.close()
        if _current is self:
            _current = None


def _plugin_limit(plugin_id: str) -> int | None:
    if not plugin_id:
        return None
    manifest = get_runtime().manifests.get(plugin_id)
    return manifest.capabilities.jobs.max_concurrent if manifest is not None else None


def ticket_for(job: Job) -> JobTicket:
    project = job.project
    return JobTicket(
        str(job.pk),
        job.plugin_id,
        job.name,
        dict(job.params),
        project.name if project else "",
        project.root_path if project else "",
        job.timeout,
        job.seq,
    )


def announce_final(job: Job) -> None:
    """Send the final event of a job settled outside a job thread (cancel, the reaper)."""
    publisher().publish(
        JobEvent(
            FINAL_EVENTS[job.state],
            str(job.pk),
            job.seq,
            job.state,
            job.progress,
            job.message,
            job.plugin_id,
            job.project.name if job.project is not None else "",
        )
    )


def reap_jobs(now: Any = None) -> tuple[int, int]:
    """The leader's sweep: running jobs whose worker stopped renewing their lease.

    Each is retried once (back to ``pending``, queued again) and failed after that, marked
    ``lost_worker`` so the circuit breaker does not count it against the plugin. Returns
    (retried, failed).
    """
    now = now or timezone.now()
    retried = failed = 0
    lease = LEASE_SECONDS
    for job in Job.objects.filter(state=JobState.RUNNING, lease_until__lt=now).select_related(
        "project"
    ):
        stale = Job.objects.filter(pk=job.pk, state=JobState.RUNNING, seq=job.seq)
        if job.attempts < MAX_ATTEMPTS:
            if stale.update(
                state=JobState.PENDING,
                runner="",
                lease_until=None,
                seq=job.seq + 1,
                message=f"{LOST.format(lease=lease)}; queued again",
            ):
                retried += 1
                run_job.enqueue(str(job.pk))
            continue
        error = LOST.format(lease=lease)
        if stale.update(
            state=JobState.FAILED,
            error=error,
            message=error[:500],
            lost_worker=True,
            finished_at=now,
            seq=job.seq + 1,
        ):
            failed += 1
            job.refresh_from_db()
            announce_final(job)
    if retried or failed:
        log.warning("%d jobs of stopped workers queued again, %d failed", retried, failed)
        ring()
    return retried, failed
