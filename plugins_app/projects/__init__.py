"""Projects and the per-project state of plugins, kept in step with each project's
``<project>.jupiter.yaml``.
"""

__all__ = ["errors", "projectfile", "service", "signals"]
