"""The host side of the Bridge: every plugin's registration, and the services it hands out.

What a plugin receives (``PluginBridge``, the specs, its errors) is in ``sdk.bridge``, free
of Django; this class is the ``PluginHost`` behind it (SPEC B1-B5).
"""

from __future__ import annotations

import threading
from typing import Any

from plugins_app.manifest.model import Manifest
from plugins_app.sdk.bridge import PluginBridge, Registration
from plugins_app.services.provider import ServiceProvider

__all__ = ["Bridge"]


class Bridge:
    """The core Bridge: owns every plugin's registration and the service provider."""

    def __init__(self, service_provider: ServiceProvider) -> None:
        self.service_provider = service_provider
        self._registrations: dict[str, Registration] = {}
        self._lock = threading.RLock()

    def scoped(self, manifest: Manifest) -> PluginBridge:
        """A fresh, empty registration for ``manifest``; committed by ``install``."""
        return PluginBridge(self, manifest, Registration(manifest.id))

    def services_for(self, manifest: Manifest) -> Any:
        """``bridge.services`` of the plugin ``manifest`` describes."""
        return self.service_provider.for_plugin(manifest)

    def public_api(self, plugin_id: str) -> Any:
        registration = self.registration(plugin_id)
        return registration.public_api if registration is not None else None

    def install(self, registration: Registration) -> None:
        with self._lock:
            self._registrations[registration.plugin_id] = registration

    def remove(self, plugin_id: str) -> Registration | None:
        with self._lock:
            return self._registrations.pop(plugin_id, None)

    def registration(self, plugin_id: str) -> Registration | None:
        with self._lock:
            return self._registrations.get(plugin_id)

    def registrations(self) -> list[Registration]:
        with self._lock:
            return list(self._registrations.values())
