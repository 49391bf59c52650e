"""Project roles as Django permissions (SPEC X4), through ``rules`` predicates.

Staff administer the installation and so every project. Otherwise a user's one role in a
project decides: a viewer reads it, a maintainer also enables and disables plugins, sets the
project's overrides and runs jobs, an owner also manages members. Views and consumers ask
``user.has_perm(PERMISSION, project)``; the permission names are the constants below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import rules
from django.db import transaction
from django.db.models import QuerySet

from plugins_app.models import (
    ROLE_RANK,
    AuditAction,
    Project,
    ProjectMembership,
    ProjectRole,
    audit,
)
from plugins_app.models.audit import Actor
from plugins_app.projects.errors import MembershipError

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    AnyUser = User | AnonymousUser

__all__ = [
    "MANAGE_MEMBERS",
    "OPERATE",
    "VIEW",
    "grant",
    "projects_operable_by",
    "projects_visible_to",
    "revoke",
    "role_of",
]

VIEW = "plugins_app.view_project"
OPERATE = "plugins_app.operate_project"
MANAGE_MEMBERS = "plugins_app.manage_project_members"


def role_of(user: AnyUser, project: Project) -> str | None:
    """The user's role in the project, or None; staff are not members by being staff."""
    if not user.is_authenticated:
        return None
    return (
        ProjectMembership.objects.filter(project=project, user_id=user.pk)
        .values_list("role", flat=True)
        .first()
    )


def _at_least(role: ProjectRole) -> rules.Predicate:
    @rules.predicate(name=f"at_least_{role.value}")
    def check(user: AnyUser, project: Project | None) -> bool:
        if project is None:
            return False
        found = role_of(user, project)
        return found is not None and ROLE_RANK[found] >= ROLE_RANK[role]

    return check


is_staff = rules.is_staff & rules.is_active

rules.add_perm(VIEW, is_staff | _at_least(ProjectRole.VIEWER))
rules.add_perm(OPERATE, is_staff | _at_least(ProjectRole.MAINTAINER))
rules.add_perm(MANAGE_MEMBERS, is_staff | _at_least(ProjectRole.OWNER))


def projects_visible_to(user: AnyUser) -> QuerySet[Project]:
    """Every project for staff; otherwise the ones the user has a role in."""
    if user.is_authenticated and user.is_staff and user.is_active:
        return Project.objects.all()
    if not user.is_authenticated:
        return Project.objects.none()
    return Project.objects.filter(memberships__user_id=user.pk)


def projects_operable_by(user: AnyUser) -> QuerySet[Project]:
    """The projects whose jobs and plugins the user may run and change (``OPERATE``), as one
    query: the same rule as the permission, for lists that must not offer what would be 403."""
    if user.is_authenticated and user.is_staff and user.is_active:
        return Project.objects.all()
    if not user.is_authenticated:
        return Project.objects.none()
    return Project.objects.filter(
        memberships__user_id=user.pk,
        memberships__role__in=[ProjectRole.MAINTAINER, ProjectRole.OWNER],
    )


def _owners_left(project: Project, without_user_id: int) -> bool:
    others = ProjectMembership.objects.filter(project=project, role=ProjectRole.OWNER)
    return others.exclude(user_id=without_user_id).exists()


def grant(project: Project, user: User, role: str, *, actor: Actor = None) -> None:
    """Give ``user`` ``role`` in the project (replacing any other role of theirs), audited.

    An owner cannot demote the last owner: someone must be left to manage members.
    """
    if role not in ROLE_RANK:
        raise MembershipError(f"unknown role {role!r}")
    with transaction.atomic():
        before = role_of(user, project)
        demoting = before == ProjectRole.OWNER and role != ProjectRole.OWNER
        if demoting and not _owners_left(project, user.pk):
            raise MembershipError(f"{user} is the last owner of {project.name}")
        ProjectMembership.objects.update_or_create(
            project=project, user_id=user.pk, defaults={"role": role}
        )
        audit.record(
            AuditAction.MEMBERSHIP,
            actor=actor,
            project=project,
            before={"user": user.get_username(), "role": before},
            after={"user": user.get_username(), "role": role},
            detail=f"{user.get_username()} is now {role}",
        )


def revoke(project: Project, user: User, *, actor: Actor = None) -> None:
    """Remove the user's role in the project, audited; never the last owner's."""
    with transaction.atomic():
        before = role_of(user, project)
        if before is None:
            return
        if before == ProjectRole.OWNER and not _owners_left(project, user.pk):
            raise MembershipError(f"{user} is the last owner of {project.name}")
        ProjectMembership.objects.filter(project=project, user_id=user.pk).delete()
        audit.record(
            AuditAction.MEMBERSHIP,
            actor=actor,
            project=project,
            before={"user": user.get_username(), "role": before},
            detail=f"{user.get_username()} removed",
        )
