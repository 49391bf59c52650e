"""What ``bridge.services`` hands a plugin: its logger, config, projects, files, runner,
HTTP client, history, graph and event bus, each checked against its declared permissions.
"""

__all__ = ["grants", "history", "permissions", "provider"]
