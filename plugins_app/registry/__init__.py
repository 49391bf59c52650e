"""What is installed: discovery of plugin folders, their rows in the database (the one
writer of plugin status is here), core plugin ids, and dependency order.
"""

__all__ = ["core", "dependencies", "discovery", "sync"]
