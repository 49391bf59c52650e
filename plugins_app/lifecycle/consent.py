"""Consent, per project, to the permissions an update added (SPEC X1, issue 15).

After an update that declares more permissions, every project keeps its old grant
(``services.grants``): the plugin runs, but what it gained is refused there until a
maintainer of that project reads the list and accepts. Accepting grants every declared
permission, is audited, and restarts the plugin's process here and in every other process
(the kernel policy of a process is fixed when it starts).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from plugins_app.base.errors import JupiterError
from plugins_app.kernel.feed import UPDATED, announce
from plugins_app.kernel.runtime import get_runtime
from plugins_app.manifest.permissions import describe
from plugins_app.models import AuditAction, Project, ProjectPlugin, audit
from plugins_app.models.audit import Actor
from plugins_app.services.grants import pending

__all__ = ["ConsentError", "PendingConsent", "accept", "pending_in"]


class ConsentError(JupiterError):
    """Nothing waits for consent for this plugin in this project."""


@dataclass(frozen=True)
class PendingConsent:
    """A plugin enabled in a project whose installed version asks for more than was granted."""

    plugin_id: str
    name: str
    version: str
    permissions: tuple[tuple[str, str], ...]  # (name, what it allows)


def pending_in(project: Project) -> list[PendingConsent]:
    """The plugins enabled in ``project`` that wait for consent to new permissions."""
    rows = ProjectPlugin.objects.filter(
        project=project, enabled=True, granted_permissions__isnull=False
    ).select_related("plugin")
    found = []
    for row in rows.order_by("plugin__plugin_id"):
        waiting = pending(tuple(row.plugin.permissions), row.granted_permissions)
        if waiting:
            found.append(
                PendingConsent(
                    row.plugin.plugin_id,
                    row.plugin.name,
                    row.plugin.version,
                    tuple((p, describe(p)) for p in waiting),
                )
            )
    return found


def accept(project: Project, plugin_id: str, *, actor: Actor = None) -> tuple[str, ...]:
    """Grant ``plugin_id`` every permission its installed version declares in ``project``;
    returns the ones this added. ``ConsentError`` if none was waiting."""
    with transaction.atomic():
        row = (
            ProjectPlugin.objects.select_for_update()
            .select_related("plugin")
            .filter(project=project, plugin__plugin_id=plugin_id)
            .first()
        )
        added = pending(tuple(row.plugin.permissions), row.granted_permissions) if row else ()
        if row is None or not added:
            raise ConsentError(f"{plugin_id} has no new permission waiting in {project.name}")
        before = list(row.granted_permissions or [])
        ProjectPlugin.objects.filter(pk=row.pk).update(granted_permissions=None)
        audit.record(
            AuditAction.PERMISSION_GRANT,
            actor=actor,
            plugin_id=plugin_id,
            project=project,
            before={"granted": before},
            after={"granted": row.plugin.permissions},
            detail="accepted: " + ", ".join(added),
        )
        announce(UPDATED, plugin_id)  # other processes restart it under the new policy
    runtime = get_runtime()
    if runtime.booted and row.enabled:
        runtime.reconcile(reload={plugin_id})
    return added
