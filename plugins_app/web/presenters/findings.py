"""A project's findings at any size: counts, filters, search and pages, all in the database.

The latest analysis's findings are ``Finding`` rows (``jobs.findings``); a page is one
indexed query, the counts two ``GROUP BY`` queries, whatever the analysis holds (72,000
findings cost the same as 72). Filters live in the query string (``severity``, ``plugin``,
``path``, ``q``, ``page``), so every view of the findings is a link that can be shared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet

from plugins_app.jobs.findings import SEVERITIES
from plugins_app.models import Finding, Project
from plugins_app.web.charts import Bar, bar_chart

PAGE_SIZE = 25
FIRST_FILES = 5
QUERY_CHARS = 200


@dataclass(frozen=True)
class FindingFilters:
    """What the findings are narrowed to; each value is checked, unknown ones are dropped."""

    severity: str = ""
    plugin: str = ""
    path: str = ""
    q: str = ""

    @classmethod
    def of(cls, params: Mapping[str, str]) -> FindingFilters:
        severity = params.get("severity", "")
        return cls(
            severity if severity in SEVERITIES else "",
            params.get("plugin", "")[:64],
            params.get("path", "").strip()[:1024],
            params.get("q", "").strip()[:QUERY_CHARS],
        )

    @property
    def active(self) -> bool:
        return bool(self.severity or self.plugin or self.path or self.q)

    def apply(self, rows: QuerySet[Finding]) -> QuerySet[Finding]:
        if self.severity:
            rows = rows.filter(severity=self.severity)
        if self.plugin:
            rows = rows.filter(plugin_id=self.plugin)
        if self.path:
            # A file, or everything under a folder: both are prefixes of the stored path.
            rows = rows.filter(Q(path=self.path) | Q(path__startswith=self.path.rstrip("/") + "/"))
        if self.q:
            rows = rows.filter(
                Q(message__icontains=self.q) | Q(rule__icontains=self.q) | Q(path__icontains=self.q)
            )
        return rows

    def query(self, **changes: str) -> str:
        """The query string of these filters with ``changes`` applied (empty values dropped)."""
        values = {"severity": self.severity, "plugin": self.plugin, "path": self.path, "q": self.q}
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v})


@dataclass(frozen=True)
class FindingRow:
    """One finding as shown: a long list of files is its count, the first few, the rest
    behind an expander; never hundreds of names in one line."""

    severity: str
    plugin_id: str
    rule: str
    path: str
    line: int
    message: str
    first_files: tuple[str, ...]
    more_files: tuple[str, ...]
    file_count: int


def _row(finding: Finding) -> FindingRow:
    files = tuple(finding.files or ())
    return FindingRow(
        finding.severity,
        finding.plugin_id,
        finding.rule,
        finding.path,
        finding.line,
        finding.message,
        files[:FIRST_FILES],
        files[FIRST_FILES:],
        len(files),
    )


def _page_number(params: Mapping[str, str]) -> int:
    try:
        return max(1, int(params.get("page", "1")))
    except ValueError:
        return 1


def findings_context(project: Project, base_url: str, params: Mapping[str, str]) -> dict[str, Any]:
    """The findings section: counts and charts by severity and plugin, one filtered page."""
    every = Finding.objects.filter(project=project)
    filters = FindingFilters.of(params)
    by_severity = dict(every.values_list("severity").annotate(n=Count("id")).order_by())
    by_plugin = dict(every.values_list("plugin_id").annotate(n=Count("id")).order_by("plugin_id"))
    rows = filters.apply(every).order_by("plugin_id", "position")
    page: Page[Finding] = Paginator(rows, PAGE_SIZE).get_page(_page_number(params))
    severity_bars = [
        Bar(s, by_severity.get(s, 0), f"severity-{s}", f"{base_url}?{filters.query(severity=s)}")
        for s in SEVERITIES
    ]
    plugin_bars = [
        Bar(pid, n, "plugin", f"{base_url}?{filters.query(plugin=pid)}")
        for pid, n in by_plugin.items()
    ]
    return {
        "project": project,
        "base_url": base_url,
        "filters": filters,
        "query": filters.query(),
        "total": sum(by_severity.values()),
        "matching": page.paginator.count,
        "by_severity": [(s, by_severity.get(s, 0)) for s in SEVERITIES],
        "plugins": list(by_plugin),
        "severities": SEVERITIES,
        "severity_chart": bar_chart(severity_bars, "Findings by severity"),
        "plugin_chart": bar_chart(plugin_bars, "Findings by plugin"),
        "page": page,
        "rows": [_row(f) for f in page.object_list],
    }
