"""Keeping plugins current (SPEC MK3, U7, issue 15): check now, update all, pin, consent.

Checking, updating and pinning change what code the host runs: staff only. Accepting the
permissions an update added is a project's decision, so it is for the project's maintainers
(``OPERATE``), each project for itself.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from plugins_app.lifecycle.consent import ConsentError, accept
from plugins_app.lifecycle.updates import record_check, set_pinned, update_all
from plugins_app.models import InstalledPlugin
from plugins_app.projects.roles import OPERATE
from plugins_app.trust.catalogue import CatalogueError
from plugins_app.web.decorators import project_for, staff_required
from plugins_app.web.views import JupiterRequest


@require_POST
@staff_required
def check_now(request: JupiterRequest) -> HttpResponse:
    """Ask the catalogues now instead of waiting for the scheduled check; badges follow."""
    try:
        found = record_check()
    except CatalogueError as exc:
        messages.error(request, f"The catalogue could not be read: {exc}")
        return redirect("plugins_app:catalogue")
    if found:
        names = ", ".join(f"{item.plugin_id} {item.entry.version}" for item in found)
        messages.info(request, f"Updates available: {names}.")
    else:
        messages.info(request, "Every installed plugin that is not pinned is up to date.")
    return redirect("plugins_app:catalogue")


@require_POST
@staff_required
def update_everything(request: JupiterRequest) -> HttpResponse:
    """Update every unpinned plugin; those asking for new permissions wait for a review."""
    try:
        outcomes = update_all(actor=request.user)
    except CatalogueError as exc:
        messages.error(request, f"The catalogue could not be read: {exc}")
        return redirect("plugins_app:catalogue")
    if not outcomes:
        messages.info(request, "Nothing to update.")
    for outcome in outcomes:
        name = f"{outcome.plugin_id} {outcome.version}"
        if outcome.error:
            messages.error(request, f"{name} was not installed: {outcome.error}")
        elif outcome.waiting_consent:
            asked = ", ".join(outcome.waiting_consent)
            messages.warning(
                request,
                f"{name} asks for new permissions ({asked}): review it with its Update button.",
            )
        else:
            messages.info(request, f"{name} installed.")
    return redirect("plugins_app:catalogue")


@require_POST
@staff_required
def pin(request: JupiterRequest, plugin_id: str) -> HttpResponse:
    """Pin at the installed version (``pinned=1``) or unpin; checks and update-all skip it."""
    plugin = get_object_or_404(InstalledPlugin, plugin_id=plugin_id)
    pinned = request.POST.get("pinned") == "1"
    set_pinned(plugin.plugin_id, pinned, actor=request.user)
    if pinned:
        messages.info(request, f"{plugin.name} is pinned at {plugin.version}.")
    else:
        messages.info(request, f"{plugin.name} is no longer pinned.")
    return redirect("plugins_app:plugin-detail", plugin_id=plugin.plugin_id)


@require_POST
def accept_permissions(request: JupiterRequest, name: str, plugin_id: str) -> HttpResponse:
    """A maintainer grants, in this project, the permissions an update added."""
    project = project_for(request.user, name, OPERATE)
    try:
        added = accept(project, plugin_id, actor=request.user)
    except ConsentError as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, f"{plugin_id} may now use {', '.join(added)} in {project.name}.")
    return redirect("plugins_app:project-detail", name=project.name)
