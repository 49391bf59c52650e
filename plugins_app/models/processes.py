"""What happened to plugin processes: starts, stops, crashes and kills, kept for people.

The supervisor of every host process (web or worker) announces each event; the receiver in
``observability.processes`` writes it here, so a plugin page (and safe mode, where nothing
runs) shows a plugin's crash and timeout history whichever process saw it.
"""

from __future__ import annotations

from django.db import models


class ProcessEventKind(models.TextChoices):
    STARTED = "started", "Started"
    STOPPED = "stopped", "Stopped"
    CRASHED = "crashed", "Crashed"
    KILLED = "killed", "Killed"


class PluginProcessEvent(models.Model):
    """One start, stop, crash or kill of a plugin's process, with the reason people read."""

    plugin_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=ProcessEventKind.choices)
    reason = models.TextField(blank=True)
    pid = models.IntegerField(null=True, blank=True, help_text="The plugin process.")
    origin = models.CharField(
        max_length=128, blank=True, help_text="host:pid of the Jupiter process that ran it."
    )
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["plugin_id", "-at"], name="process_event_plugin_at")]

    def __str__(self) -> str:
        return f"{self.plugin_id} {self.kind} at {self.at:%Y-%m-%d %H:%M:%S}"
