"""Plugins pages (SPEC U1, L1, X1): what is installed, its status, and where it is enabled.

What the page shows of the manifest comes from ``presenters.plugins.ManifestFacts``, built
from the typed manifest; templates only ever autoescape it (third parties wrote it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from plugins_app.models import InstalledPlugin, PluginKind, Project, ProjectPlugin
from plugins_app.registry.core import core_plugin_infos
from plugins_app.web.decorators import plugin_or_404
from plugins_app.web.presenters.plugins import ManifestFacts
from plugins_app.web.views import JupiterRequest
from plugins_app.web.views.projects import toggle_plugin
from plugins_app.web.views.recovery import processes_context

if TYPE_CHECKING:
    from typing import TypeAlias, TypedDict

    from django_stubs_ext import WithAnnotations

    class _EnabledStates(TypedDict):
        enabled_states: list[ProjectPlugin]

    # What ``installed_plugins()`` yields: plugins with their enabled project states prefetched.
    PluginWithStates: TypeAlias = WithAnnotations[InstalledPlugin, _EnabledStates]


def installed_plugins() -> QuerySet[PluginWithStates]:
    """Non-core plugins, each with ``enabled_states`` prefetched (no query per row)."""
    enabled = (
        ProjectPlugin.objects.filter(enabled=True)
        .select_related("project")
        .order_by("project__name")
    )
    return (
        InstalledPlugin.objects.exclude(kind=PluginKind.CORE)
        .prefetch_related(Prefetch("project_states", queryset=enabled, to_attr="enabled_states"))
        .order_by("name", "plugin_id")
    )


@require_GET
def plugin_list(request: HttpRequest) -> HttpResponse:
    """Core plugins as part of Jupiter, then the two user-facing categories (SPEC K1, U1).

    The database's state only: hand edits of project files are imported elsewhere (a click on
    the project page or the server's periodic task), never while a page is shown.
    """
    plugins = list(installed_plugins())
    categories = [
        (label, [p for p in plugins if p.kind == kind])
        for kind, label in ((PluginKind.SYSTEM, "System"), (PluginKind.TOOL, "Tool"))
    ]
    return render(
        request,
        "plugins_app/plugin_list.html",
        {"core_plugins": core_plugin_infos(), "categories": categories},
    )


@require_GET
def plugin_detail(request: HttpRequest, plugin_id: str) -> HttpResponse:
    """Everything to read before enabling a plugin, its permissions first (SPEC X1)."""
    projects = list(Project.objects.all())
    plugin = plugin_or_404(plugin_id)
    enabled = set(
        ProjectPlugin.objects.filter(plugin=plugin, enabled=True).values_list("project", flat=True)
    )
    return render(
        request,
        "plugins_app/plugin_detail.html",
        {
            "plugin": plugin,
            "facts": ManifestFacts.of(plugin.typed_manifest),
            "project_rows": [(project, project.pk in enabled) for project in projects],
            **processes_context(plugin),
        },
    )


@vary_on_headers("HX-Request")
@require_POST
def plugin_project_toggle(request: JupiterRequest, plugin_id: str, name: str) -> HttpResponse:
    """Enable/disable from the plugin page: the row swaps and the status block follows."""
    plugin = plugin_or_404(plugin_id)
    return toggle_plugin(
        request,
        get_object_or_404(Project, name=name),
        plugin,
        row_template="plugins_app/partials/plugin_project_row.html",
        page_url=reverse("plugins_app:plugin-detail", args=[plugin.plugin_id]),
    )
