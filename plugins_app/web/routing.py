"""WebSocket routes. Consumers check the session user; the origin check wraps them in asgi.py."""

from django.urls import URLPattern, path

from plugins_app.web.consumers.jobs import JobEventsConsumer
from plugins_app.web.consumers.logs import PluginEventConsumer, PluginLogConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/jobs/<str:kind>/<str:key>/", JobEventsConsumer.as_asgi()),
    path("ws/plugins/<str:plugin_id>/logs/", PluginLogConsumer.as_asgi(), name="plugin-logs-ws"),
    path(
        "ws/plugins/<str:plugin_id>/events/", PluginEventConsumer.as_asgi(), name="plugin-events-ws"
    ),
]
