"""Steering a fixture plugin that runs in its own process, as tests once did in-process.

The fixture exposes small functions (``set_state``, ``release``, ``started``) as its public
API; this object gives tests the module-like handles they used before (``STATE``,
``RELEASE``, ``STARTED``), each a call into the plugin's process.
"""

from __future__ import annotations

import time
from typing import Any

from plugins_app.kernel.runtime import get_runtime


class _State:
    def __init__(self, api: Any) -> None:
        self._api = api

    def __setitem__(self, key: str, value: Any) -> None:
        self._api["set_state"](key, value)


class _Flag:
    def __init__(self, api: Any, name: str, plugin_id: str) -> None:
        self._api, self._name, self._plugin_id = api, name, plugin_id

    def set(self) -> None:
        """Release the waiters, if the process still runs (a killed one has none left)."""
        process = get_runtime().supervisor.process(self._plugin_id)
        if process is not None and process.alive:
            self._api[self._name]()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._api[self._name]():
                return True
            time.sleep(0.02)
        return False


class PluginControl:
    """``STATE``, ``RELEASE`` and ``STARTED`` of a loaded fixture plugin."""

    def __init__(self, plugin_id: str) -> None:
        registration = get_runtime().bridge.registration(plugin_id)
        assert registration is not None, f"{plugin_id} is not loaded"
        api = registration.public_api
        self.STATE = _State(api)
        self.RELEASE = _Flag(api, "release", plugin_id)
        self.STARTED = _Flag(api, "started", plugin_id)
