"""Settings migrations of the reference plugin (``config_schema.migrations``, SPEC M6)."""

from __future__ import annotations

from typing import Any


def v1_to_v2(config: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had a top-level ``notify`` flag; version 2 keeps it under notifications."""
    migrated = dict(config)
    if "notify" in migrated:
        notifications = dict(migrated.get("notifications") or {})
        notifications["enabled"] = bool(migrated.pop("notify"))
        migrated["notifications"] = notifications
    return migrated
