"""Plugin logs: a file per plugin, the aggregate, the bounded live feed, and per-plugin
debug mode (which only changes a logger's level).
"""

__all__ = ["debug", "hub"]
