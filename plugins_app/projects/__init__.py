"""Projects and the per-project state of plugins, kept in step with each project's
``<project>.jupiter.yaml``.
"""

__all__ = ["dependencies", "errors", "projectfile", "service", "signals"]
