"""Plugins pages (SPEC U1, L1, X1): what is installed, its status, and where it is enabled.

What the page shows of the manifest comes from ``presenters.plugins.ManifestFacts``, built
from the typed manifest; templates only ever autoescape it (third parties wrote it).
"""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from plugins_app.models import (
    PluginStatus,
    Project,
    ProjectPlugin,
    TrustLevel,
)
from plugins_app.registry.core import core_plugin_infos
from plugins_app.web.decorators import plugin_or_404
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
    matching = filters.apply(user_plugins())
    counts = dict(matching.order_by().values_list("kind").annotate(n=Count("pk")))
    page = page_of(matching.order_by("kind", "name", "plugin_id"), request.GET)
    context = {
        "filters": filters,
        "listing": CategorisedPage(page, counts),
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
            "project_names": Project.objects.order_by("name").values_list("name", flat=True),
        },
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
