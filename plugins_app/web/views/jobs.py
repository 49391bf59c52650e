"""Jobs pages (SPEC J1-J5, U1, D2): list and filter, one job live, run, cancel, reload.

A job page renders the record; ``static/jupiter/jobs.js`` then follows its events over the
WebSocket and re-reads ``job_panel`` (the record, as HTML) on a gap, a reconnect, a closed
socket and the final event, so the page always ends on the stored state (SPEC X8).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from plugins_app.jobs.api import JobRefused, cancel, submit
from plugins_app.jobs.breaker import CircuitOpen
from plugins_app.kernel.reload import ReloadRefused, request_reload
from plugins_app.kernel.runtime import get_runtime
from plugins_app.models import InstalledPlugin, Job, JobState, Project, TokenScope
from plugins_app.projects.roles import OPERATE, VIEW, projects_visible_to
from plugins_app.web.decorators import project_for, staff_required, token_scope
from plugins_app.web.presenters.jobs import extenders_of
from plugins_app.web.presenters.results import project_results_context
from plugins_app.web.views import JupiterRequest

PAGE_SIZE = 50


def job_payload(job: Job) -> dict[str, object]:
    return {
        "id": str(job.pk),
        "plugin": job.plugin_id,
        "name": job.name,
        "title": job.title,
        "project": job.project.name if job.project is not None else "",
        "state": job.state,
        "progress": job.progress,
        "message": job.message,
        "result": job.result,
        "error": job.error,
        "seq": job.seq,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def visible_jobs(request: HttpRequest) -> QuerySet[Job]:
    """Jobs of the projects the user can see; jobs of no project are the installation's,
    for staff."""
    if request.user.is_staff:
        return Job.objects.all()
    return Job.objects.filter(project__in=projects_visible_to(request.user))


def _job_for(request: HttpRequest, job_id: str, permission: str = VIEW) -> Job:
    """The job, if the user may see it (404 otherwise) and holds ``permission`` (403)."""
    job = get_object_or_404(
        visible_jobs(request).select_related("project", "requested_by"), pk=job_id
    )
    if permission != VIEW and not _holds(request, job, permission):
        raise PermissionDenied("your role in this project does not allow this")
    return job


def _holds(request: HttpRequest, job: Job, permission: str) -> bool:
    return bool(request.user.is_staff or request.user.has_perm(permission, job.project))


def may_operate(request: HttpRequest, job: Job) -> bool:
    """Whether the panel offers Cancel: the rule ``job_cancel`` enforces, so a viewer is
    never shown a button that answers 403."""
    return _holds(request, job, OPERATE)


@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    """The jobs the user may see, newest first, filtered by state, plugin and project."""
    jobs = visible_jobs(request).select_related("project")
    filters = {key: request.GET.get(key, "") for key in ("state", "plugin", "project")}
    if filters["state"] in JobState.values:
        jobs = jobs.filter(state=filters["state"])
    if filters["plugin"]:
        host = filters["plugin"] == "jupiter"
        jobs = jobs.filter(plugin_id="" if host else filters["plugin"])
    if filters["project"]:
        jobs = jobs.filter(project__name=filters["project"])
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode({key: value for key, value in filters.items() if value})
    return render(
        request,
        "plugins_app/job_list.html",
        {
            "page": page,
            "filters": filters,
            "query": query,
            "states": JobState.choices,
            "plugin_ids": sorted(
                set(visible_jobs(request).exclude(plugin_id="").values_list("plugin_id", flat=True))
            ),
            "projects": projects_visible_to(request.user).values_list("name", flat=True),
        },
    )


@require_GET
def job_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    job = _job_for(request, job_id)
    context = {"job": job, "can_operate": may_operate(request, job)}
    return render(request, "plugins_app/job_detail.html", context)


@require_GET
def job_panel(request: HttpRequest, job_id: str) -> HttpResponse:
    """The stored record as the live panel: what the page re-reads to re-sync."""
    job = _job_for(request, job_id)
    context = {
        "job": job,
        "detail": request.GET.get("detail") == "1",
        "can_operate": may_operate(request, job),
    }
    return render(request, "plugins_app/partials/job_panel.html", context)


@token_scope(TokenScope.READ)
@require_GET
def job_json(request: HttpRequest, job_id: str) -> JsonResponse:
    return JsonResponse(job_payload(_job_for(request, job_id)))


@vary_on_headers("HX-Request")
@require_POST
def job_cancel(request: JupiterRequest, job_id: str) -> HttpResponse:
    """Cancel at once if pending; ask a running job to stop (it ends ``cancelled``)."""
    job = cancel(_job_for(request, job_id, OPERATE))
    if request.htmx:
        context = {"job": job, "can_operate": True}
        return render(request, "plugins_app/partials/job_panel.html", context)
    return redirect("plugins_app:job-detail", job_id=job.pk)


def _submitted(request: JupiterRequest, job: Job | None, error: str, back: str) -> HttpResponse:
    if job is None:
        if request.htmx:
            return render(
                request, "plugins_app/partials/job_refused.html", {"error": error}, status=422
            )
        messages.error(request, error)
        return redirect(back)
    if request.htmx and request.POST.get("inline"):
        context = {"job": job, "can_operate": True}  # who submits it may cancel it
        return render(request, "plugins_app/partials/job_panel.html", context, status=201)
    url = job_url(job)
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def job_url(job: Job) -> str:
    return reverse("plugins_app:job-detail", args=[job.pk])


def _try_submit(
    request: HttpRequest, plugin_id: str, name: str, project: Project | None
) -> tuple[Job | None, str]:
    try:
        return submit(plugin_id, name, project=project, actor=request.user), ""
    except (JobRefused, CircuitOpen) as exc:
        return None, str(exc)


@vary_on_headers("HX-Request")
@require_POST
def project_job_run(request: JupiterRequest, name: str, job_name: str) -> HttpResponse:
    """Start the host's scan or analysis of a project (SPEC D2)."""
    project = project_for(request.user, name, OPERATE)
    job, error = _try_submit(request, "", job_name, project)
    return _submitted(request, job, error, project_url(project))


def project_url(project: Project) -> str:
    return reverse("plugins_app:project-detail", args=[project.name])


@vary_on_headers("HX-Request")
@require_POST
def plugin_job_run(request: JupiterRequest, plugin_id: str, job_name: str) -> HttpResponse:
    """Start a plugin's job (or one an extending plugin added to this page) in a project."""
    host = get_object_or_404(InstalledPlugin, plugin_id=plugin_id)
    owner = request.POST.get("owner") or plugin_id
    chosen = request.POST.get("project", "")
    project = project_for(request.user, chosen, OPERATE) if chosen else None
    if owner != plugin_id and owner not in extenders_of(plugin_id):
        job, error = None, f"plugin '{owner}' adds no job to this page"
    elif project is None:
        job, error = None, "choose a project to run the job in"
    else:
        job, error = _try_submit(request, owner, job_name, project)
    back = reverse("plugins_app:plugin-detail", args=[host.plugin_id])
    return _submitted(request, job, error, back)


@vary_on_headers("HX-Request")
@require_GET
def project_results(request: HttpRequest, name: str) -> HttpResponse:
    project = project_for(request.user, name)
    return render(
        request,
        "plugins_app/partials/project_results.html",
        project_results_context(project),
    )


@require_POST
@staff_required
def plugin_reload(request: HttpRequest, plugin_id: str) -> HttpResponse:
    """Hot reload (developer mode only, SPEC L6); the steps are shown as messages."""
    plugin = get_object_or_404(InstalledPlugin, plugin_id=plugin_id)
    try:
        report = request_reload(get_runtime(), plugin.plugin_id, actor=request.user)
    except ReloadRefused as exc:
        messages.error(request, f"Reload refused: {exc}")
    else:
        level = messages.SUCCESS if report.ok else messages.ERROR
        outcome = "reloaded" if report.ok else "failed to reload"
        messages.add_message(
            request, level, f"{plugin.plugin_id} {outcome}: " + "; ".join(report.steps)
        )
    return redirect("plugins_app:plugin-detail", plugin_id=plugin.plugin_id)
