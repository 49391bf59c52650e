"""The staff extras of a plugin page: debug mode and the problem report (SPEC U8)."""

from __future__ import annotations

from plugins_app.logs import debug
from plugins_app.models import InstalledPlugin


def extras_context(plugin: InstalledPlugin) -> dict[str, object]:
    return {"plugin": plugin, "debug_enabled": debug.is_enabled(plugin)}
