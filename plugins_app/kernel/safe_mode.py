"""Safe mode: Jupiter with no plugin loaded, for recovery (SPEC X3).

As in VS Code (extensions off, then bisect), Home Assistant and OctoPrint: when a plugin
makes the installation unusable, start without any, find the culprit from its crash and
timeout history, disable it, and leave. Either of two switches turns it on for a process:

- ``JUPITER_SAFE_MODE=1`` in the process's environment: that start only (restart without
  the variable to leave);
- the deployment's ``SafeMode`` row (``jupiter_plugins safe-mode on|off``, or the button in
  the console's banner): persistent, read by every process, web and workers, each time it
  reconciles its plugins, and announced on the change feed when it changes.

While it is on the runtime loads only the core plugins: the supervisor refuses to start any
plugin process at all, and every enabled plugin's status says "safe mode". This module only
reads the switches; ``lifecycle.recovery`` turns the persistent one on and off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from plugins_app.base import conf
from plugins_app.models import SafeMode

__all__ = ["ENVIRONMENT_VARIABLE", "SafeModeState", "active", "state"]

ENVIRONMENT_VARIABLE = "JUPITER_SAFE_MODE"


@dataclass(frozen=True)
class SafeModeState:
    """Whether this process is in safe mode, and from which switch."""

    from_environment: bool = False
    from_database: bool = False
    since: datetime | None = None
    by: str = ""
    note: str = ""

    @property
    def on(self) -> bool:
        return self.from_environment or self.from_database

    @property
    def reason(self) -> str:
        """The status reason of a plugin that is not loaded because of it."""
        if self.from_environment:
            return f"safe mode ({ENVIRONMENT_VARIABLE}=1): no plugin is loaded"
        return "safe mode: no plugin is loaded until an administrator leaves safe mode"


def state() -> SafeModeState:
    """Both switches as this process sees them now (one query)."""
    row = SafeMode.objects.filter(pk=1, enabled=True).select_related("changed_by").first()
    return SafeModeState(
        from_environment=conf.get().safe_mode,
        from_database=row is not None,
        since=row.changed_at if row is not None else None,
        by=row.changed_by.get_username() if row is not None and row.changed_by else "",
        note=row.note if row is not None else "",
    )


def active() -> bool:
    return conf.get().safe_mode or SafeMode.objects.filter(pk=1, enabled=True).exists()
