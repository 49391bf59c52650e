"""What a plugin adds to the console (SPEC U5-U7): its panels and widgets at each place,
its API routes under ``/api/plugins/<id>/``, and the control and help panels of its page.

The console lists a plugin's contributions at a place (``plugin_contributions``); each one is
a slot that ``static/jupiter/frames.js`` turns into a sandboxed frame when it is revealed
(``views/frames.py`` serves the frame). Nothing the plugin wrote is put in the console's page.
"""

from __future__ import annotations

from itertools import groupby

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from plugins_app.config.store import plugin_config_schema
from plugins_app.kernel.remote import error_name
from plugins_app.kernel.runtime import get_runtime
from plugins_app.logs.hub import get_hub, plugin_logger
from plugins_app.manifest.model import UiContributions
from plugins_app.models import AuditAction, InstalledPlugin, PluginConfig, ProjectPlugin, TokenScope
from plugins_app.models.audit import record
from plugins_app.projects.roles import projects_visible_to
from plugins_app.sdk.bridge import ANY_ROUTE
from plugins_app.web.autoui.contributions import (
    PLACES,
    at,
    i18n_messages,
    messages_for,
    mount_warnings,
    tab_of,
)
from plugins_app.web.autoui.forms import help_entries
from plugins_app.web.decorators import (
    can_operate_plugin,
    can_read_plugin_logs,
    plugin_or_404,
    token_scope,
)
from plugins_app.web.frames.availability import unavailable
from plugins_app.web.views import JupiterRequest
from plugins_app.web.views.frames import frame_slots

# Sent by frames.js with every call a plugin's frame makes through jupiterBridge.
BRIDGE_HEADER = "X-Jupiter-Bridge"


def _ui(plugin: InstalledPlugin) -> UiContributions:
    """What the plugin adds to the console; nothing while its plugin.yaml is invalid."""
    manifest = plugin.typed_manifest
    return manifest.ui if manifest is not None else UiContributions()


def _texts(plugin: InstalledPlugin) -> dict[str, str]:
    """The plugin's i18n table in the reader's language, keys without the plugin prefix."""
    prefix = f"plugin.{plugin.plugin_id}."
    messages = i18n_messages(_ui(plugin), plugin.plugin_id, get_language() or "en")
    return {key.removeprefix(prefix): text for key, text in messages.items()}


@require_GET
def plugin_contributions(request: JupiterRequest, plugin_id: str) -> HttpResponse:
    """The plugin's contributions at one place (``?mount=``: plugin_page, project_page,
    settings or sidebar), each a frame slot, or the reason they are not shown."""
    plugin = plugin_or_404(plugin_id)
    place = request.GET.get("mount", "plugin_page")
    if place not in PLACES:
        place = "plugin_page"
    ui = _ui(plugin)
    items = at(ui, place)
    name = request.GET.get("project", "")
    project = projects_visible_to(request.user).filter(name=name).first() if name else None
    reason = unavailable(plugin, request.user, project) if items else None
    slots = frame_slots(request, plugin, items, project) if items and not reason else []
    sections = [
        (section, list(group))
        for section, group in groupby(slots, key=lambda slot: slot.item.settings_section)
    ]
    context = {
        "plugin": plugin,
        "items": items,
        "sections": sections,
        "unavailable": reason,
        "project": name,
        "warnings": mount_warnings(ui) if place == "plugin_page" else [],
        "mount": place,
    }
    return render(request, "plugins_app/autoui/contributions.html", context)


@token_scope(TokenScope.READ)
def plugin_api_route(request: HttpRequest, plugin_id: str, route: str) -> HttpResponseBase:
    """Dispatch ``/api/plugins/<id>/<route>`` to a view the plugin registered (B2, U6).

    Reading (GET, HEAD) is for every signed-in user and read tokens; any other method may
    change something, so it is for staff and maintainers of a project that enables the plugin.
    A view returns a response or JSON-serialisable data; an exception is logged to the
    plugin's log and answered as a 500 with its type, never a host traceback.
    """
    plugin = plugin_or_404(plugin_id)
    changes = request.method not in ("GET", "HEAD")
    if changes and not can_operate_plugin(request.user, plugin):
        raise PermissionDenied("your roles do not allow changes through this plugin")
    reason = unavailable(plugin, request.user)
    if reason is not None:
        return JsonResponse({"error": reason}, status=404)
    registration = get_runtime().bridge.registration(plugin_id)
    routes = registration.api_routes if registration else {}
    spec = routes.get(route) or routes.get(ANY_ROUTE)
    if spec is None:
        return JsonResponse({"error": f"no route {route!r} for plugin {plugin_id!r}"}, status=404)
    if request.method not in spec.methods:
        return JsonResponse({"error": f"{request.method} not allowed"}, status=405)
    try:
        result = spec.view(request)
        response = (
            result if isinstance(result, HttpResponseBase) else JsonResponse(result, safe=False)
        )
    except Exception as exc:
        plugin_logger(plugin_id).exception("API route %s failed", route)
        response = JsonResponse({"error": f"{error_name(exc)} in the plugin's route"}, status=500)
    if changes:
        _audit_call(request, plugin_id, route, response.status_code)
    return response


def _audit_call(request: HttpRequest, plugin_id: str, route: str, status: int) -> None:
    """A call that may change something is audited, with where it came from."""
    name = request.GET.get("project", "")
    project = projects_visible_to(request.user).filter(name=name).first() if name else None
    bridged = request.headers.get(BRIDGE_HEADER)
    source = "its panel, through jupiterBridge" if bridged else "a client"
    record(
        AuditAction.PLUGIN_API_CALL,
        actor=request.user,
        plugin_id=plugin_id,
        project=project,
        after={"method": request.method, "route": route, "status": status},
        detail=f"{request.method} /api/plugins/{plugin_id}/{route} from {source}: {status}",
    )


@require_GET
def plugin_control_panel(request: HttpRequest, plugin_id: str) -> HttpResponse:
    """The right-hand column of a plugin page: indicators, actions and help (U7)."""
    plugin = plugin_or_404(plugin_id)
    ui = _ui(plugin)
    config = PluginConfig.objects.filter(plugin=plugin).first()
    hub = get_hub()
    projects = ProjectPlugin.objects.filter(
        plugin=plugin, enabled=True, project__in=projects_visible_to(request.user)
    ).select_related("project")
    context = {
        "plugin": plugin,
        "config": config,
        "loaded": get_runtime().bridge.registration(plugin_id) is not None,
        "log_size": hub.size(plugin_id),
        "log_path": hub.log_dir / "plugins" / f"{plugin_id}.*.log",
        "enabled_projects": [state.project for state in projects],
        "settings_help": help_entries(plugin_config_schema(plugin), _texts(plugin)),
        "can_read_logs": can_read_plugin_logs(request.user, plugin),
        "tab": tab_of(ui, plugin.name, messages_for(ui, get_language() or "en")),
    }
    return render(request, "plugins_app/autoui/control_panel.html", context)
