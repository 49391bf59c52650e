"""For plugin authors: ``BridgeDouble`` to test a plugin without a host, and the
scaffold that writes a new plugin.
"""

__all__ = ["scaffold", "testing"]
