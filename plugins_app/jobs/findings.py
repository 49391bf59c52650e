"""An analysis's findings as ``Finding`` rows, with one severity scale for every plugin.

Plugins say how bad a finding is in their own words (``severity``, ``priority`` or
``level``: "error", "warning", "high"...); the page filters and counts on one scale,
``SEVERITIES``. A finding that says nothing is ``info``. Rows are written in batches beside
the analysis's history entry, replacing those of the project's previous analysis, so the
table holds one analysis per project.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import islice
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import Field

from plugins_app.models import Finding, HistoryEntry

SEVERITIES = ("high", "medium", "low", "info")
_ALIASES = {
    "critical": "high",
    "error": "high",
    "fatal": "high",
    "major": "high",
    "warning": "medium",
    "warn": "medium",
    "moderate": "medium",
    "minor": "low",
    "note": "low",
    "hint": "info",
    "information": "info",
}
BATCH = 2000
MESSAGE_CHARS = 4000
FILES_KEPT = 1000


def severity_of(finding: Any) -> str:
    """The finding's severity on the shared scale (its first recognised word wins)."""
    if isinstance(finding, Mapping):
        for key in ("severity", "priority", "level"):
            word = str(finding.get(key, "")).strip().lower()
            word = _ALIASES.get(word, word)
            if word in SEVERITIES:
                return word
    return "info"


def _text(value: Any, limit: int) -> str:
    return ("" if value is None else str(value))[:limit]


def _line(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


COLUMNS: tuple[str, ...] = ("entry", "project", "plugin_id", "position", "severity", "rule")
COLUMNS += ("path", "line", "message", "files")


def _rows(entry: HistoryEntry, plugin_id: str, findings: list[Any]) -> Iterator[tuple[Any, ...]]:
    files_field = Finding._meta.get_field("files")
    for position, finding in enumerate(findings):
        item = finding if isinstance(finding, Mapping) else {"message": finding}
        files = item.get("files")
        files = [str(f) for f in files[:FILES_KEPT]] if isinstance(files, list) else []
        yield (
            entry.pk,
            entry.project_id,
            plugin_id,
            position,
            severity_of(item),
            _text(item.get("rule"), 64),
            _text(item.get("file") or item.get("path"), 1024),
            _line(item.get("line")),
            _text(item.get("message", ""), MESSAGE_CHARS),
            files_field.get_db_prep_save(files, connection),
        )


def store_findings(entry: HistoryEntry, plugins: Mapping[str, Mapping[str, Any]]) -> int:
    """Replace the project's finding rows by those of ``entry``; returns how many.

    One prepared ``INSERT`` run with ``executemany`` per batch: the ORM's ``bulk_create``
    compiles SQL for every row and cost ten times more on an analysis of 25,000 findings.
    """
    meta = Finding._meta
    names = [cast("Field[Any, Any]", meta.get_field(c)).column or c for c in COLUMNS]
    columns = ", ".join(connection.ops.quote_name(name) for name in names)
    sql = (
        f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(COLUMNS))})"
    )
    count = 0
    with transaction.atomic(), connection.cursor() as cursor:
        Finding.objects.filter(project_id=entry.project_id).delete()
        for plugin_id, outcome in sorted(plugins.items()):
            rows = _rows(entry, plugin_id, list(outcome.get("findings") or []))
            while batch := list(islice(rows, BATCH)):
                cursor.executemany(sql, batch)
                count += len(batch)
    return count
