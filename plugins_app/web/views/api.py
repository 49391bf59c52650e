"""The plugin list as JSON (SPEC L1): what the console and scripts poll to grey out plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from plugins_app.base.version import JUPITER_VERSION
from plugins_app.kernel import safe_mode
from plugins_app.registry.core import core_plugin_infos
from plugins_app.web.views.plugins import installed_plugins

if TYPE_CHECKING:
    from plugins_app.web.views.plugins import PluginWithStates


def plugin_payload(plugin: PluginWithStates) -> dict[str, Any]:
    """One plugin; expects ``enabled_states`` prefetched by ``installed_plugins()``."""
    return {
        "id": plugin.plugin_id,
        "name": plugin.name,
        "version": plugin.version,
        "kind": plugin.kind,
        "status": plugin.status,
        "reason": plugin.status_reason,
        "legacy": plugin.legacy,
        "trust_level": plugin.trust_level,
        "permissions": plugin.permissions,
        "warnings": list(plugin.warnings),
        "enabled_projects": [state.project.name for state in plugin.enabled_states],
    }


@require_GET
def plugins_json(request: HttpRequest) -> JsonResponse:
    """Core plugins are listed apart: they are part of Jupiter and have no per-project state.

    Polled by scripts and the console, so it only reads: the database's state, no import.
    """
    return JsonResponse(
        {
            "jupiter_version": JUPITER_VERSION,
            "safe_mode": safe_mode.state().on,
            "core": [
                {"id": core.id, "name": core.name, "version": core.version}
                for core in core_plugin_infos()
            ],
            "plugins": [plugin_payload(plugin) for plugin in installed_plugins()],
        }
    )
