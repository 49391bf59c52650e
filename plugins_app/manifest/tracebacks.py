"""One readable line for an exception raised by plugin code, pointing into the plugin.

It needs only the manifest's folder, so it lives beside the manifest: the kernel (loading),
config (settings migrations), jobs and observability all report plugin failures this way.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from plugins_app.manifest.model import Manifest


def summarise_exception(exc: BaseException, manifest: Manifest) -> str:
    """One readable line: the exception, and where in the plugin's own code it came from.

    An exception raised in a plugin's process arrives with that process's own summary (a
    ``failure`` with ``type``, ``message`` and ``where``), which is used as it is.
    """
    failure = getattr(exc, "failure", None)
    if failure is not None and all(hasattr(failure, a) for a in ("type", "message", "where")):
        return f"{failure.type}: {failure.message}{failure.where}"
    frames = traceback.extract_tb(exc.__traceback__)
    root = str(Path(manifest.root).resolve())
    inside = [f for f in frames if str(Path(f.filename).resolve()).startswith(root)]
    where = ""
    if inside:
        frame = inside[-1]
        rel = Path(frame.filename).resolve().relative_to(root)
        where = f" (at {rel}:{frame.lineno} in {frame.name})"
    message = str(exc) or "(no message)"
    return f"{type(exc).__name__}: {message}{where}"
