"""``{% notification_bell %}`` for the top bar and ``{% plugin_extras plugin %}`` for the
plugin page (SPEC U8): one template line each, the views that own those pages untouched."""

from __future__ import annotations

from typing import Any

from django import template

from plugins_app.models import InstalledPlugin
from plugins_app.observability import notifications
from plugins_app.web.presenters.extras import extras_context

register = template.Library()


@register.inclusion_tag("plugins_app/partials/notification_bell.html", takes_context=True)
def notification_bell(context: template.Context) -> dict[str, Any]:
    user = context.get("user")
    if not (user and user.is_authenticated):
        return {"unread": 0, "latest": None}
    return {"unread": notifications.unread_count(user), "latest": notifications.latest_unread(user)}


@register.inclusion_tag("plugins_app/partials/plugin_extras.html", takes_context=True)
def plugin_extras(context: template.Context, plugin: InstalledPlugin) -> dict[str, Any]:
    """Debug mode and the problem report, for staff."""
    return {
        **extras_context(plugin),
        "user": context.get("user"),
        "csrf_token": context.get("csrf_token"),
    }
