"""Metrics and logs of plugins (SPEC U3, U4, O1, O2): the card, the panel and the exports."""

from __future__ import annotations

import hmac
import logging

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from plugins_app.base import conf
from plugins_app.logs.hub import (
    LEVELS,
    LINES_PER_MESSAGE,
    MESSAGES_PER_SECOND,
    TAIL_DEFAULT,
    get_hub,
)
from plugins_app.manifest.model import MetricsCapability
from plugins_app.models import InstalledPlugin, TokenScope
from plugins_app.observability.metrics import plugin_sample, registry, sample_payload
from plugins_app.web.decorators import can_read_plugin_logs, plugin_or_404, token_scope
from plugins_app.web.presenters.activity import metric_sparklines

log = logging.getLogger("jupiter.metrics")
MIN_POLL, MAX_POLL = 5, 60


def _plugin_logs_or_403(request: HttpRequest, plugin_id: str) -> InstalledPlugin:
    plugin = plugin_or_404(plugin_id)
    if not can_read_plugin_logs(request.user, plugin):
        raise PermissionDenied("this plugin's logs are for staff and members of its projects")
    return plugin


def _metrics_capability(plugin: InstalledPlugin) -> MetricsCapability:
    """What the manifest asks for; a plugin whose plugin.yaml is invalid has no metrics."""
    manifest = plugin.typed_manifest
    return manifest.capabilities.metrics if manifest is not None else MetricsCapability()


@require_GET
def plugin_metrics_card(request: HttpRequest, plugin_id: str) -> HttpResponse:
    """The metrics card; it polls itself at the manifest's interval (5 to 60 s). Each value
    has a sparkline of its recent history."""
    plugin = plugin_or_404(plugin_id)
    metrics = _metrics_capability(plugin)
    sample = plugin_sample(plugin_id) if metrics.enabled else None
    sparks = metric_sparklines(plugin_id) if sample else {}
    context = {
        "plugin": plugin,
        "enabled": metrics.enabled,
        "sample": sample,
        "rows": [
            (name, f"{value:g}", sparks.get(name)) for name, value in sorted(sample.values.items())
        ]
        if sample
        else [],
        "age": sample.age() if sample else None,
        "poll": int(min(MAX_POLL, max(MIN_POLL, metrics.interval))),
    }
    return render(request, "plugins_app/autoui/metrics_card.html", context)


@token_scope(TokenScope.READ)
@require_GET
def plugin_metrics_json(request: HttpRequest, plugin_id: str) -> JsonResponse:
    plugin = plugin_or_404(plugin_id)
    metrics = _metrics_capability(plugin)
    payload = sample_payload(plugin_sample(plugin_id) if metrics.enabled else None)
    return JsonResponse(
        {
            "plugin": plugin_id,
            "enabled": metrics.enabled,
            "interval": float(metrics.interval),
            **payload,
        }
    )


@token_scope(TokenScope.METRICS)
@login_not_required
@require_GET
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text for every plugin: for a logged-in user, a scraper's API token with the
    ``metrics`` scope, or ``Authorization: Bearer $JUPITER_METRICS_TOKEN`` (scrapers cannot
    log in)."""
    token = conf.get().metrics_token
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    allowed = request.user.is_authenticated or (
        bool(token) and hmac.compare_digest(given.encode(), token.encode())
    )
    if not allowed:
        log.warning("metrics scrape refused from %s", request.META.get("REMOTE_ADDR", "?"))
        response = HttpResponse("authentication required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="jupiter-metrics"'
        return response
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


@require_GET
def plugin_log_panel(request: HttpRequest, plugin_id: str) -> HttpResponse:
    """The log panel with the file's last lines; ``logpanel.js`` then streams new ones."""
    plugin = _plugin_logs_or_403(request, plugin_id)
    level = request.GET.get("level", "")
    lines, _ = get_hub().snapshot(plugin_id, TAIL_DEFAULT, LEVELS.get(level, 0))
    context = {
        "plugin": plugin,
        "lines": lines,
        "levels": [name for name in LEVELS if name],
        "level": level if level in LEVELS else "",
        "cap": MESSAGES_PER_SECOND * LINES_PER_MESSAGE,
        "tail": TAIL_DEFAULT,
    }
    return render(request, "plugins_app/autoui/log_panel.html", context)


@require_GET
def plugin_log_download(request: HttpRequest, plugin_id: str) -> StreamingHttpResponse:
    """The plugin's log: every process's files (and their rotated copies), merged in time
    order, streamed."""
    plugin = _plugin_logs_or_403(request, plugin_id)
    response = StreamingHttpResponse(
        get_hub().download(plugin.plugin_id), content_type="text/plain; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{plugin.plugin_id}.log"'
    return response
