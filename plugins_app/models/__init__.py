"""Persistent state of the plugin host.

The database models what is installed (globally) and what each project enables; the
``<project>.jupiter.yaml`` file mirrors the per-project part (see ``projects.py``).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from plugins_app.base.keys import KeyFileError, fingerprint, load_public_key
from plugins_app.manifest.model import Manifest


class PluginKind(models.TextChoices):
    CORE = "core", "Core"
    SYSTEM = "system", "System"
    TOOL = "tool", "Tool"


class PluginStatus(models.TextChoices):
    LOADING = "loading", "Loading"
    READY = "ready", "Ready"
    ERROR = "error", "Error"
    DISABLED = "disabled", "Disabled"


class StatusSource(models.TextChoices):
    """Which part of the host set a plugin's status, so each part changes only its own.

    A health check, for one, may clear the error it reported but never a load error.
    """

    DISCOVERY = "discovery", "Discovery"
    MANIFEST = "manifest", "Manifest"
    COMPATIBILITY = "compatibility", "Compatibility"
    TRUST = "trust", "Trust"
    FOLDER = "folder", "Plugin folder"
    DEPENDENCIES = "dependencies", "Dependencies"
    ENABLEMENT = "enablement", "Enablement"
    LOAD = "load", "Load"
    HEALTH = "health", "Health check"


class TrustLevel(models.TextChoices):
    OFFICIAL = "official", "Official"
    VERIFIED = "verified", "Verified"
    COMMUNITY = "community", "Community"
    UNSIGNED = "unsigned", "Dev / Unsigned"


class Project(models.Model):
    """A directory on disk registered in Jupiter (SPEC D1)."""

    name = models.SlugField(max_length=64, unique=True)
    root_path = models.CharField(max_length=1024, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    file_hash = models.CharField(
        max_length=64,
        blank=True,
        help_text="SHA-256 of the project file as last read or written; a different hash on "
        "disk means it was edited by hand since.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class InstalledPlugin(models.Model):
    """A plugin installed globally (SPEC S1), as last discovered, with its status (L1)."""

    plugin_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=16, choices=PluginKind.choices, default=PluginKind.TOOL)
    description = models.TextField(blank=True)
    source_path = models.CharField(max_length=1024, blank=True)
    manifest = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=16, choices=PluginStatus.choices, default=PluginStatus.DISABLED
    )
    status_reason = models.TextField(blank=True)
    status_source = models.CharField(
        max_length=16, choices=StatusSource.choices, default=StatusSource.DISCOVERY
    )
    legacy = models.BooleanField(default=False)
    trust_level = models.CharField(
        max_length=16, choices=TrustLevel.choices, default=TrustLevel.UNSIGNED
    )
    installed_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "plugin_id"]

    def __str__(self) -> str:
        return f"{self.plugin_id} {self.version}"

    @property
    def typed_manifest(self) -> Manifest | None:
        """The stored manifest as the typed value (None while the plugin.yaml is invalid)."""
        return Manifest.from_snapshot(self.manifest)

    @property
    def permissions(self) -> list[str]:
        typed = self.typed_manifest
        return list(typed.permissions) if typed is not None else []


class ProjectPlugin(models.Model):
    """Per-project state of one plugin: enabled flag and config overrides (SPEC S2, S3)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="plugin_states")
    plugin = models.ForeignKey(
        InstalledPlugin, on_delete=models.CASCADE, related_name="project_states"
    )
    enabled = models.BooleanField(default=False)
    overrides = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "plugin"], name="unique_project_plugin")
        ]
        ordering = ["project__name", "plugin__plugin_id"]

    def __str__(self) -> str:
        state = "enabled" if self.enabled else "disabled"
        return f"{self.plugin.plugin_id} {state} in {self.project.name}"


class PluginConfig(models.Model):
    """Global configuration of one plugin; ``revision`` detects stale saves (SPEC X7)."""

    plugin = models.OneToOneField(InstalledPlugin, on_delete=models.CASCADE, related_name="config")
    values = models.JSONField(default=dict, blank=True)
    schema_version = models.PositiveIntegerField(default=1)
    revision = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    def __str__(self) -> str:
        return f"config of {self.plugin.plugin_id} (rev {self.revision})"


class AuditAction(models.TextChoices):
    INSTALL = "install", "Install"
    UNINSTALL = "uninstall", "Uninstall"
    UPDATE = "update", "Update"
    ENABLE = "enable", "Enable"
    DISABLE = "disable", "Disable"
    CONFIG_CHANGE = "config_change", "Config change"
    PERMISSION_DENIED = "permission_denied", "Permission denied"
    REMOTE_ACTION = "remote_action", "Remote action"
    PROJECT_FILE = "project_file", "Project file"
    TRUSTED_KEY = "trusted_key", "Trusted key change"


class AuditEvent(models.Model):
    """Append-only audit trail (SPEC X5): who did what, when, with before/after."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    plugin_id = models.CharField(max_length=64, blank=True, db_index=True)
    project_name = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.plugin_id}"


class KeyPurpose(models.TextChoices):
    PLUGINS = "plugins", "Plugin signing"
    MEETING = "meeting", "Meeting action plans"


class TrustedKey(models.Model):
    """An Ed25519 public key the operator trusts (SPEC X2, MT1), managed in the admin.

    Plugins signed by an active ``plugins`` key are ``verified``; Meeting action plans are
    accepted only when signed by an active ``meeting`` key.
    """

    name = models.CharField(max_length=100)
    public_key = models.CharField(
        max_length=64, unique=True, help_text="Base64 of the raw 32-byte key (the .pub file)."
    )
    fingerprint = models.CharField(max_length=32, editable=False, db_index=True)
    purpose = models.CharField(
        max_length=16, choices=KeyPurpose.choices, default=KeyPurpose.PLUGINS
    )
    active = models.BooleanField(default=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["purpose", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.fingerprint})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.public_key = self.public_key.strip()
        self.fingerprint = fingerprint(self.public_key)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self.public_key = self.public_key.strip()
        try:
            load_public_key(self.public_key)
        except KeyFileError as exc:
            raise ValidationError({"public_key": str(exc)}) from exc


class MeetingPlanStatus(models.TextChoices):
    PENDING = "pending", "Awaiting confirmation"
    EXECUTED = "executed", "Executed"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"


class MeetingPlan(models.Model):
    """A signed action plan from Meeting that passed every check (SPEC MT1).

    The unique ``nonce`` is what makes a replayed plan fail; refused plans are not stored,
    only audited.
    """

    nonce = models.CharField(max_length=128, unique=True)
    signer = models.CharField(max_length=32)
    received_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    summary = models.CharField(max_length=300, blank=True)
    actions = models.JSONField(default=list)
    read_only = models.BooleanField(default=True)
    status = models.CharField(
        max_length=16, choices=MeetingPlanStatus.choices, default=MeetingPlanStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    results = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"plan {self.nonce[:12]} ({self.status})"


class RetainedPluginConfig(models.Model):
    """Global settings of an uninstalled plugin, kept when the operator chose so (SPEC MK2)."""

    plugin_id = models.CharField(max_length=64, unique=True)
    values = models.JSONField(default=dict, blank=True)
    schema_version = models.PositiveIntegerField(default=1)
    version = models.CharField(max_length=64, blank=True)
    retained_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"retained config of {self.plugin_id}"


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
        max_length=128, blank=True, help_text="host:pid of the process that ran the job."
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


class HistoryKind(models.TextChoices):
    SCAN = "scan", "Scan"
    ANALYSIS = "analysis", "Analysis"
    NOTE = "note", "Plugin note"


class HistoryEntry(models.Model):
    """One entry of a project's timeline (SPEC D2, D3): scans, analyses, plugin notes.

    Jobs and config changes have their own tables; ``history.timeline`` merges them in.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="history")
    kind = models.CharField(max_length=16, choices=HistoryKind.choices)
    plugin_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "history entries"

    def __str__(self) -> str:
        return f"{self.project.name} {self.kind}: {self.summary}"


class ProjectGraph(models.Model):
    """The project's files and Python imports, as built by its latest scan (SPEC D3)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="graph")
    nodes = models.JSONField(default=list, blank=True)
    edges = models.JSONField(default=list, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL)
    built_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"graph of {self.project.name}"


class PluginReloadRequest(models.Model):
    """A hot reload asked for (SPEC L6); every server process in developer mode performs it.

    The first process to perform it stores its step log here, so the CLI can print it.
    """

    plugin_id = models.CharField(max_length=64)
    origin = models.CharField(max_length=128, help_text="host:pid that asked for it.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True)
    steps = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"reload {self.plugin_id} #{self.pk}"


class NotificationLevel(models.TextChoices):
    INFO = "info", "Info"
    SUCCESS = "success", "Success"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class Notification(models.Model):
    """Something a user should see in the bell (SPEC U8), written from event bus events.

    Shared by every user of the installation; ``read_by`` keeps each user's read state.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    level = models.CharField(
        max_length=16, choices=NotificationLevel.choices, default=NotificationLevel.INFO
    )
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)
    plugin_id = models.CharField(max_length=64, blank=True)
    topic = models.CharField(max_length=128, blank=True)
    read_by = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="read_notifications"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.level}: {self.title}"


class PluginDebugMode(models.Model):
    """Per-plugin debug mode (SPEC U8): verbose logs and debug metrics while it is on."""

    plugin = models.OneToOneField(
        InstalledPlugin, on_delete=models.CASCADE, related_name="debug_mode"
    )
    enabled = models.BooleanField(default=False)
    changed_at = models.DateTimeField(auto_now=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    def __str__(self) -> str:
        return f"debug mode of {self.plugin.plugin_id}: {'on' if self.enabled else 'off'}"
