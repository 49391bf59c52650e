"""Which process this is, as recorded on jobs and reload requests (``host:pid``)."""

from __future__ import annotations

import os
import socket

__all__ = ["process_id"]


def process_id() -> str:
    """``host:pid`` of the calling process, computed on each call so a fork gets its own."""
    return f"{socket.gethostname()}:{os.getpid()}"
