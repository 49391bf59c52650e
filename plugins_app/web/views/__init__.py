"""The console's views, one module per area (the NetBox split).

- ``plugins``: the plugin list and a plugin's page, with per-project toggles;
- ``projects``: project list, registration, a project's page, toggles and conflicts;
- ``api``: the plugin list as JSON.

Every view requires login (``LoginRequiredMiddleware``); state changes are POST-only and
CSRF-checked, HTMX requests included (the token rides in ``hx-headers``).
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
