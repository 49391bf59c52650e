"""WebSocket routes. Consumers check the session user; the origin check wraps them in asgi.py."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
