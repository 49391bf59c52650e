"""What the job sections of the plugin and project pages show, as plain values.

Shared by the views and the inclusion tags (``templatetags/jupiter_jobs.py``) that put these
sections on pages owned by other modules with a single template line. Everything a plugin
renders (panel contents) is turned into text here and autoescaped by the templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from plugins_app.base import conf
from plugins_app.jobs import breaker
from plugins_app.kernel.runtime import get_runtime
from plugins_app.models import InstalledPlugin, Job, Project, ProjectPlugin
from plugins_app.observability.health import HealthMonitor
from plugins_app.projects.roles import projects_operable_by, projects_visible_to
from plugins_app.web.presenters.results import project_results_context

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from plugins_app.sdk.bridge import Registration

    AnyUser = User | AnonymousUser


@dataclass(frozen=True)
class JobOffer:
    """A job the plugin page offers to run; ``owner`` differs when an extender added it."""

    owner: str
    name: str
    title: str
    description: str
    projects: tuple[str, ...]
    contributed: bool = False


@dataclass(frozen=True)
class PanelView:
    owner: str
    title: str
    facts: tuple[tuple[str, str], ...] = ()
    text: str = ""
    error: str = ""


def extenders_of(plugin_id: str) -> list[str]:
    """Loaded plugins whose manifest ``extends`` this one (SPEC L4)."""
    runtime = get_runtime()
    return sorted(
        r.plugin_id
        for r in runtime.bridge.registrations()
        if r.plugin_id in runtime.manifests and plugin_id in runtime.manifests[r.plugin_id].extends
    )


def _enabled_projects(plugin_id: str, user: AnyUser) -> tuple[str, ...]:
    """Projects enabling the plugin where ``user`` may run its jobs: no Run offer that would
    only answer 403."""
    return tuple(
        ProjectPlugin.objects.filter(
            plugin__plugin_id=plugin_id, enabled=True, project__in=projects_operable_by(user)
        )
        .order_by("project__name")
        .values_list("project__name", flat=True)
    )


def _render_panel(owner: str, spec: Any, target: str) -> PanelView:
    """A panel ``owner`` adds to ``target``'s page (``extends:``); same renderer contract as
    the plugin's own panels: ``render(context)``."""
    title = spec.title or spec.name
    try:
        value = spec.render({"plugin": {"id": owner}, "extends": target, "project": ""})
    except Exception as exc:
        return PanelView(owner, title, error=f"{type(exc).__name__}: {exc}")
    if isinstance(value, Mapping):
        return PanelView(owner, title, facts=tuple((str(k), str(v)) for k, v in value.items()))
    return PanelView(owner, title, text="" if value is None else str(value))


def job_offers(plugin_id: str, user: AnyUser) -> list[JobOffer]:
    """The plugin's own jobs, then those its extenders add to its page, each with the
    projects ``user`` may run it in."""
    runtime = get_runtime()
    offers: list[JobOffer] = []
    for owner in [plugin_id, *extenders_of(plugin_id)]:
        registration = runtime.bridge.registration(owner)
        if registration is None:
            continue
        projects = _enabled_projects(owner, user)
        offers += [
            JobOffer(owner, spec.name, spec.title, spec.description, projects, owner != plugin_id)
            for spec in registration.jobs.values()
        ]
    return offers


def plugin_runtime_context(plugin: InstalledPlugin, user: AnyUser) -> dict[str, Any]:
    """Jobs, panels, breaker and health of the plugin page, as ``user`` may see and use them
    (recent jobs only from projects they see, Run only where they may operate)."""
    runtime = get_runtime()
    extenders = extenders_of(plugin.plugin_id)
    panels = [
        _render_panel(owner, spec, plugin.plugin_id)
        for owner in extenders
        # extenders_of() lists loaded plugins only: each has a registration.
        for spec in cast("Registration", runtime.bridge.registration(owner)).ui.values()
        if spec.kind in {"panel", "widget"}
    ]
    monitor = runtime.existing(HealthMonitor)
    checked = monitor.results.get(plugin.plugin_id) if monitor is not None else None
    return {
        "plugin": plugin,
        "loaded": runtime.bridge.registration(plugin.plugin_id) is not None,
        "offers": job_offers(plugin.plugin_id, user),
        "panels": panels,
        "extenders": extenders,
        "breaker": breaker.state_of(plugin.plugin_id),
        "health": checked,
        "recent_jobs": Job.objects.filter(
            plugin_id__in=[plugin.plugin_id, *extenders], project__in=projects_visible_to(user)
        )
        .select_related("project")
        .order_by("-created_at")[:5],
        "developer_mode": conf.get().developer_mode,
    }


def project_jobs_context(project: Project) -> dict[str, Any]:
    active = (
        Job.objects.filter(project=project, plugin_id="", state__in=["pending", "running"])
        .select_related("project")
        .first()
    )
    return {
        "project": project,
        "current": active,
        "actions": [("scan", "Scan", True), ("analyze", "Analyse", False)],
        **project_results_context(project),
    }
