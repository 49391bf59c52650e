"""Remote actions Meeting may ask for (SPEC MT1, B5).

``status`` and ``list_plugins`` only read, so a plan made of them runs without a click;
``announce`` writes to the plugin log and the event bus, so it waits for a staff user's
confirmation in the console.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

ANNOUNCE_SCHEMA = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string", "minLength": 1, "maxLength": 500}},
    "additionalProperties": False,
}
NO_PARAMS = {"type": "object", "additionalProperties": False}


def register(bridge: Any) -> None:
    services = bridge.services
    log = services.get_logger()

    def status() -> dict[str, Any]:
        counts = Counter(row["status"] for row in services.get_plugin_statuses())
        return {"plugins": sum(counts.values()), "by_status": dict(sorted(counts.items()))}

    def list_plugins() -> list[dict[str, Any]]:
        return services.get_plugin_statuses()

    def announce(message: str) -> dict[str, Any]:
        log.info("Meeting announcement: %s", message)
        delivered = services.get_event_bus().publish("announcement", {"message": message})
        return {"logged": True, "subscribers": delivered}

    actions = bridge.remote_actions
    actions.register(
        "status",
        status,
        description="Count plugins by status.",
        read_only=True,
        params_schema=NO_PARAMS,
    )
    actions.register(
        "list_plugins",
        list_plugins,
        description="List installed plugins with version and status.",
        read_only=True,
        params_schema=NO_PARAMS,
    )
    actions.register(
        "announce",
        announce,
        description="Write a message from Meeting to the log and the event bus.",
        read_only=False,
        params_schema=ANNOUNCE_SCHEMA,
    )
