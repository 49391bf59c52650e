"""The root of every error Jupiter raises on purpose.

``JupiterError`` lets the console and the command line tell a named, explained refusal from
a bug: a view may catch ``JupiterError`` and show its message, never ``Exception``. What a
plugin can receive back from the host derives from ``BridgeError`` (``plugins_app.kernel``
and ``plugins_app.services`` raise those), so plugin authors catch one class.
"""

from __future__ import annotations

__all__ = ["BridgeError", "JupiterError"]


class JupiterError(Exception):
    """Base of every error Jupiter raises deliberately; its message is meant for people."""


class BridgeError(JupiterError):
    """Base of every error a plugin can get back from the Bridge or its services."""
