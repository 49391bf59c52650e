"""WebSocket routes. Consumers check the session user; the origin check wraps them in asgi.py."""

from django.urls import URLPattern, path

from .consumers import JobEventsConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/jobs/<str:kind>/<str:key>/", JobEventsConsumer.as_asgi()),
]
