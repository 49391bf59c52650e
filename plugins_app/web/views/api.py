"""The plugin list as JSON (SPEC L1): what the console and scripts poll to grey out plugins.

Paged like the plugin list (``page``, ``per_page`` up to 500, default 50) with the same
filters (``q``, ``kind``, ``status``, ``trust``, ``project``); ``count``, ``page``,
``pages`` and ``next`` (the next page's URL, or null) say where a client is.
"""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from plugins_app.base.version import JUPITER_VERSION
from plugins_app.kernel import safe_mode
from plugins_app.models import InstalledPlugin, TokenScope
from plugins_app.projects.roles import projects_visible_to
from plugins_app.registry.core import core_plugin_infos
from plugins_app.web.decorators import token_scope
from plugins_app.web.presenters.listing import (
    PluginFilters,
    enabled_projects,
    page_of,
    user_plugins,
)
from plugins_app.web.views import JupiterRequest


def plugin_payload(plugin: InstalledPlugin, projects: list[str]) -> dict[str, Any]:
    """One plugin of ``user_plugins()`` (its ``permission_list`` read as a JSON key), with the
    ``projects`` enabling it that the caller may see."""
    permissions = getattr(plugin, "permission_list", None)
    return {
        "id": plugin.plugin_id,
        "name": plugin.name,
        "version": plugin.version,
        "kind": plugin.kind,
        "status": plugin.status,
        "reason": plugin.status_reason,
        "legacy": plugin.legacy,
        "trust_level": plugin.trust_level,
        "permissions": list(permissions) if isinstance(permissions, list) else [],
        "warnings": list(plugin.warnings),
        "enabled_projects": projects,
    }


@token_scope(TokenScope.READ)
@require_GET
def plugins_json(request: JupiterRequest) -> JsonResponse:
    """Core plugins are listed apart: they are part of Jupiter and have no per-project state.

    Polled by scripts and the console, so it only reads: the database's state, no import.
    """
    filters = PluginFilters.of(request.GET)
    visible = projects_visible_to(request.user)
    matching = filters.apply(user_plugins(), visible).order_by("name", "plugin_id")
    page = page_of(matching, request.GET)
    plugins = list(page.object_list)
    projects = enabled_projects(plugins, visible)
    next_url = None
    if page.has_next():
        extra = {"page": str(page.next_page_number())}
        if "per_page" in request.GET:
            extra["per_page"] = str(page.paginator.per_page)
        next_url = f"{request.path}?{filters.query(**extra)}"
    return JsonResponse(
        {
            "jupiter_version": JUPITER_VERSION,
            "safe_mode": safe_mode.state().on,
            "core": [
                {"id": core.id, "name": core.name, "version": core.version}
                for core in core_plugin_infos()
            ],
            "count": page.paginator.count,
            "page": page.number,
            "pages": page.paginator.num_pages,
            "next": next_url,
            "plugins": [plugin_payload(p, projects[p.pk]) for p in plugins],
        }
    )
