"""Running one job to its end, in a worker process (SPEC J1-J5, X3).

A worker thread (``jobs.worker``) claims the ``Job`` row (``pending`` -> ``running``, a
conditional update under the deployment's concurrency limits, so a job cancelled meanwhile
or claimed by another worker never runs twice), then the runner starts the job function in
a thread of its own and supervises it:

- the function returns: ``completed`` with its JSON-serialisable result (``cancelled`` if a
  cancel was requested meanwhile);
- it raises: ``failed`` with the exception summarised (``JobCancelled`` -> ``cancelled``);
- it outlives its timeout: ``failed`` ("timed out"), and its cancel flag is set;
- a cancel is requested (this process, or the database flag set by another one) and it does
  not return within ``JUPITER_JOB_CANCEL_GRACE``: ``cancelled`` ("did not stop").

A plugin's job runs in the plugin's process; the thread here only waits for its answer. A
job that outlives its time limit, or ignores a cancellation past the grace period, is
stopped for good: the job function's ``abort(reason)`` kills the plugin's process (with
everything it was doing), which is started again on next use. No thread is left running
plugin code. The host's own jobs (scan, analysis) have no process to kill; they are only
ever asked to stop.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connections
from django.utils import timezone

from plugins_app.base import conf
from plugins_app.base.signals import send_on_commit
from plugins_app.jobs.events import (
    FINAL_EVENTS,
    JOB_PROGRESS,
    JOB_STARTED,
    JobEvent,
    job_finished,
    publisher,
)
from plugins_app.manifest.tracebacks import summarise_exception
from plugins_app.models import Job, JobState
from plugins_app.sdk.errors import JobCancelled

log = logging.getLogger("jupiter.jobs")
# A cancel asked for in another process (the console) is seen within this; a job that
# ignores it is stopped within the grace period plus this plus the kill.
CANCEL_POLL_SECONDS = 0.25
PROGRESS_MIN_INTERVAL = 0.2


@dataclass(frozen=True)
class JobTicket:
    """What a worker needs to run a job without re-reading its row."""

    job_id: str
    plugin_id: str
    name: str
    params: Mapping[str, Any]
    project: str
    root: str
    timeout: float
    seq: int = 0


@dataclass
class _Run:
    """One job in flight: its flags, its outcome, and its event sequence."""

    ticket: JobTicket
    seq: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)
    wake: threading.Event = field(default_factory=threading.Event)
    cancel: threading.Event = field(default_factory=threading.Event)
    cancel_by_user: bool = False
    finished: bool = False
    percent: int = 0
    message: str = ""
    last_emit: float = 0.0
    outcome: tuple[str, Any] = ("none", None)

    def event(self, kind: str, state: str) -> JobEvent:
        self.seq += 1
        t = self.ticket
        return JobEvent(
            kind, t.job_id, self.seq, state, self.percent, self.message, t.plugin_id, t.project
        )

    def report(self, percent: float, message: str) -> None:
        """Persist and announce progress; bounded to one write per percent or 0.2 s."""
        value = max(0, min(100, int(percent)))
        text = str(message)[:500]
        with self.lock:
            now = time.monotonic()
            if self.finished or (
                value == self.percent
                and (text == self.message or now - self.last_emit < PROGRESS_MIN_INTERVAL)
            ):
                return
            self.percent, self.message, self.last_emit = value, text, now
            event = self.event(JOB_PROGRESS, JobState.RUNNING)
            Job.objects.filter(pk=self.ticket.job_id, state=JobState.RUNNING).update(
                progress=value, message=text, seq=event.seq
            )
            publisher().publish(event)


JobFunction = Callable[..., Any]
Resolver = Callable[[JobTicket], tuple[JobFunction, Any]]
ContextFactory = Callable[[JobTicket, _Run], Any]


def _json_or_error(value: Any) -> tuple[Any, str]:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        return None, f"the job returned a value that is not JSON-serialisable: {exc}"
    return value, ""


Claim = Callable[[JobTicket, JobEvent], bool]


class JobRunner:
    """Runs one job at a time per calling thread, to its end (the worker's threads call it).

    ``run`` claims the job through ``claim`` (the worker's conditional update, with its lease
    and the concurrency limits), runs the job function in a thread of its own and supervises
    it; it returns once the job is settled in the database.
    """

    def __init__(self, resolve: Resolver, make_context: ContextFactory) -> None:
        self._resolve = resolve
        self._make_context = make_context
        self._running: dict[str, _Run] = {}
        self._lock = threading.Lock()

    def request_cancel(self, job_id: str) -> bool:
        """Flag a job running in this process; False if it does not run here."""
        with self._lock:
            run = self._running.get(job_id)
        if run is None:
            return False
        run.cancel_by_user = True
        run.cancel.set()
        run.wake.set()
        return True

    def running_ids(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def run(self, ticket: JobTicket, claim: Claim) -> bool:
        """Claim and run ``ticket``; False when it was not claimed (taken, cancelled, or no
        free slot: the caller tries again later)."""
        run = _Run(ticket, ticket.seq)
        started = run.event(JOB_STARTED, JobState.RUNNING)
        if not claim(ticket, started):
            return False
        with self._lock:
            self._running[ticket.job_id] = run
        try:
            publisher().publish(started)
            self._execute(run)
        finally:
            with self._lock:
                self._running.pop(ticket.job_id, None)
        return True

    def _execute(self, run: _Run) -> None:
        ticket = run.ticket
        try:
            func, manifest = self._resolve(ticket)
        except LookupError as exc:
            self._finish(run, JobState.FAILED, error=str(exc))
            return
        context = self._make_context(ticket, run)
        thread = threading.Thread(
            target=self._body, args=(run, func, context), name=f"jupiter-job-{ticket.job_id}"
        )
        thread.daemon = True
        thread.start()
        self._supervise(run, func, manifest)

    @staticmethod
    def _body(run: _Run, func: JobFunction, context: Any) -> None:
        try:
            run.outcome = ("ok", func(context, **run.ticket.params))
        except JobCancelled:
            run.outcome = ("cancelled", None)
        except (Exception, SystemExit) as exc:
            run.outcome = ("error", exc)
        finally:
            connections.close_all()
            run.done.set()
            run.wake.set()

    @staticmethod
    def _abort(run: _Run, func: JobFunction, reason: str) -> None:
        """Kill what runs the job (its plugin's process), then wait for the thread to end."""
        abort = getattr(func, "abort", None)
        if callable(abort):
            abort(reason)
            run.done.wait(5.0)

    def _supervise(self, run: _Run, func: JobFunction, manifest: Any) -> None:
        start = time.monotonic()
        deadline = start + run.ticket.timeout
        next_poll = start + CANCEL_POLL_SECONDS
        cancel_deadline: float | None = None
        while not run.done.is_set():
            now = time.monotonic()
            until = min(deadline, next_poll, cancel_deadline or deadline)
            run.wake.wait(max(0.0, until - now))
            run.wake.clear()
            if run.done.is_set():
                break
            now = time.monotonic()
            if now >= next_poll:
                next_poll = now + CANCEL_POLL_SECONDS
                if Job.objects.filter(pk=run.ticket.job_id, cancel_requested=True).exists():
                    run.cancel_by_user = True
                    run.cancel.set()
            if run.cancel_by_user and cancel_deadline is None:
                cancel_deadline = now + conf.get().job_cancel_grace
            if cancel_deadline is not None and now >= cancel_deadline:
                grace = conf.get().job_cancel_grace
                reason = f"job {run.ticket.job_id} ignored its cancellation for {grace:g} s"
                log.warning("%s; its plugin process is stopped", reason)
                self._abort(run, func, reason)
                self._finish(
                    run,
                    JobState.CANCELLED,
                    error=f"cancelled: the job did not stop within {grace:g} s of the "
                    "request, so its plugin process was stopped",
                )
                return
            if now >= deadline:
                run.cancel.set()
                reason = f"job {run.ticket.job_id} ran past its {run.ticket.timeout:g} s limit"
                log.warning("%s; its plugin process is stopped", reason)
                self._abort(run, func, reason)
                self._finish(
                    run,
                    JobState.FAILED,
                    error=f"timed out after {run.ticket.timeout:g} s (the job's time limit)",
                )
                return
        kind, value = run.outcome
        if kind == "error":
            summary = (
                summarise_exception(value, manifest)
                if manifest
                else f"{type(value).__name__}: {value}"
            )
            self._finish(run, JobState.FAILED, error=summary)
        elif kind == "cancelled" or run.cancel_by_user:
            result = _json_or_error(value)[0] if kind == "ok" else None
            self._finish(run, JobState.CANCELLED, result=result, error="cancelled on request")
        else:
            result, problem = _json_or_error(value)
            if problem:
                self._finish(run, JobState.FAILED, error=problem)
            else:
                self._finish(run, JobState.COMPLETED, result=result)

    def _finish(self, run: _Run, state: str, *, result: Any = None, error: str = "") -> None:
        with run.lock:
            run.finished = True
            if state == JobState.COMPLETED:
                run.percent = 100
            if error:
                run.message = error[:500]
            event = run.event(FINAL_EVENTS[state], state)
            Job.objects.filter(pk=run.ticket.job_id, state=JobState.RUNNING).update(
                state=state,
                result=result,
                error=error,
                progress=run.percent,
                message=run.message,
                finished_at=timezone.now(),
                seq=event.seq,
            )
            publisher().publish(event)
        log.info("job %s %s%s", run.ticket.job_id, state, f": {error}" if error else "")
        send_on_commit(
            job_finished,
            JobEvent,
            state=state,
            payload={**event.payload(), "name": run.ticket.name},
        )
