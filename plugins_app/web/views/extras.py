"""Notifications and per-plugin extras: debug mode, "report a problem" (SPEC U8)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from plugins_app.logs import debug
from plugins_app.observability import notifications, problem_report
from plugins_app.web.decorators import plugin_or_404, staff_required
from plugins_app.web.presenters.extras import extras_context
from plugins_app.web.views import JupiterRequest


@require_GET
def notification_bell(request: JupiterRequest) -> HttpResponse:
    """The bell alone, re-read by the top bar every few seconds."""
    return render(
        request,
        "plugins_app/partials/notification_bell.html",
        {
            "unread": notifications.unread_count(request.user),
            "latest": notifications.latest_unread(request.user),
        },
    )


@require_GET
def notification_list(request: JupiterRequest) -> HttpResponse:
    return render(
        request,
        "plugins_app/notification_list.html",
        {"items": notifications.recent(request.user), "unread": None},
    )


@vary_on_headers("HX-Request")
@require_POST
def notification_read(request: JupiterRequest) -> HttpResponse:
    """Mark one (``id``) or every notification read; the list and the bell follow."""
    raw = request.POST.get("id", "")
    notifications.mark_read(request.user, int(raw) if raw.isdigit() else None)
    if not request.htmx:
        return redirect("plugins_app:notification-list")
    return render(
        request,
        "plugins_app/partials/notification_items.html",
        {
            "items": notifications.recent(request.user),
            "unread": notifications.unread_count(request.user),
            "latest": notifications.latest_unread(request.user),
            "oob": True,
        },
    )


@vary_on_headers("HX-Request")
@require_POST
@staff_required
def plugin_debug_toggle(request: JupiterRequest, plugin_id: str) -> HttpResponse:
    plugin = plugin_or_404(plugin_id)
    debug.set_debug_mode(plugin, request.POST.get("enabled") == "1", actor=request.user)
    if not request.htmx:
        return redirect("plugins_app:plugin-detail", plugin_id=plugin.plugin_id)
    return render(request, "plugins_app/partials/plugin_extras.html", extras_context(plugin))


@require_GET
@staff_required
def plugin_problem_report(request: HttpRequest, plugin_id: str) -> HttpResponse:
    """A zip to attach to a bug report; secrets are redacted (``problem_report``)."""
    plugin = plugin_or_404(plugin_id)
    response = HttpResponse(problem_report.build_zip(plugin), content_type="application/zip")
    name = f"{plugin.plugin_id}-{plugin.version or 'unknown'}-problem-report.zip"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
