"""The composition root of a process: the Bridge, loading plugin code, the runtime that
owns every process-wide object, hot reload, the scheduler and the core plugins.
"""

__all__ = ["bridge", "core", "loader", "reload", "runtime", "scheduler"]
