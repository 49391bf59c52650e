"""A project's latest scan and analysis as the project page shows them, at any size.

A scan of 120,000 files or an analysis of 20,000 stores megabytes of JSON; the page needs a
few numbers per plugin. So the rows are read with ``data`` deferred and only the keys shown
are extracted by the database (``KeyTransform``): the scan's counts, the analysis's
``overview`` (each plugin's error and finding count, written by
``jobs.scan.analysis_overview``). The findings themselves are paged from ``Finding`` rows
(``presenters.findings``), loaded after the page. History entries are never changed once
written, so what is extracted from one is cached by its primary key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db.models.fields.json import KeyTransform

from plugins_app.jobs.scan import analysis_overview
from plugins_app.models import HistoryEntry, HistoryKind, Project, ProjectGraph
from plugins_app.services.history import timeline

SCAN_FACTS = ("files", "ignored", "by_extension", "internal_imports", "external_modules")
SHOWN_EXTENSIONS = 8
SHOWN_MODULES = 30


@dataclass(frozen=True)
class ScanFacts:
    created_at: datetime
    summary: str
    files: int
    ignored: int
    extensions: tuple[tuple[str, int], ...]
    internal_imports: int
    external_modules: tuple[str, ...]
    external_count: int


@dataclass(frozen=True)
class FindingGroup:
    """One plugin's outcome: its error, its finding count, or its scalar result."""

    plugin_id: str
    error: str
    count: int
    scalars: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class AnalysisView:
    created_at: datetime
    summary: str
    groups: tuple[FindingGroup, ...]


def _latest(project: Project, kind: HistoryKind) -> HistoryEntry | None:
    rows = HistoryEntry.objects.filter(project=project, kind=kind)
    return rows.only("pk", "created_at", "summary").first()


def _extracted(entry: HistoryEntry, keys: dict[str, KeyTransform]) -> dict[str, Any]:
    """``keys`` extracted from the entry's data by the database, cached by entry."""
    cache_key = f"jupiter:history-keys:v1:{entry.pk}:{','.join(sorted(keys))}"
    found: dict[str, Any] | None = cache.get(cache_key)
    if found is None:
        found = dict(HistoryEntry.objects.filter(pk=entry.pk).values(**keys).first() or {})
        cache.set(cache_key, found, 3600)
    return found


def scan_facts(project: Project) -> ScanFacts | None:
    row = _latest(project, HistoryKind.SCAN)
    if row is None:
        return None
    facts = _extracted(row, {f"fact_{k}": KeyTransform(k, "data") for k in SCAN_FACTS})
    extensions = facts.get("fact_by_extension")
    extensions = extensions if isinstance(extensions, Mapping) else {}
    modules = facts.get("fact_external_modules")
    modules = modules if isinstance(modules, list) else []
    return ScanFacts(
        row.created_at,
        row.summary,
        int(facts.get("fact_files") or 0),
        int(facts.get("fact_ignored") or 0),
        tuple(list(extensions.items())[:SHOWN_EXTENSIONS]),
        int(facts.get("fact_internal_imports") or 0),
        tuple(modules[:SHOWN_MODULES]),
        len(modules),
    )


def analysis_view(project: Project) -> AnalysisView | None:
    """The latest analysis: each plugin's error, finding count or scalar result."""
    row = _latest(project, HistoryKind.ANALYSIS)
    if row is None:
        return None
    overview = _extracted(row, {"overview": KeyTransform("overview", "data")}).get("overview")
    if not isinstance(overview, Mapping):  # recorded before overviews were stored
        plugins = HistoryEntry.objects.filter(pk=row.pk).values_list(
            KeyTransform("plugins", "data"), flat=True
        )
        overview = analysis_overview(plugins.first() or {})
    groups = [
        FindingGroup(
            plugin_id,
            str(item.get("error", "")),
            int(item.get("count", 0)),
            tuple((str(k), v) for k, v in item.get("scalars", ())),
        )
        for plugin_id, item in sorted(overview.items())
    ]
    return AnalysisView(row.created_at, row.summary, tuple(groups))


def project_results_context(project: Project) -> dict[str, Any]:
    return {
        "project": project,
        "scan": scan_facts(project),
        "analysis": analysis_view(project),
        "has_graph": ProjectGraph.objects.filter(project=project).exists(),
        "timeline": timeline(project, limit=8, with_data=False),
    }
