"""Foundations with no Jupiter imports: the version, the ``JUPITER_*`` settings table,
the error root, Ed25519 key material, atomic file writes and the process identity.

Everything else may import it; it imports nothing of Jupiter.
"""

__all__ = ["conf", "errors", "fsutil", "keys", "process", "version"]
