"""Inclusion tags that put the job sections on the plugin and project pages in one line."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django import template

from plugins_app.models import InstalledPlugin, Project
from plugins_app.web.presenters.jobs import plugin_runtime_context, project_jobs_context

register = template.Library()


@register.inclusion_tag("plugins_app/partials/plugin_runtime.html", takes_context=True)
def plugin_runtime(context: template.Context, plugin: InstalledPlugin) -> dict[str, Any]:
    """Jobs (own and added by extenders), their panels, breaker, health, reload."""
    user = context["request"].user
    return {**plugin_runtime_context(plugin, user), "csrf_token": context.get("csrf_token")}


@register.inclusion_tag("plugins_app/partials/project_jobs.html", takes_context=True)
def project_jobs(context: template.Context, project: Project) -> dict[str, Any]:
    """Scan and analysis buttons (for those who may run jobs), the live job, the results."""
    return {
        **project_jobs_context(project),
        "csrf_token": context.get("csrf_token"),
        "can_operate": context.get("can_operate", False),
    }


RESULT_CHARS = 20_000
READABLE_DEPTH = 4
READABLE_ITEMS = 50


@dataclass(frozen=True)
class Readable:
    """A JSON value as the page shows it: ``kind`` "map", "list" or "text", bounded in
    depth and width (``more`` counts what was left out)."""

    kind: str
    text: str = ""
    items: tuple[tuple[str, Readable], ...] = ()
    more: int = 0


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _readable(value: Any, depth: int) -> Readable:
    if isinstance(value, Mapping | list | tuple) and depth >= READABLE_DEPTH:
        return Readable("text", json.dumps(value, ensure_ascii=False, default=str)[:300])
    if isinstance(value, Mapping):
        entries = list(value.items())
        shown = tuple(
            (str(k).replace("_", " "), _readable(v, depth + 1)) for k, v in entries[:READABLE_ITEMS]
        )
        return Readable("map", items=shown, more=max(0, len(entries) - READABLE_ITEMS))
    if isinstance(value, list | tuple):
        shown = tuple(("", _readable(v, depth + 1)) for v in value[:READABLE_ITEMS])
        return Readable("list", items=shown, more=max(0, len(value) - READABLE_ITEMS))
    return Readable("text", _text(value))


@register.filter
def readable(value: Any) -> Readable:
    """A result as labelled values and lists (``partials/readable_value.html``), never a
    JSON dump or a Python repr; the raw JSON stays one click away where it is shown."""
    return _readable(value, 0)


@register.filter
def pretty_json(value: Any) -> str:
    """Indented JSON for a ``<pre>``, cut at 20,000 characters; autoescaped by the template."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text if len(text) <= RESULT_CHARS else text[:RESULT_CHARS] + "\n…"


@register.filter
def scalar_items(value: Any) -> list[tuple[str, Any]]:
    """The top-level scalar entries of a mapping: what a one-line result summary can show."""
    if not isinstance(value, Mapping):
        return []
    return [
        (str(k), v)
        for k, v in value.items()
        if v is None or isinstance(v, str | int | float | bool)
    ]
