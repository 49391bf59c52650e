"""Writing the audit trail (SPEC X5). Entries are append-only: nothing here updates one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plugins_app.models import AuditAction, AuditEvent, Project

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


def record(
    action: AuditAction,
    *,
    actor: User | AnonymousUser | None = None,
    plugin_id: str = "",
    project: Project | None = None,
    before: Any = None,
    after: Any = None,
    detail: str = "",
) -> AuditEvent:
    """Append one audit entry; anonymous actors (CLI, system) are stored as null."""
    return AuditEvent.objects.create(
        action=action,
        actor=actor if actor is not None and actor.is_authenticated else None,
        plugin_id=plugin_id,
        project_name=project.name if project is not None else "",
        before=before,
        after=after,
        detail=detail,
    )
