"""The console's views, one module per area (the NetBox split).

Every view requires login (``LoginRequiredMiddleware``); state changes are POST-only and
CSRF-checked, HTMX requests included (the token rides in ``hx-headers``). Views decide what
to show; the values pages show come from ``web.presenters``, the rules from the layers below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django_htmx.middleware import HtmxDetails


class JupiterRequest(HttpRequest):
    """The request a console view receives, for type checking only (views are handed a plain
    ``HttpRequest``): ``LoginRequiredMiddleware`` lets only signed-in users through and
    ``HtmxMiddleware`` adds ``htmx``."""

    user: User
    htmx: HtmxDetails


__all__ = [
    "JupiterRequest",
    "api",
    "audit",
    "catalogue",
    "contributions",
    "errors",
    "extras",
    "frames",
    "insights",
    "jobs",
    "meeting",
    "members",
    "observability",
    "plugins",
    "projects",
    "recovery",
    "settings",
    "tokens",
    "updates",
]
