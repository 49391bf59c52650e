"""Plugin frames (SPEC U5-U7, X6): the documents, assets and bridge answers of the sandbox.

``plugin_frame`` serves one panel, widget or tab as a document of its own, with the
``web.frames.policy`` Content-Security-Policy (``sandbox allow-scripts``). It is requested
by the console page (same-site, so with the session: the user is known), and renders the
plugin's template, its renderer's data or an empty root for its script, with what
``window.jupiterBridge`` needs inside (``static/jupiter/frame/bridge.js``). Its scripts and
styles come from ``plugin_frame_asset``, under a token the document hands out (the
opaque-origin frame sends no cookie). ``plugin_tab`` and ``plugin_views`` are console pages
showing a plugin's one tab, listed with icons and in order.

Nothing is served for a plugin that is not enabled, loaded and trusted
(``web.frames.availability``): 404, with the reason in the disabled state.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from plugins_app.config.secrets import without_secrets
from plugins_app.config.store import effective_config_for, plugin_config_schema
from plugins_app.kernel.runtime import get_runtime
from plugins_app.logs.hub import plugin_logger
from plugins_app.manifest.model import Manifest, UiContributions
from plugins_app.models import InstalledPlugin, PluginKind, PluginStatus, Project, ProjectPlugin
from plugins_app.projects.roles import projects_visible_to
from plugins_app.web.autoui.contributions import (
    Contribution,
    ContributionError,
    at,
    find,
    messages_for,
    render_template,
    tab_of,
)
from plugins_app.web.decorators import can_operate_plugin, can_read_plugin_logs, plugin_or_404
from plugins_app.web.frames.availability import unavailable
from plugins_app.web.frames.files import (
    SCRIPT_TYPES,
    FileRefused,
    read_signed,
    stylesheets,
    web_file,
)
from plugins_app.web.frames.policy import (
    ASSET_POLICY,
    asset_token,
    frame_policy,
    origin_of,
    runtime_prefix,
    token_user,
)
from plugins_app.web.views import JupiterRequest

log = logging.getLogger("jupiter.frames")

ASSET_CACHE_SECONDS = 300


def _manifest(plugin: InstalledPlugin) -> Manifest:
    manifest = plugin.typed_manifest
    if manifest is None:
        raise Http404("the plugin's manifest is invalid")
    return manifest


def _visible_project(request: JupiterRequest) -> Project | None:
    """``?project=``, if the user may see it (404 otherwise); None when not given."""
    name = request.GET.get("project", "")
    if not name:
        return None
    project = projects_visible_to(request.user).filter(name=name).first()
    if project is None:
        raise Http404("no such project")
    return project


def assets_prefix(plugin_id: str, token: str) -> str:
    """The URL path under which the plugin's frame assets are served for ``token``."""
    return reverse("plugins_app:plugin-frame-asset", args=[plugin_id, token, "x"])[:-1]


def _document(
    request: HttpRequest, context: dict[str, Any], policy: str, status: int = 200
) -> HttpResponse:
    response = render(request, "plugins_app/frames/frame.html", context, status=status)
    response["Content-Security-Policy"] = policy
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _data_rows(data: Any) -> list[tuple[str, Any]]:
    return sorted(data.items()) if isinstance(data, dict) else [("value", data)]


def _rendered(
    plugin: InstalledPlugin, found: Contribution, context: dict[str, Any]
) -> dict[str, Any]:
    """The frame body: the template's HTML, or the renderer's data as rows; or the error."""
    registration = get_runtime().bridge.registration(plugin.plugin_id)
    renderer = registration.ui.get(f"{found.kind}:{found.id}") if registration else None
    try:
        data = None
        if renderer is not None:
            try:
                data = renderer.render(dict(context))
            except Exception as exc:
                plugin_logger(plugin.plugin_id).exception("%s %s failed", found.kind, found.id)
                raise ContributionError(f"its renderer raised {type(exc).__name__}: {exc}") from exc
        if found.template:
            source = read_signed(plugin, found.template).decode("utf-8", errors="replace")
            return {"html": render_template(source, found.template, {**context, "data": data})}
        if data is not None:
            return {"rows": _data_rows(data)}
    except ContributionError as exc:
        return {"error": str(exc)}
    return {}


def _scripts(plugin: InstalledPlugin, ui: UiContributions, found: Contribution) -> list[str]:
    """The modules the frame imports: the item's ``script``, else ``ui.assets.js``."""
    named = [found.script] if found.script else list(ui.assets.get("js", ()))
    root = Path(plugin.source_path)
    for relative in named:
        if not relative.lower().endswith(SCRIPT_TYPES):
            raise FileRefused(f"{relative} is not a JavaScript module (.js, .mjs)")
        web_file(root, ui, relative)
    return named


@require_GET
@xframe_options_sameorigin
def plugin_frame(request: JupiterRequest, plugin_id: str, kind: str, item: str) -> HttpResponse:
    """One panel, widget or tab of a plugin, as a sandboxed document of its own."""
    plugin = plugin_or_404(plugin_id)
    manifest = _manifest(plugin)
    ui = manifest.ui
    found = find(ui, kind, item)
    if found is None:
        raise Http404("no such panel")
    project = _visible_project(request)
    token = asset_token(plugin_id, request.user.pk)
    prefix = assets_prefix(plugin_id, token)
    policy = frame_policy(origin_of(request), prefix)
    language = get_language() or "en"
    messages = messages_for(ui, language)
    base = {
        "plugin": plugin,
        "item": found,
        "title": found.titled(messages),
        "runtime": runtime_prefix(),
        "language": language,
    }
    reason = unavailable(plugin, request.user, project)
    if reason is not None:
        return _document(request, {**base, "unavailable": reason}, policy, status=404)
    schema = plugin_config_schema(plugin)
    config = without_secrets(schema, effective_config_for(plugin, project).values)
    context: dict[str, Any] = {
        "plugin": {"id": plugin.plugin_id, "name": plugin.name, "version": plugin.version},
        "project": project.name if project else "",
        "config": config,
        "t": {**{k.rsplit(".", 1)[-1]: v for k, v in messages.items()}, **messages},
    }
    body = _rendered(plugin, found, context)
    try:
        scripts = _scripts(plugin, ui, found)
    except ContributionError as exc:
        scripts, body = [], {"error": str(exc)}
    boot = {
        "plugin": context["plugin"],
        "panel": {"kind": found.kind, "id": found.id, "title": base["title"]},
        "project": context["project"],
        "language": language,
        "messages": messages,
        "settings": config,
        "modules": [origin_of(request) + prefix + path for path in scripts],
        "api_prefixes": [f"/{plugin_id}", *([manifest.api.prefix] if manifest.api else [])],
    }
    styles = [prefix + path for path in stylesheets(Path(plugin.source_path), ui)]
    return _document(
        request,
        {**base, **body, "boot": boot, "styles": styles},
        policy,
    )


@login_not_required
@require_GET
def plugin_frame_asset(request: HttpRequest, plugin_id: str, token: str, path: str) -> HttpResponse:
    """A script, style sheet, image or font of a plugin's frames: the token stands for the
    session the opaque-origin frame does not send (``web.frames.policy``)."""
    user_pk = token_user(plugin_id, token)
    users = get_user_model().objects.filter(is_active=True)
    user = users.filter(pk=user_pk).first() if user_pk is not None else None
    if user is None:
        return HttpResponse("unknown or expired token\n", status=404, content_type="text/plain")
    plugin = plugin_or_404(plugin_id)
    ui = _manifest(plugin).ui
    reason = unavailable(plugin, user)
    if reason is not None:
        return HttpResponse(reason + "\n", status=404, content_type="text/plain")
    try:
        target, content_type = web_file(Path(plugin.source_path), ui, path)
        data = read_signed(plugin, path, target)
    except ContributionError as exc:
        log.warning("asset %s of %s refused: %s", path, plugin_id, exc)
        return HttpResponse(f"{exc}\n", status=404, content_type="text/plain")
    response = HttpResponse(data, content_type=content_type)
    response["Content-Security-Policy"] = ASSET_POLICY
    response["Access-Control-Allow-Origin"] = "*"  # module scripts are CORS requests
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    response["Cache-Control"] = f"private, max-age={ASSET_CACHE_SECONDS}"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def plugin_bridge_settings(request: JupiterRequest, plugin_id: str) -> JsonResponse:
    """The plugin's effective settings (in ``?project=``), secrets removed: what
    ``jupiterBridge.settings()`` reads, through the console."""
    plugin = plugin_or_404(plugin_id)
    project = _visible_project(request)
    reason = unavailable(plugin, request.user, project)
    if reason is not None:
        return JsonResponse({"error": reason}, status=404)
    schema = plugin_config_schema(plugin)
    values = without_secrets(schema, effective_config_for(plugin, project).values)
    return JsonResponse({"settings": values, "project": project.name if project else ""})


@dataclass(frozen=True)
class FrameSlot:
    """What the console page needs to open and serve one frame (``frames.js``)."""

    item: Contribution
    title: str
    dom_id: str
    src: str
    bridge: str  # JSON read by frames.js: the frame's plugin, rights, routes and places


def frame_slots(
    request: JupiterRequest,
    plugin: InstalledPlugin,
    items: list[Contribution],
    project: Project | None,
) -> list[FrameSlot]:
    """One slot per contribution; the plugin id and the user's rights are bound here, by
    the console, never taken from a frame's messages."""
    ui = _manifest(plugin).ui
    messages = messages_for(ui, get_language() or "en")
    registration = get_runtime().bridge.registration(plugin.plugin_id)
    routes = (
        {name: list(spec.methods) for name, spec in registration.api_routes.items()}
        if registration
        else {}
    )
    pid = plugin.plugin_id
    query = f"?project={project.name}" if project else ""
    places = {
        "page": reverse("plugins_app:plugin-detail", args=[pid]),
        "settings": reverse("plugins_app:plugin-detail", args=[pid]) + "#settings",
    }
    if tab_of(ui, plugin.name, messages) is not None:
        places["tab"] = reverse("plugins_app:view", args=[pid])
    if project is not None:
        places["project"] = reverse("plugins_app:project-detail", args=[project.name])
    rights = {
        "operate": can_operate_plugin(request.user, plugin),
        "logs": can_read_plugin_logs(request.user, plugin),
    }
    slots = []
    for item in items:
        src = reverse("plugins_app:plugin-frame", args=[pid, item.kind, item.id]) + query
        bridge = {
            "plugin": pid,
            "panel": f"{item.kind}:{item.id}",
            "project": project.name if project else "",
            "rights": rights,
            "routes": routes,
            "api": reverse("plugins_app:plugin-api-route", args=[pid, "x"])[:-1],
            "settings": reverse("plugins_app:plugin-bridge-settings", args=[pid]) + query,
            "events": f"/ws/plugins/{pid}/events/",
            "logs": f"/ws/plugins/{pid}/logs/",
            "places": places,
        }
        slots.append(
            FrameSlot(
                item=item,
                title=item.titled(messages),
                dom_id=item.dom_id(pid),
                src=src,
                bridge=json.dumps(bridge, sort_keys=True),
            )
        )
    return slots


@dataclass(frozen=True)
class TabEntry:
    plugin_id: str
    name: str
    title: str
    icon: str
    order: int


def tabs_for(user: Any) -> list[TabEntry]:
    """The tabs of the plugins the user sees enabled and ready, by ``order`` then title."""
    visible = projects_visible_to(user)
    enabling = ProjectPlugin.objects.filter(enabled=True, project__in=visible)
    plugins = (
        InstalledPlugin.objects.exclude(kind=PluginKind.CORE)
        .filter(status=PluginStatus.READY, pk__in=enabling.values("plugin"))
        .order_by("name")
    )
    language = get_language() or "en"
    entries = []
    for plugin in plugins:
        manifest = plugin.typed_manifest
        if manifest is None:
            continue
        tab = tab_of(manifest.ui, plugin.name, messages_for(manifest.ui, language))
        if tab is not None:
            entries.append(TabEntry(plugin.plugin_id, plugin.name, tab.title, tab.icon, tab.order))
    return sorted(entries, key=lambda e: (e.order, e.title.lower()))


@require_GET
def plugin_tab(request: JupiterRequest, plugin_id: str) -> HttpResponse:
    """The plugin's one tab: ``ui.tab``'s frame and its sidebar panels, beside every tab."""
    plugin = plugin_or_404(plugin_id)
    ui = _manifest(plugin).ui
    messages = messages_for(ui, get_language() or "en")
    tab = tab_of(ui, plugin.name, messages)
    if tab is None:
        raise Http404("this plugin has no tab")
    reason = unavailable(plugin, request.user)
    items = at(ui, "sidebar")
    context = {
        "plugin": plugin,
        "tab": tab,
        "tabs": tabs_for(request.user),
        "unavailable": reason,
        "slots": [] if reason else frame_slots(request, plugin, items, None),
    }
    return render(request, "plugins_app/plugin_tab.html", context, status=404 if reason else 200)


@require_GET
def plugin_views(request: JupiterRequest) -> HttpResponse:
    """Every plugin tab the user can open."""
    return render(request, "plugins_app/plugin_views.html", {"tabs": tabs_for(request.user)})
