"""The console: URLs, views, presenters, WebSocket consumers, the auto-UI built from
manifests, template tags, the admin and what a server process runs.
"""

__all__ = [
    "admin",
    "autoui",
    "consumers",
    "decorators",
    "middleware",
    "presenters",
    "routing",
    "server",
    "templatetags",
    "urls",
    "views",
]
