"""Job runs: the product's record of every job (SPEC J1-J6)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from plugins_app.models.projects import Project


class JobState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Job(models.Model):
    """One run of a plugin job or a host job (SPEC J1); the source of truth for its state.

    Live events are hints (SPEC X8): ``seq`` is the sequence number of the last event sent for
    this job, so a page that missed one re-reads this record. ``plugin_id`` is empty for the
    host's own jobs (scan, analysis).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    plugin_id = models.CharField(max_length=64, blank=True, db_index=True)
    name = models.CharField(max_length=64)
    title = models.CharField(max_length=200, blank=True)
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    params = models.JSONField(default=dict, blank=True)
    state = models.CharField(
        max_length=16, choices=JobState.choices, default=JobState.PENDING, db_index=True
    )
    progress = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    timeout = models.FloatField(help_text="Seconds the job may run before it is failed.")
    seq = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    runner = models.CharField(
        max_length=128, blank=True, help_text="The worker running the job (host:pid:token)."
    )
    lease_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Renewed by the worker's heartbeat; a running job past it lost its worker.",
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    lost_worker = models.BooleanField(
        default=False,
        help_text="Failed because its worker stopped, not because of the plugin (the circuit "
        "breaker does not count it).",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["plugin_id", "state", "finished_at"])]

    def __str__(self) -> str:
        return f"{self.plugin_id or 'jupiter'}.{self.name} {self.state}"

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_JOB_STATES


FINAL_JOB_STATES = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED})


class JobEventRecord(models.Model):
    """A job event kept for web processes the channel layer cannot reach (no Redis).

    Written by a worker whose process has no WebSocket consumers, read and relayed by the web
    processes (``jobs.relay``), and pruned after a few minutes: events are hints, the
    ``Job`` row is the truth.
    """

    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.payload.get('type')} of job {self.payload.get('job')}"
