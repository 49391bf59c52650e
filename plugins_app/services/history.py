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

from plugins_app.base.graphs import cycles
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


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str
    summary: str
    plugin_id: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


def timeline(project: Project, limit: int = 50) -> list[TimelineItem]:
    """The project's recent history, newest first, across scans, jobs and config changes."""
    items = [
        TimelineItem(e.created_at, e.kind, e.summary, e.plugin_id, e.data)
        for e in HistoryEntry.objects.filter(project=project)[:limit]
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


@dataclass(frozen=True)
class Graph:
    """Files (nodes) and Python imports (edges ``source -> target``) of one project.

    ``target`` is a project file when the import resolves inside the project, else the
    imported module's dotted name with ``internal`` false.
    """

    project: str
    files: tuple[str, ...]
    edges: tuple[tuple[str, str, bool], ...]

    def imports_of(self, path: str) -> list[str]:
        return [target for source, target, _ in self.edges if source == path]

    def imported_by(self, path: str) -> list[str]:
        return [source for source, target, internal in self.edges if internal and target == path]

    def import_cycles(self) -> list[list[str]]:
        """Groups of project files that import each other, each sorted, for plugins."""
        graph: dict[str, list[str]] = {}
        for source, target, internal in self.edges:
            if internal and source != target:
                graph.setdefault(source, []).append(target)
        return sorted(cycles({k: sorted(v) for k, v in graph.items()}))


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
