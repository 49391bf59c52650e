"""Plugin settings: layering (defaults <- global <- project), the stored rows, one
migration path between schema versions, the console's per-layer saves, and import/export.
"""

__all__ = ["errors", "layering", "messages", "migrations", "scope", "secrets", "store", "transfer"]
