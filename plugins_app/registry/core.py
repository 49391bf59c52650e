"""Core plugins (SPEC K1): part of Jupiter itself, no ``plugin.yaml``, never disabled.

They are loaded first, before discovery, by ``runtime.Runtime.boot``.
"""

from __future__ import annotations

from dataclasses import dataclass

from plugins_app.base.version import JUPITER_VERSION

CORE_PLUGINS: tuple[str, ...] = ("bridge", "settings_update")


@dataclass(frozen=True)
class CorePluginInfo:
    id: str
    name: str
    description: str
    version: str = JUPITER_VERSION


_INFOS = {
    "bridge": CorePluginInfo(
        "bridge",
        "Bridge",
        "Service locator every plugin registers through; checks permissions and dependencies.",
    ),
    "settings_update": CorePluginInfo(
        "settings_update",
        "Settings update",
        "Delivers configuration changes to loaded plugins and announces them on the event bus.",
    ),
}


def core_plugin_infos() -> list[CorePluginInfo]:
    return [_INFOS[pid] for pid in CORE_PLUGINS]
