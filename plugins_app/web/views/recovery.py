"""Safe mode and plugin process history (SPEC X3): the operator's recovery path.

In safe mode every page shows a banner (``web.context_processors``) with the plugins whose
processes crashed or were killed lately; each plugin page lists its process events, newest
first, re-read every few seconds. Staff turn safe mode on (plugin list) and off (banner).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from plugins_app.lifecycle.recovery import apply_here, set_safe_mode
from plugins_app.models import InstalledPlugin
from plugins_app.observability.processes import history, trouble
from plugins_app.web.decorators import plugin_or_404, staff_required
from plugins_app.web.views import JupiterRequest


@require_POST
@staff_required
def safe_mode_switch(request: JupiterRequest) -> HttpResponse:
    """``on=1`` enters safe mode, ``on=0`` leaves it; back to the page it was asked from."""
    on = request.POST.get("on") == "1"
    changed = set_safe_mode(on, actor=request.user, note=request.POST.get("note", "").strip())
    _, current = apply_here()
    if on:
        messages.warning(request, "Safe mode is on: no plugin process runs.")
    elif current.on:
        messages.warning(
            request,
            "This server was started with JUPITER_SAFE_MODE=1: restart it without the "
            "variable to load plugins.",
        )
    elif changed:
        messages.success(request, "Safe mode is off: the enabled plugins are loaded again.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect("plugins_app:plugin-list")
    return redirect(target)


@require_GET
def plugin_processes(request: HttpRequest, plugin_id: str) -> HttpResponse:
    """The plugin's process events, newest first (polled by its page)."""
    plugin = plugin_or_404(plugin_id)
    return render(request, "plugins_app/partials/plugin_processes.html", processes_context(plugin))


def processes_context(plugin: InstalledPlugin) -> dict[str, Any]:
    """What the "Processes" section of a plugin page shows."""
    return {
        "plugin": plugin,
        "events": history(plugin.plugin_id),
        "trouble": trouble(plugin.plugin_id),
    }
