"""What a plugin adds to the console (SPEC U5-U7): its panels and widgets, scoped assets,
API routes under ``/api/plugins/<id>/``, and the control and help panels of its page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from plugins_app.config.secrets import without_secrets
from plugins_app.config.store import effective_config_for, plugin_config_schema
from plugins_app.kernel.remote import error_name
from plugins_app.kernel.runtime import get_runtime
from plugins_app.logs.hub import get_hub, plugin_logger
from plugins_app.manifest.model import UiContributions
from plugins_app.models import InstalledPlugin, PluginConfig, ProjectPlugin, TokenScope
from plugins_app.projects.roles import projects_visible_to
from plugins_app.sdk.bridge import ANY_ROUTE
from plugins_app.web.autoui.contributions import (
    ASSET_TYPES,
    ContributionError,
    contained,
    contributions,
    css_problems,
    i18n_messages,
    mount_warnings,
    render_template,
)
from plugins_app.web.autoui.forms import help_entries
from plugins_app.web.decorators import (
    can_operate_plugin,
    can_read_plugin_logs,
    plugin_or_404,
    token_scope,
)

STYLESHEET = "style.css"


def _ui(plugin: InstalledPlugin) -> UiContributions:
    """What the plugin adds to the console; nothing while its plugin.yaml is invalid."""
    manifest = plugin.typed_manifest
    return manifest.ui if manifest is not None else UiContributions()


def _texts(plugin: InstalledPlugin) -> dict[str, str]:
    """The plugin's i18n table in the reader's language, keys without the plugin prefix."""
    prefix = f"plugin.{plugin.plugin_id}."
    messages = i18n_messages(_ui(plugin), plugin.plugin_id, get_language() or "en")
    return {key.removeprefix(prefix): text for key, text in messages.items()}


def _assets_root(plugin: InstalledPlugin) -> Path:
    return Path(plugin.source_path) / "assets"


def _stylesheet(plugin: InstalledPlugin) -> tuple[bool, list[str]]:
    """Whether the plugin ships ``assets/style.css``, and why it is refused if it is."""
    path = _assets_root(plugin) / STYLESHEET
    if not path.is_file():
        return False, []
    return True, css_problems(path.read_text(encoding="utf-8", errors="replace"), plugin.plugin_id)


@require_GET
def plugin_contributions(request: HttpRequest, plugin_id: str) -> HttpResponse:
    """The plugin's contributions at one mount point, each a lazy placeholder."""
    plugin = plugin_or_404(plugin_id)
    mount = request.GET.get("mount", "plugin_page")
    project = request.GET.get("project", "")
    ui = _ui(plugin)
    items = [c for c in contributions(ui) if c.mount_point == mount]
    has_css, refusals = _stylesheet(plugin)
    messages = i18n_messages(ui, plugin.plugin_id, get_language() or "en")
    context = {
        "plugin": plugin,
        "items": [(c, c.dom_id(plugin.plugin_id)) for c in items],
        "project": project,
        "stylesheet": has_css and not refusals,
        "refusals": refusals,
        "warnings": mount_warnings(ui) if mount == "plugin_page" else [],
        "i18n": json.dumps(messages, ensure_ascii=False, sort_keys=True),
        "mount": mount,
    }
    return render(request, "plugins_app/autoui/contributions.html", context)


def _render_data(registration: Any, kind: str, item: str, context: dict[str, Any]) -> Any:
    renderer = registration.ui.get(f"{kind}:{item}") if registration else None
    if renderer is None:
        return None
    try:
        return renderer.render(dict(context))
    except Exception as exc:
        plugin_logger(registration.plugin_id).exception("%s %s failed to render", kind, item)
        raise ContributionError(f"its renderer raised {type(exc).__name__}: {exc}") from exc


@require_GET
def plugin_contribution(request: HttpRequest, plugin_id: str, kind: str, item: str) -> HttpResponse:
    """One panel or widget: the plugin's template (autoescaped) or its renderer's data."""
    plugin = plugin_or_404(plugin_id)
    ui = _ui(plugin)
    found = next((c for c in contributions(ui) if (c.kind, c.id) == (kind, item)), None)
    if found is None:
        return HttpResponse(status=404)
    visible = projects_visible_to(request.user)
    project = visible.filter(name=request.GET.get("project", "")).first()
    schema = plugin_config_schema(plugin)
    context: dict[str, Any] = {
        "plugin": {"id": plugin.plugin_id, "name": plugin.name, "version": plugin.version},
        "project": project.name if project else "",
        "config": without_secrets(schema, effective_config_for(plugin, project).values),
        "t": {
            key.rsplit(".", 1)[-1]: text
            for key, text in i18n_messages(ui, plugin_id, get_language() or "en").items()
        },
    }
    try:
        data = _render_data(get_runtime().bridge.registration(plugin_id), kind, item, context)
        if found.template:
            html = render_template(
                Path(plugin.source_path), found.template, {**context, "data": data}
            )
            return HttpResponse(html)
        if data is None:
            raise ContributionError("it declares no template and registered no renderer")
    except ContributionError as exc:
        return render(
            request,
            "plugins_app/autoui/contribution_error.html",
            {"item": found, "error": str(exc)},
        )
    rows = sorted(data.items()) if isinstance(data, dict) else [("value", data)]
    return render(
        request, "plugins_app/autoui/contribution_data.html", {"item": found, "rows": rows}
    )


@require_GET
def plugin_asset(request: HttpRequest, plugin_id: str, asset: str) -> HttpResponseBase:
    """A file from the plugin's ``assets/`` folder only; CSS only when scoped (U5, X6)."""
    plugin = plugin_or_404(plugin_id)
    content_type = ASSET_TYPES.get(Path(asset).suffix.lower())
    if content_type is None:
        return HttpResponse(
            "this kind of file is not served\n", status=404, content_type="text/plain"
        )
    try:
        path = contained(_assets_root(plugin), asset)
    except ContributionError:
        return HttpResponse(status=404)
    if path.suffix.lower() == ".css":
        problems = css_problems(path.read_text(encoding="utf-8", errors="replace"), plugin_id)
        if problems:
            return HttpResponse("\n".join(problems) + "\n", status=403, content_type="text/plain")
    return FileResponse(path.open("rb"), content_type=content_type)


@token_scope(TokenScope.READ)
def plugin_api_route(request: HttpRequest, plugin_id: str, route: str) -> HttpResponseBase:
    """Dispatch ``/api/plugins/<id>/<route>`` to a view the plugin registered (B2, U6).

    Reading (GET, HEAD) is for every signed-in user and read tokens; any other method may
    change something, so it is for staff and maintainers of a project that enables the plugin.
    A view returns a response or JSON-serialisable data; an exception is logged to the
    plugin's log and answered as a 500 with its type, never a host traceback.
    """
    if request.method not in ("GET", "HEAD") and not can_operate_plugin(
        request.user, plugin_or_404(plugin_id)
    ):
        raise PermissionDenied("your roles do not allow changes through this plugin")
    registration = get_runtime().bridge.registration(plugin_id)
    routes = registration.api_routes if registration else {}
    spec = routes.get(route) or routes.get(ANY_ROUTE)
    if spec is None:
        return JsonResponse({"error": f"no route {route!r} for plugin {plugin_id!r}"}, status=404)
    if request.method not in spec.methods:
        return JsonResponse({"error": f"{request.method} not allowed"}, status=405)
    try:
        result = spec.view(request)
        if isinstance(result, HttpResponseBase):
            return result
        return JsonResponse(result, safe=False)
    except Exception as exc:
        plugin_logger(plugin_id).exception("API route %s failed", route)
        return JsonResponse({"error": f"{error_name(exc)} in the plugin's route"}, status=500)


@require_GET
def plugin_control_panel(request: HttpRequest, plugin_id: str) -> HttpResponse:
    """The right-hand column of a plugin page: indicators, actions and help (U7)."""
    plugin = plugin_or_404(plugin_id)
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
    }
    return render(request, "plugins_app/autoui/control_panel.html", context)
