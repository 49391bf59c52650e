"""A project's history and graph, for the console and for plugins (SPEC D2, D3).

The timeline merges three sources, newest first: ``HistoryEntry`` rows (scans, analyses,
notes plugins record), finished ``Job`` rows, and config changes from the audit trail. Each
already has its table; copying jobs and audit events into a fourth would only duplicate them.

Plugins reach both through ``bridge.services.get_history()`` and ``get_graph()``, limited to
the projects that enabled them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from plugins_app.models import (
    FINAL_JOB_STATES,
    AuditAction,
    AuditEvent,
    HistoryEntry,
    HistoryKind,
    Job,
    Project,
    ProjectGraph,
)
from plugins_app.sdk.values import Graph


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str
    summary: str
    plugin_id: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


def timeline(project: Project, limit: int = 50, *, with_data: bool = True) -> list[TimelineItem]:
    """The project's recent history, newest first, across scans, jobs and config changes.

    Pages pass ``with_data=False``: an entry's data can be megabytes (a 20,000-file analysis)
    and a timeline line shows only its summary.
    """
    entries = HistoryEntry.objects.filter(project=project)
    if not with_data:
        entries = entries.defer("data")
    items = [
        TimelineItem(e.created_at, e.kind, e.summary, e.plugin_id, e.data if with_data else {})
        for e in entries[:limit]
    ]
    jobs = Job.objects.filter(project=project, state__in=FINAL_JOB_STATES).order_by("-finished_at")[
        :limit
    ]
    items += [
        TimelineItem(
            j.finished_at or j.created_at,
            "job",
            f"{j.title or j.name} {j.state}" + (f": {j.error}" if j.error else ""),
            j.plugin_id,
            {"job": str(j.pk)},
        )
        for j in jobs
    ]
    changes = AuditEvent.objects.filter(
        project_name=project.name, action=AuditAction.CONFIG_CHANGE
    )[:limit]
    items += [
        TimelineItem(a.created_at, "config", "settings changed", a.plugin_id, {"after": a.after})
        for a in changes
    ]
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]


def latest(project: Project, kind: HistoryKind) -> HistoryEntry | None:
    return HistoryEntry.objects.filter(project=project, kind=kind).first()


def graph_of(project: Project) -> Graph | None:
    row = ProjectGraph.objects.filter(project=project).first()
    if row is None:
        return None
    return Graph(
        project.name,
        tuple(node["path"] for node in row.nodes),
        tuple((e["source"], e["target"], bool(e["internal"])) for e in row.edges),
    )


ProjectLookup = Callable[[str], Project]


class HistoryService:
    """``bridge.services.get_history()``: read a project's timeline, add notes to it."""

    def __init__(self, plugin_id: str, project: ProjectLookup) -> None:
        self._plugin_id = plugin_id
        self._project = project

    def timeline(self, project: str, limit: int = 50) -> list[TimelineItem]:
        return timeline(self._project(project), limit)

    def record(self, project: str, summary: str, data: Mapping[str, Any] | None = None) -> None:
        HistoryEntry.objects.create(
            project=self._project(project),
            kind=HistoryKind.NOTE,
            plugin_id=self._plugin_id,
            summary=summary[:500],
            data=dict(data or {}),
        )


class GraphService:
    """``bridge.services.get_graph()``: the import graph the latest scan built."""

    def __init__(self, project: ProjectLookup) -> None:
        self._project = project

    def for_project(self, project: str) -> Graph | None:
        return graph_of(self._project(project))
