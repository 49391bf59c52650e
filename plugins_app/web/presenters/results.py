"""A project's latest scan and analysis as the project page shows them, at any size.

A scan of 120,000 files or an analysis of 20,000 stores megabytes of JSON; the page needs a
few numbers and one page of findings per plugin. So the rows are read with ``data`` deferred
and only the keys shown are extracted by the database (``KeyTransform``): the scan's counts,
the analysis's ``overview`` (each plugin's error, finding count and first page, written by
``jobs.scan.analysis_overview``). Only asking for a later page of one plugin's findings
decodes that plugin's list. History entries are never changed once written, so what is
extracted from one is cached by its primary key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models.fields.json import KeyTransform

from plugins_app.jobs.scan import FINDINGS_PAGE, analysis_overview
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
    """One plugin's outcome: its error, or one page of its findings, or its scalar result."""

    plugin_id: str
    error: str
    count: int
    findings: tuple[Any, ...]
    scalars: tuple[tuple[str, Any], ...]
    page: int = 1
    pages: int = 1


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


def _findings_page(entry_id: int, plugin_id: str, number: int) -> tuple[Any, int, int]:
    """Page ``number`` of one plugin's findings: (findings, page, pages)."""
    path = KeyTransform("findings", KeyTransform(plugin_id, KeyTransform("plugins", "data")))
    found = HistoryEntry.objects.filter(pk=entry_id).values_list(path, flat=True).first()
    page = Paginator(found if isinstance(found, list) else [], FINDINGS_PAGE).get_page(number)
    return tuple(page.object_list), page.number, page.paginator.num_pages


def analysis_view(project: Project, params: Mapping[str, str]) -> AnalysisView | None:
    """The latest analysis; ``findings_plugin`` and ``findings_page`` pick a later page."""
    row = _latest(project, HistoryKind.ANALYSIS)
    if row is None:
        return None
    overview = _extracted(row, {"overview": KeyTransform("overview", "data")}).get("overview")
    if not isinstance(overview, Mapping):  # recorded before overviews were stored
        plugins = HistoryEntry.objects.filter(pk=row.pk).values_list(
            KeyTransform("plugins", "data"), flat=True
        )
        overview = analysis_overview(plugins.first() or {})
    wanted = params.get("findings_plugin", "")
    try:
        number = int(params.get("findings_page", "1"))
    except ValueError:
        number = 1
    groups = []
    for plugin_id, item in sorted(overview.items()):
        count = int(item.get("count", 0))
        pages = max(1, -(-count // FINDINGS_PAGE))
        findings, page = tuple(item.get("first", ())), 1
        if plugin_id == wanted and number > 1 and count > FINDINGS_PAGE:
            findings, page, pages = _findings_page(row.pk, plugin_id, number)
        scalars = tuple((str(k), v) for k, v in item.get("scalars", ()))
        groups.append(
            FindingGroup(
                plugin_id, str(item.get("error", "")), count, findings, scalars, page, pages
            )
        )
    return AnalysisView(row.created_at, row.summary, tuple(groups))


def project_results_context(
    project: Project, params: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return {
        "project": project,
        "scan": scan_facts(project),
        "analysis": analysis_view(project, params or {}),
        "has_graph": ProjectGraph.objects.filter(project=project).exists(),
        "timeline": timeline(project, limit=8, with_data=False),
    }
