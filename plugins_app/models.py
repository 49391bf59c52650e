"""Persistent state of the plugin host.

The database models what is installed (globally) and what each project enables; the
``<project>.jupiter.yaml`` file mirrors the per-project part (see ``projects.py``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PluginKind(models.TextChoices):
    CORE = "core", "Core"
    SYSTEM = "system", "System"
    TOOL = "tool", "Tool"


class PluginStatus(models.TextChoices):
    LOADING = "loading", "Loading"
    READY = "ready", "Ready"
    ERROR = "error", "Error"
    DISABLED = "disabled", "Disabled"


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
    def permissions(self) -> list[str]:
        return list(self.manifest.get("permissions", []))


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
