"""Plugin process history (SPEC X3): every start, stop, crash and kill, kept and audited.

Each host process's supervisor announces what happens to its plugin processes
(``kernel.supervisor.plugin_process_event``); this receiver writes every event as a
``PluginProcessEvent`` row, whichever process (web or worker) saw it, and audits crashes and
kills. The plugin page shows the rows newest first (its "Processes" section, polled), and
safe mode lists the plugins that crashed or were killed lately: that is where an operator
finds the culprit while no plugin runs. A failed write is logged; the supervisor goes on.
Rows older than ``RETENTION`` are dropped when the plugin's process starts again (the audit
trail keeps its crashes and kills).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import DatabaseError
from django.db.models import Count, Max, Q
from django.utils import timezone

from plugins_app.base.process import process_id
from plugins_app.kernel.processes import ProcessEvent
from plugins_app.kernel.supervisor import Supervisor, plugin_process_event
from plugins_app.models import AuditAction, PluginProcessEvent, ProcessEventKind, audit

__all__ = ["TROUBLE_WINDOW", "ProcessTrouble", "history", "trouble", "troubled_plugins"]

log = logging.getLogger("jupiter.processes")
TROUBLE_WINDOW = timedelta(hours=24)
RETENTION = timedelta(days=30)
HISTORY_LIMIT = 20
AUDITED = {
    ProcessEventKind.CRASHED: AuditAction.PROCESS_CRASHED,
    ProcessEventKind.KILLED: AuditAction.PROCESS_KILLED,
}


def _on_process_event(event: ProcessEvent, **kwargs: Any) -> None:
    kind = ProcessEventKind(event.kind)
    origin = process_id()
    try:
        PluginProcessEvent.objects.create(
            plugin_id=event.plugin_id,
            kind=kind,
            reason=event.reason[:2000],
            pid=event.pid,
            origin=origin,
            at=datetime.fromtimestamp(event.at, tz=UTC),
        )
        if kind == ProcessEventKind.STARTED:
            PluginProcessEvent.objects.filter(
                plugin_id=event.plugin_id, at__lt=timezone.now() - RETENTION
            ).delete()
        if kind in AUDITED:
            audit.record(
                AUDITED[kind],
                plugin_id=event.plugin_id,
                after={"pid": event.pid, "host_process": origin},
                detail=event.reason,
            )
    except DatabaseError:
        log.warning("could not record %s %s", event.plugin_id, event.kind, exc_info=True)


plugin_process_event.connect(
    _on_process_event, sender=Supervisor, dispatch_uid="processes.plugin_process_event"
)


def history(plugin_id: str, limit: int = HISTORY_LIMIT) -> list[PluginProcessEvent]:
    """The plugin's latest process events, newest first."""
    return list(PluginProcessEvent.objects.filter(plugin_id=plugin_id)[:limit])


@dataclass(frozen=True)
class ProcessTrouble:
    """Crashes and kills of one plugin's processes since ``since``."""

    plugin_id: str
    crashes: int
    kills: int
    last_at: datetime | None = None
    since: datetime | None = None

    @property
    def total(self) -> int:
        return self.crashes + self.kills


def _counted() -> dict[str, Any]:
    return {
        "crashes": Count("id", filter=Q(kind=ProcessEventKind.CRASHED)),
        "kills": Count("id", filter=Q(kind=ProcessEventKind.KILLED)),
        "last_at": Max("at"),
    }


def trouble(plugin_id: str, window: timedelta = TROUBLE_WINDOW) -> ProcessTrouble:
    """How often the plugin's processes crashed or were killed within ``window``."""
    since = timezone.now() - window
    counts = PluginProcessEvent.objects.filter(
        plugin_id=plugin_id,
        at__gte=since,
        kind__in=[ProcessEventKind.CRASHED, ProcessEventKind.KILLED],
    ).aggregate(**_counted())
    return ProcessTrouble(plugin_id, counts["crashes"], counts["kills"], counts["last_at"], since)


def troubled_plugins(window: timedelta = TROUBLE_WINDOW) -> list[ProcessTrouble]:
    """Plugins whose processes crashed or were killed within ``window``, worst first."""
    since = timezone.now() - window
    rows = (
        PluginProcessEvent.objects.filter(
            at__gte=since, kind__in=[ProcessEventKind.CRASHED, ProcessEventKind.KILLED]
        )
        .values("plugin_id")
        .annotate(**_counted())
    )
    found = [
        ProcessTrouble(r["plugin_id"], r["crashes"], r["kills"], r["last_at"], since) for r in rows
    ]
    return sorted(found, key=lambda t: (-t.total, t.plugin_id))
