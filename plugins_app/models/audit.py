"""The audit trail (SPEC X5) and its one writer. Entries are append-only: nothing updates one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from django.conf import settings
from django.db import models

from plugins_app.models.projects import Project

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

Actor: TypeAlias = "User | AnonymousUser | None"
"""Who did something: a console user (possibly anonymous), or None for the CLI and system."""


def stored_user(actor: Actor) -> User | None:
    """The user a row records: anonymous actors (CLI, system, no session) are stored as null."""
    return actor if actor is not None and actor.is_authenticated else None


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
    MEMBERSHIP = "membership", "Project member change"
    API_TOKEN = "api_token", "API token change"
    PROCESS_CRASHED = "process_crashed", "Plugin process crashed"
    PROCESS_KILLED = "process_killed", "Plugin process killed"
    SAFE_MODE = "safe_mode", "Safe mode"
    PERMISSION_GRANT = "permission_grant", "Permissions accepted"
    PIN = "pin", "Version pinned or unpinned"
    PLUGIN_API_CALL = "plugin_api_call", "Plugin API call"


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


def record(
    action: AuditAction,
    *,
    actor: Actor = None,
    plugin_id: str = "",
    project: Project | None = None,
    before: Any = None,
    after: Any = None,
    detail: str = "",
) -> AuditEvent:
    """Append one audit entry; anonymous actors (CLI, system) are stored as null."""
    return AuditEvent.objects.create(
        action=action,
        actor=stored_user(actor),
        plugin_id=plugin_id,
        project_name=project.name if project is not None else "",
        before=before,
        after=after,
        detail=detail,
    )
