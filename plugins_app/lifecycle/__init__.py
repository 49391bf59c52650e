"""Installing, updating (with rollback) and uninstalling plugins; settings kept for a
reinstall.
"""

__all__ = ["changes", "consent", "installer", "retained", "updates"]
