"""Plugins pages (SPEC U1, L1, X1): what is installed, its status, and where it is enabled.

What the page shows of the manifest comes from ``presenters.plugins.ManifestFacts``, built
from the typed manifest; templates only ever autoescape it (third parties wrote it).
"""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from plugins_app.models import (
    PluginStatus,
    ProjectPlugin,
    TrustLevel,
)
from plugins_app.projects.roles import OPERATE, projects_visible_to
from plugins_app.registry.core import core_plugin_infos
from plugins_app.web.decorators import can_read_plugin_logs, plugin_or_404, project_for
from plugins_app.web.presenters.listing import (
    CATEGORIES,
    CategorisedPage,
    PluginFilters,
    page_of,
    user_plugins,
)
from plugins_app.web.presenters.plugins import ManifestFacts
from plugins_app.web.views import JupiterRequest
from plugins_app.web.views.projects import toggle_plugin
from plugins_app.web.views.recovery import processes_context


@vary_on_headers("HX-Request")
@require_GET
def plugin_list(request: JupiterRequest) -> HttpResponse:
    """Core plugins as part of Jupiter, then one page of the user-facing plugins, searched
    and filtered on the server, grouped in their two categories (SPEC K1, U1).

    The database's state only: hand edits of project files are imported elsewhere (a click on
    the project page or the server's periodic task), never while a page is shown. An HTMX
    request from the filter form gets the results partial alone.
    """
    filters = PluginFilters.of(request.GET)
    visible = projects_visible_to(request.user)
    matching = filters.apply(user_plugins(), visible)
    counts = dict(matching.order_by().values_list("kind").annotate(n=Count("pk")))
    page = page_of(matching.order_by("kind", "name", "plugin_id"), request.GET)
    context = {
        "filters": filters,
        "listing": CategorisedPage(page, counts, visible),
        "page": page,
        "query": filters.query(),
        "previous_label": "Previous",
        "next_label": "Next",
    }
    if request.htmx and request.htmx.target == "plugin-results":
        return render(request, "plugins_app/partials/plugin_results.html", context)
    return render(
        request,
        "plugins_app/plugin_list.html",
        {
            **context,
            "core_plugins": core_plugin_infos(),
            "list_url": reverse("plugins_app:plugin-list"),
            "kinds": CATEGORIES,
            "statuses": PluginStatus.choices,
            "trust_levels": TrustLevel.choices,
            "project_names": visible.order_by("name").values_list("name", flat=True),
        },
    )


@require_GET
def plugin_detail(request: JupiterRequest, plugin_id: str) -> HttpResponse:
    """Everything to read before enabling a plugin, its permissions first (SPEC X1); the
    projects the user can see, with a toggle where their role allows it."""
    projects = list(projects_visible_to(request.user))
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
            "can_read_logs": can_read_plugin_logs(request.user, plugin),
            "project_rows": [
                (project, project.pk in enabled, request.user.has_perm(OPERATE, project))
                for project in projects
            ],
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
        project_for(request.user, name, OPERATE),
        plugin,
        row_template="plugins_app/partials/plugin_project_row.html",
        page_url=reverse("plugins_app:plugin-detail", args=[plugin.plugin_id]),
    )
