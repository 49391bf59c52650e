"""WebSocket consumers: live job events and a plugin's live log lines and events."""

__all__ = ["jobs", "logs"]
