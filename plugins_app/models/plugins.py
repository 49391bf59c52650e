"""Installed plugins and what is kept per plugin: status, settings, debug mode, reloads."""

from __future__ import annotations

from django.conf import settings
from django.db import models

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
    SAFE_MODE = "safe_mode", "Safe mode"


class TrustLevel(models.TextChoices):
    OFFICIAL = "official", "Official"
    VERIFIED = "verified", "Verified"
    COMMUNITY = "community", "Community"
    UNSIGNED = "unsigned", "Dev / Unsigned"


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
    signed = models.BooleanField(
        default=False,
        help_text="A valid signature was seen (at install or a sync): it may never go missing.",
    )
    pinned = models.BooleanField(
        default=False,
        help_text="Kept at its version: update checks and update-all skip it until unpinned.",
    )
    available_version = models.CharField(
        max_length=64,
        blank=True,
        help_text="The newer catalogue version the last update check found (the badge).",
    )
    update_checked_at = models.DateTimeField(null=True, blank=True)
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


class PluginRegistration(models.Model):
    """What a plugin's ``register()`` answered when its process last started, and the key of
    the code that answered it (``kernel.registrations``): a boot installs it without starting
    the process. A table of its own, so listing plugins never reads it."""

    plugin_id = models.CharField(max_length=64, unique=True)
    code_key = models.CharField(max_length=64)
    description = models.JSONField(default=dict)
    topics = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"registration of {self.plugin_id}"


class RetainedPluginConfig(models.Model):
    """Global settings of an uninstalled plugin, kept when the operator chose so (SPEC MK2)."""

    plugin_id = models.CharField(max_length=64, unique=True)
    values = models.JSONField(default=dict, blank=True)
    schema_version = models.PositiveIntegerField(default=1)
    version = models.CharField(max_length=64, blank=True)
    retained_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"retained config of {self.plugin_id}"


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
