"""WebSocket routes. Consumers check the session user; the origin check wraps them in asgi.py."""

from django.urls import URLPattern, path

from .consumers import PluginEventConsumer, PluginLogConsumer
from .job_consumer import JobEventsConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/jobs/<str:kind>/<str:key>/", JobEventsConsumer.as_asgi()),
    path("ws/plugins/<str:plugin_id>/logs/", PluginLogConsumer.as_asgi(), name="plugin-logs-ws"),
    path(
        "ws/plugins/<str:plugin_id>/events/", PluginEventConsumer.as_asgi(), name="plugin-events-ws"
    ),
]
