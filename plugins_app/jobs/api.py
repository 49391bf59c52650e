"""Jobs: the API plugins write against, and how the host submits and cancels them (SPEC J1-J6).

Writing a job
=============

A plugin registers a function in ``register(bridge)``::

    def count_lines(job, pattern="**/*.py"):
        files = job.files.list(pattern)               # needs fs_read, stays in the project
        total = 0
        for n, path in enumerate(files, 1):
            if job.is_cancelled():                    # the Cancel button, or a timeout
                return {"lines": total, "partial": True}
            total += job.files.read_text(path).count("\\n")
            job.progress(100 * n / len(files), path)  # percent (0-100) and a short message
        job.log.info("counted %d lines", total)
        return {"lines": total}                       # the result: JSON-serialisable

    bridge.register_job("count_lines", count_lines, title="Count lines")

The function is called as ``func(job, **params)`` in a worker thread, never on the request
path. ``job`` is a ``JobContext``:

- ``job.id``, ``job.plugin_id``, ``job.name``, ``job.params``;
- ``job.project``: ``ProjectInfo(name, root)`` of the project it runs for, or ``None``;
- ``job.config``: the plugin's effective config for that project (SPEC S3), read once;
- ``job.log``: the plugin's logger (``jupiter.plugin.<id>``);
- ``job.progress(percent, message="")``: persisted and streamed to the page (bounded to one
  update per whole percent, or per 0.2 s for message-only changes);
- ``job.is_cancelled()`` / ``job.raise_if_cancelled()``: cooperative cancellation; the
  latter raises ``JobCancelled``, which ends the job as ``cancelled``;
- ``job.files``: the project's files under the plugin's permissions (``fs_read``,
  ``fs_write``; nothing outside the project root);
- ``job.run(args, **kw)``: a command in the project root (``run_commands``, no shell).

The return value becomes ``Job.result``; an exception fails the job with its summary. A job
gets ``capabilities.jobs.timeout`` seconds from its manifest, else ``JUPITER_JOB_TIMEOUT``;
past it the job is ``failed`` and ``job.is_cancelled()`` turns true. A plugin whose jobs
fail ``JUPITER_BREAKER_THRESHOLD`` times in a row is refused new jobs for a cool-down
(``breaker.py``). State lost on hot reload: a job running during a reload finishes with the
old code.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from plugins_app.base import conf
from plugins_app.base.errors import BridgeError
from plugins_app.config.store import effective_config_for
from plugins_app.jobs import breaker
from plugins_app.jobs.executor import JobRunner, JobTicket, _Run
from plugins_app.jobs.scan import HOST_JOBS
from plugins_app.jobs.worker import JobWorker, announce_final, enqueue, this_worker
from plugins_app.kernel.runtime import get_runtime
from plugins_app.logs.hub import plugin_logger
from plugins_app.manifest.model import Manifest
from plugins_app.models import InstalledPlugin, Job, JobState, Project, ProjectPlugin
from plugins_app.models.audit import stored_user
from plugins_app.sdk.errors import JobCancelled
from plugins_app.sdk.sandbox import CommandResult, ProjectFiles
from plugins_app.sdk.values import ProjectInfo
from plugins_app.services.grants import for_project
from plugins_app.services.permissions import audit_refusal, checked_runner, require
from plugins_app.services.provider import plugin_data_dir

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

__all__ = [
    "JobCancelled",
    "JobContext",
    "JobRefused",
    "cancel",
    "executor",
    "make_runner",
    "submit",
]
log = logging.getLogger("jupiter.jobs")


class JobRefused(BridgeError):
    """A job cannot be submitted: unknown job, plugin not loaded or not enabled, bad params."""


class JobContext:
    """What a job function receives as ``job`` (see the module docstring)."""

    def __init__(self, ticket: JobTicket, run: _Run, manifest: Manifest | None) -> None:
        self._ticket, self._run, self._manifest = ticket, run, manifest
        self.id = ticket.job_id
        self.plugin_id = ticket.plugin_id
        self.name = ticket.name
        self.params = dict(ticket.params)
        self.project = ProjectInfo(ticket.project, Path(ticket.root)) if ticket.project else None
        self.log = plugin_logger(ticket.plugin_id or "jupiter")

    def progress(self, percent: float, message: str = "") -> None:
        self._run.report(percent, message)

    def is_cancelled(self) -> bool:
        return self._run.cancel.is_set()

    def raise_if_cancelled(self) -> None:
        if self.is_cancelled():
            raise JobCancelled(self.id)

    @functools.cached_property
    def config(self) -> Mapping[str, Any]:

        plugin = InstalledPlugin.objects.get(plugin_id=self.plugin_id)
        scope = Project.objects.filter(name=self._ticket.project).first()
        return dict(effective_config_for(plugin, scope).values)

    @functools.cached_property
    def files(self) -> ProjectFiles:
        if self.project is None or self._manifest is None:
            raise JobRefused("this job runs for no project: it has no project files")
        granted = for_project(self._manifest, self.project.name)
        return ProjectFiles(granted, self.project.root, require, audit_refusal)

    def run(self, args: list[str], **kwargs: Any) -> CommandResult:
        if self.project is None or self._manifest is None:
            raise JobRefused("this job runs for no project: it cannot run commands")
        root = self.project.root
        granted = for_project(self._manifest, self.project.name)
        runner = checked_runner(granted, lambda _name: root, plugin_data_dir(self._manifest.id))
        return runner.run(self.project.name, args, **kwargs)


def _runtime() -> Any:

    return get_runtime()


def _resolve(ticket: JobTicket) -> tuple[Any, Manifest | None]:
    if not ticket.plugin_id:
        return HOST_JOBS[ticket.name].func, None
    runtime = _runtime()
    registration = runtime.bridge.registration(ticket.plugin_id)
    if registration is None or ticket.name not in registration.jobs:
        raise LookupError(f"plugin '{ticket.plugin_id}' is no longer loaded in this process")
    return registration.jobs[ticket.name].func, runtime.manifests.get(ticket.plugin_id)


def _context(ticket: JobTicket, run: _Run) -> JobContext:
    manifest = _runtime().manifests.get(ticket.plugin_id) if ticket.plugin_id else None
    return JobContext(ticket, run, manifest)


def executor() -> JobWorker:
    """A worker inside this process, started on first use: for tests and the command line.

    Web processes never call it: they only enqueue, and ``jupiter_worker`` runs the jobs.
    """
    return get_runtime().component(
        JobWorker, lambda: JobWorker(conf.get().job_workers, make_runner).start()
    )


def make_runner() -> JobRunner:
    """The runner a worker uses: plugin jobs through the runtime, host jobs from the scan."""
    return JobRunner(_resolve, _context)


def _job_title(plugin_id: str, name: str) -> tuple[str, float | None]:
    """The job's title and its manifest timeout; ``JobRefused`` if it cannot run here."""
    if not plugin_id:
        if name not in HOST_JOBS:
            raise JobRefused(f"Jupiter has no job named '{name}'")
        return HOST_JOBS[name].title, None
    runtime = _runtime()
    registration = runtime.bridge.registration(plugin_id)
    if registration is None:
        status = InstalledPlugin.objects.filter(plugin_id=plugin_id).first()
        why = f" ({status.status}: {status.status_reason})" if status else ""
        raise JobRefused(f"plugin '{plugin_id}' is not loaded{why}")
    if name not in registration.jobs:
        raise JobRefused(f"plugin '{plugin_id}' has no job named '{name}'")
    return registration.jobs[name].title, runtime.manifests[plugin_id].capabilities.jobs.timeout


def submit(
    plugin_id: str,
    name: str,
    *,
    project: Project | None = None,
    params: Mapping[str, Any] | None = None,
    actor: User | AnonymousUser | None = None,
) -> Job:
    """Create a ``pending`` job and queue it for the workers; ``plugin_id=""`` for host jobs.

    Raises ``JobRefused`` (cannot run) or ``breaker.CircuitOpen`` (paused after failures).
    """
    params = dict(params or {})
    try:
        json.dumps(params)
    except (TypeError, ValueError) as exc:
        raise JobRefused(f"job parameters must be JSON: {exc}") from exc
    title, timeout = _job_title(plugin_id, name)
    if plugin_id and project is not None:
        enabled = ProjectPlugin.objects.filter(
            project=project, plugin__plugin_id=plugin_id, enabled=True
        ).exists()
        if not enabled:
            raise JobRefused(f"plugin '{plugin_id}' is not enabled in project '{project.name}'")
    user = stored_user(actor)
    with transaction.atomic():
        if plugin_id:
            breaker.check(plugin_id)
        job = Job.objects.create(
            plugin_id=plugin_id,
            name=name,
            title=title,
            project=project,
            params=params,
            timeout=timeout or conf.get().job_timeout,
            requested_by=user,
        )
        enqueue(job)
    return job


def _settle(job: Job, state: JobState, error: str) -> bool:
    """Move a job from its current non-final state to ``state``, if nobody did first."""
    updated = Job.objects.filter(pk=job.pk, state=job.state, seq=job.seq).update(
        state=state, error=error, message=error[:500], finished_at=timezone.now(), seq=job.seq + 1
    )
    if updated:
        job.refresh_from_db()
        announce_final(job)
    return bool(updated)


def cancel(job: Job) -> Job:
    """Cancel a pending job at once; ask a running one to stop (``job.is_cancelled()``)."""
    if job.state == JobState.PENDING and _settle(
        job, JobState.CANCELLED, "cancelled before it started"
    ):
        return job
    job.refresh_from_db()
    if job.state == JobState.RUNNING:
        Job.objects.filter(pk=job.pk).update(cancel_requested=True)
        worker = this_worker()
        if worker is not None:  # running here: no need to wait for the next poll
            worker.runner.request_cancel(str(job.pk))
        job.refresh_from_db()
    return job
