"""Plain values that pages show, computed from the layers below (no HTTP here)."""

__all__ = ["activity", "findings", "graph", "jobs"]
