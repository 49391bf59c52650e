"""The console's views, one module per area (the NetBox split).

Every view requires login (``LoginRequiredMiddleware``); state changes are POST-only and
CSRF-checked, HTMX requests included (the token rides in ``hx-headers``). Views decide what
to show; the values pages show come from ``web.presenters``, the rules from the layers below.
"""

__all__ = [
    "api",
    "audit",
    "catalogue",
    "contributions",
    "extras",
    "jobs",
    "meeting",
    "observability",
    "plugins",
    "projects",
    "settings",
]
