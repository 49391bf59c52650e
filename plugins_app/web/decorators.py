"""What every view checks before it works: who may call it, and which plugin or project it is
about (SPEC X4). Project roles are Django permissions (``projects.roles``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404

from plugins_app.models import InstalledPlugin, PluginKind, Project, ProjectPlugin, TokenScope
from plugins_app.projects.roles import OPERATE, VIEW, projects_visible_to

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

__all__ = [
    "can_operate_plugin",
    "can_read_plugin_logs",
    "plugin_or_404",
    "project_for",
    "staff_required",
    "token_scope",
]

View = Callable[..., HttpResponse]
AnyView = TypeVar("AnyView", bound=Callable[..., HttpResponseBase])


def staff_required(view: View) -> View:
    """403 for signed-in users who are not staff (login itself is enforced globally)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("staff only")
        return view(request, *args, **kwargs)

    return wrapped


def token_scope(scope: TokenScope) -> Callable[[AnyView], AnyView]:
    """Let an API token with ``scope`` stand in for a session on this (read-only) view; the
    token middleware reads the mark. Without it a token is never looked at."""

    def mark(view: AnyView) -> AnyView:
        view.token_scope = scope  # type: ignore[attr-defined]
        return view

    return mark


def plugin_or_404(plugin_id: str) -> InstalledPlugin:
    """An installed plugin's row; core plugins are part of Jupiter and have no pages (K1)."""
    return get_object_or_404(
        InstalledPlugin.objects.exclude(kind=PluginKind.CORE), plugin_id=plugin_id
    )


def project_for(user: User | AnonymousUser, name: str, permission: str = VIEW) -> Project:
    """The project, if ``user`` holds ``permission`` in it: 404 for one they cannot see (its
    existence is not disclosed), 403 for one they see but may not act on."""
    project = get_object_or_404(Project, name=name)
    if not user.has_perm(VIEW, project):
        raise Http404("no such project")
    if permission != VIEW and not user.has_perm(permission, project):
        raise PermissionDenied(f"your role in {project.name} does not allow this")
    return project


def _projects_enabling(plugin: InstalledPlugin, user: User | AnonymousUser) -> Any:
    enabling = ProjectPlugin.objects.filter(plugin=plugin, enabled=True).values("project")
    return projects_visible_to(user).filter(pk__in=enabling)


def can_read_plugin_logs(user: User | AnonymousUser, plugin: InstalledPlugin) -> bool:
    """Logs may quote any project the plugin works in: staff, or a member of one of them."""
    return bool(user.is_staff) or _projects_enabling(plugin, user).exists()


def can_operate_plugin(user: User | AnonymousUser, plugin: InstalledPlugin) -> bool:
    """Whether ``user`` may call a plugin's state-changing routes: staff, or a maintainer of a
    project that enables it."""
    return bool(user.is_staff) or any(
        user.has_perm(OPERATE, project) for project in _projects_enabling(plugin, user)
    )
