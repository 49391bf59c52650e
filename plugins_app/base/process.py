"""Identity of the running process, as recorded on jobs and reload requests.

``host:pid`` is computed on each call rather than once at import, so a forked worker reports
its own pid instead of its parent's.
"""

from __future__ import annotations

import os
import socket


def process_id() -> str:
    """``<hostname>:<pid>`` of the calling process."""
    return f"{socket.gethostname()}:{os.getpid()}"
