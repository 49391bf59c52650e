"""Charts, the import graph and findings at scale (SPEC U1, D2, D3, O1).

The project page stays a summary: its findings and charts are fragments it loads after it
is shown (``hx-trigger="load"``), and the graph has a page of its own. Each fragment view
answers a full page to a plain request, so its query string is a link to exactly that view
(the findings filtered to one plugin's high findings on page 3, the graph with one package
open).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from plugins_app.models import Job, ProjectGraph
from plugins_app.web.decorators import plugin_or_404, project_for
from plugins_app.web.presenters.activity import job_chart, metric_charts
from plugins_app.web.presenters.findings import findings_context
from plugins_app.web.presenters.graph import aggregate, graph_svg, prepared_for
from plugins_app.web.views import JupiterRequest
from plugins_app.web.views.jobs import visible_jobs

FIRST_CYCLE_FILES = 5
CYCLES_SHOWN = 20


def _partial_or_page(
    request: JupiterRequest, partial: str, page: str, context: dict[str, object]
) -> HttpResponse:
    return render(request, partial if request.htmx else page, context)


@vary_on_headers("HX-Request")
@require_GET
def project_findings(request: JupiterRequest, name: str) -> HttpResponse:
    """Counts by severity and plugin, filters, search and a page of findings."""
    project = project_for(request.user, name)
    url = reverse("plugins_app:project-findings", args=[project.name])
    context = findings_context(project, url, request.GET)
    return _partial_or_page(
        request,
        "plugins_app/partials/project_findings.html",
        "plugins_app/project_findings.html",
        context,
    )


@require_GET
def project_charts(request: HttpRequest, name: str) -> HttpResponse:
    """Durations and outcomes of the project's jobs over time."""
    project = project_for(request.user, name)
    context = {
        "project": project,
        "jobs": job_chart(Job.objects.filter(project=project), "Job durations"),
    }
    return render(request, "plugins_app/partials/project_charts.html", context)


@vary_on_headers("HX-Request")
@require_GET
def project_graph(request: JupiterRequest, name: str) -> HttpResponse:
    """The import graph grouped by package, ``expand`` open; cycles summarised beside it."""
    project = project_for(request.user, name)
    graph = ProjectGraph.objects.filter(project=project).only("pk", "built_at").first()
    context: dict[str, object] = {"project": project, "graph": None}
    if graph is not None:
        expand = request.GET.get("expand") or None
        view = aggregate(prepared_for(graph), expand[:1024] if expand else None)
        graph_url = reverse("plugins_app:project-graph", args=[project.name])
        findings_url = reverse("plugins_app:project-findings", args=[project.name])
        context.update(
            graph=view,
            svg=graph_svg(view, graph_url, findings_url),
            graph_url=graph_url,
            parent=expand.rstrip("/").rpartition("/")[0] if expand else None,
            cycles=[
                (len(group), group[:FIRST_CYCLE_FILES], group[FIRST_CYCLE_FILES:])
                for group in view.cycles[:CYCLES_SHOWN]
            ],
            cycle_files=sum(len(group) for group in view.cycles),
            built_at=graph.built_at,
        )
    return _partial_or_page(
        request,
        "plugins_app/partials/project_graph.html",
        "plugins_app/project_graph.html",
        context,
    )


@require_GET
def plugin_job_chart(request: HttpRequest, plugin_id: str) -> HttpResponse:
    """Durations and outcomes of the plugin's jobs, in the projects the user may see."""
    plugin = plugin_or_404(plugin_id)
    jobs = visible_jobs(request).filter(plugin_id=plugin.plugin_id)
    context = {"plugin": plugin, "jobs": job_chart(jobs, f"Job durations of {plugin.plugin_id}")}
    return render(request, "plugins_app/partials/plugin_job_chart.html", context)


@require_GET
def plugin_metrics_chart(request: HttpRequest, plugin_id: str) -> HttpResponse:
    """The plugin's kept metrics, one chart per metric (the card shows sparklines)."""
    plugin = plugin_or_404(plugin_id)
    return render(
        request,
        "plugins_app/autoui/metrics_chart.html",
        {"plugin": plugin, "charts": metric_charts(plugin.plugin_id)},
    )
