"""The for-AI bundle: what an assistant needs to help, as Markdown to paste and as JSON.

Deterministic (no dates, sorted content) so two exports of an unchanged project are equal
and a diff of two bundles shows what changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .suggestions import Suggestion

BUNDLE_FORMAT = "jupiter-ai-bundle"
ReadLines = Callable[[str], list[str]]


def hotspots(report: Mapping[str, Any], limit: int = 10) -> list[dict[str, Any]]:
    """Files by their most complex function, then by size."""
    rows = [
        {
            "file": f["path"],
            "lines": f.get("lines", 0),
            "functions": len(f.get("functions", [])),
            "max_complexity": max((fn["complexity"] for fn in f.get("functions", [])), default=0),
        }
        for f in report.get("files", [])
    ]
    rows.sort(key=lambda r: (-r["max_complexity"], -r["lines"], r["file"]))
    return rows[:limit]


def _snippet(item: Suggestion, read_lines: ReadLines | None, size: int) -> str:
    if read_lines is None or size <= 0 or not item.file or item.line < 1:
        return ""
    try:
        lines = read_lines(item.file)
    except (OSError, ValueError):
        return ""
    return "\n".join(lines[item.line - 1 : item.line - 1 + size]).rstrip()


def build_bundle(
    project: str,
    report: Mapping[str, Any],
    suggestions: Sequence[Suggestion],
    *,
    read_lines: ReadLines | None = None,
    snippet_lines: int = 30,
    snippets: int = 5,
) -> dict[str, Any]:
    """The JSON bundle; source excerpts for the first ``snippets`` high/medium items."""
    items = []
    for n, item in enumerate(suggestions):
        entry = item.as_finding()
        entry.pop("weight")
        if n < snippets and item.priority != "low":
            entry["source"] = _snippet(item, read_lines, snippet_lines)
        items.append(entry)
    return {
        "format": BUNDLE_FORMAT,
        "format_version": 1,
        "project": project,
        "totals": dict(report.get("totals", {})),
        "complexity_threshold": report.get("threshold"),
        "suggestions": items,
        "hotspots": hotspots(report),
    }


def to_markdown(bundle: Mapping[str, Any]) -> str:
    totals = bundle["totals"]
    out = [
        f"# Code review request: project `{bundle['project']}`",
        "",
        "Prepared offline by Jupiter's ai_helper from its static analysis. Please review the "
        "items below in order: for each, propose a concrete change (a patch when you can) "
        "and say how to test it.",
        "",
        "## Project",
        "",
        f"- Python files: {totals.get('files', 0)}, lines: {totals.get('lines', 0)}, "
        f"functions: {totals.get('functions', 0)}, classes: {totals.get('classes', 0)}",
        f"- Complexity threshold: {bundle.get('complexity_threshold')}",
        "",
        "## Suggestions, by priority",
        "",
    ]
    if not bundle["suggestions"]:
        out += ["No suggestion: the analysis found nothing to improve.", ""]
    for n, item in enumerate(bundle["suggestions"], 1):
        where = f"`{item['file']}:{item['line']}`" if item["file"] else ""
        out += [f"{n}. **[{item['priority']}] {item['message']}** {where}".rstrip()]
        out += [f"   - Why: {item['why']}"]
        if item.get("source"):
            out += ["", "   ```python", *[f"   {line}" for line in item["source"].split("\n")]]
            out += ["   ```"]
        out += [""]
    out += [
        "## Hotspots",
        "",
        "| file | lines | functions | max complexity |",
        "| --- | ---: | ---: | ---: |",
    ]
    out += [
        f"| `{row['file']}` | {row['lines']} | {row['functions']} | {row['max_complexity']} |"
        for row in bundle["hotspots"]
    ]
    return "\n".join(out) + "\n"
