"""Plugin processes started in the background, for the web server's boot (issue 16).

A plugin with no remembered registration must start its process to register. The web
server's boot hands those to ``BackgroundStarts``: a few threads (``BACKGROUND_STARTS``)
start them in dependency order (a plugin waits for its dependencies' starts) once the server
answered its first request (``serving``; at most ``BACKGROUND_DELAY`` s), so neither the
server's start-up nor its first answer waits on, or shares the CPU with, plugin processes.
Each start ends in ``finish`` under the runtime's lock, told whether it is still wanted (the
plugin may have been disabled, or the runtime closed, meanwhile).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from django.db import connections

from plugins_app.kernel.processes import PluginProcessError
from plugins_app.manifest.model import Manifest
from plugins_app.sdk.bridge import Registration

__all__ = ["BACKGROUND_DELAY", "BACKGROUND_STARTS", "BackgroundStarts"]

log = logging.getLogger("jupiter.runtime")
# Bounded, so the starts leave the web server's own requests some CPU.
BACKGROUND_STARTS = max(2, min(4, os.cpu_count() or 2))
BACKGROUND_DELAY = 5.0

Load = Callable[[Manifest], Registration]
# finish(manifest, registration or None, why it failed, whether it is still wanted)
Finish = Callable[[Manifest, "Registration | None", str, bool], None]


class BackgroundStarts:
    """The background starts of one runtime."""

    def __init__(self, load: Load, finish: Finish, lock: threading.RLock) -> None:
        self._load, self._finish, self._lock = load, finish, lock
        self._pool: ThreadPoolExecutor | None = None
        self._pending: dict[str, tuple[Manifest, Future[None]]] = {}
        self._serving = threading.Event()
        self._closed = False

    def __contains__(self, plugin_id: object) -> bool:
        return plugin_id in self._pending

    def serving(self) -> None:
        """The web server answered a request: the starts may take the CPU now."""
        self._serving.set()

    def submit(self, manifest: Manifest) -> None:
        """Start the plugin's process on a background thread, after its dependencies'."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(BACKGROUND_STARTS, "jupiter-plugin-start")
            needed = {d.id for d in manifest.dependencies} | set(manifest.extends)
            first = [future for pid, (_, future) in self._pending.items() if pid in needed]
            future = self._pool.submit(self._run, manifest, first)
            self._pending[manifest.id] = (manifest, future)

    def cancel(self, plugin_id: str) -> None:
        """Forget the plugin's start (it is unloaded): not begun, it never will."""
        with self._lock:
            pending = self._pending.pop(plugin_id, None)
        if pending is not None:
            pending[1].cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the starts under way; whether none is left."""
        with self._lock:
            futures = [future for _, future in self._pending.values()]
        return not wait(futures, timeout).not_done

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, manifest: Manifest, first: list[Future[None]]) -> None:
        self._serving.wait(BACKGROUND_DELAY)
        # Submitted in dependency order to a FIFO pool: the dependencies started before.
        wait(first)
        registration: Registration | None = None
        try:
            registration, reason = self._load(manifest), ""
        except PluginProcessError as exc:
            reason = exc.reason
        except Exception as exc:  # a background start always ends in a status
            log.exception("plugin %s could not start", manifest.id)
            reason = f"could not start: {exc}"
        try:
            with self._lock:
                entry = self._pending.get(manifest.id)
                wanted = entry is not None and entry[0] is manifest and not self._closed
                if wanted:
                    del self._pending[manifest.id]
                self._finish(manifest, registration, reason, wanted)
        finally:
            connections.close_all()
