"""What the processes of one deployment share to act as one: leases, the change feed and
the safe mode switch."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Lease(models.Model):
    """A named lease held by one process at a time (the scheduler's leader, job slots).

    Held by renewing ``expires_at`` before it passes; a process that dies simply stops
    renewing, and another takes the lease over once it has expired.
    """

    name = models.CharField(max_length=64, unique=True)
    holder = models.CharField(max_length=128, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"lease {self.name} held by {self.holder or 'nobody'}"


class ChangeEvent(models.Model):
    """One change every process must follow (a plugin enabled, updated, its settings saved).

    The database stays the truth: each process reads the events after the last one it saw,
    every half second, and brings its own state in step (SPEC T3).
    """

    topic = models.CharField(max_length=64)
    plugin_id = models.CharField(max_length=64, blank=True)
    project = models.CharField(max_length=64, blank=True)
    origin = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.topic} {self.plugin_id}".strip()


class SafeMode(models.Model):
    """The deployment's safe mode switch, one row (``pk=1``): while on, no process of the
    deployment (web or worker) starts a plugin process (SPEC X3, recovery).

    Every process reads it when it reconciles its plugins; turning it on or off is announced
    on the change feed so they all do at once (``lifecycle.recovery``).
    """

    enabled = models.BooleanField(default=False)
    changed_at = models.DateTimeField(auto_now=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    note = models.CharField(max_length=200, blank=True, help_text="Why it was turned on.")

    def __str__(self) -> str:
        return f"safe mode {'on' if self.enabled else 'off'}"
