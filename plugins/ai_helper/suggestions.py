"""From an analysis report to prioritised suggestions: pure, deterministic functions.

Inputs are code_analyzer's report (``files``, ``findings``, ``threshold``) and the import
cycles of the project graph (``Graph.import_cycles()``); nothing is fetched, so the same
inputs give the same list.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath
from typing import Any

PRIORITIES = ("high", "medium", "low")
CYCLE_FILES_NAMED = 3


@dataclass(frozen=True)
class Suggestion:
    priority: str
    rule: str
    file: str
    line: int
    message: str
    why: str
    weight: float = 0
    files: tuple[str, ...] = ()

    def as_finding(self) -> dict[str, Any]:
        return asdict(self)


def _complexity(finding: Mapping[str, Any], threshold: int) -> Suggestion:
    score = int(finding.get("complexity", 0))
    return Suggestion(
        "high" if score >= 2 * threshold else "medium",
        "complexity",
        finding["file"],
        int(finding.get("line", 0)),
        f"Split {finding.get('function', 'this function')}(): complexity {score} > {threshold}",
        "Each branch is a path to test; extract the branches into named helpers or a table.",
        score / max(threshold, 1),
    )


def _from_findings(report: Mapping[str, Any]) -> Iterable[Suggestion]:
    threshold = int(report.get("threshold", 10))
    lint: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for finding in report.get("findings", []):
        rule = str(finding.get("rule", ""))
        if rule == "complexity":
            yield _complexity(finding, threshold)
        elif rule == "syntax":
            yield Suggestion(
                "high",
                "syntax",
                finding["file"],
                0,
                f"Fix the syntax error in {finding['file']}: {finding.get('message', '')}",
                "A file that does not parse is skipped by every analysis.",
                10,
            )
        elif rule.startswith("ruff:"):
            lint[rule].append(finding)
    for rule, items in sorted(lint.items()):
        first = min(items, key=lambda f: (f.get("file", ""), f.get("line", 0)))
        yield Suggestion(
            "low",
            rule,
            first.get("file", ""),
            int(first.get("line", 0)),
            f"Fix {len(items)} {rule[5:]} finding(s) reported by ruff",
            str(first.get("message", "")),
            len(items) / 100,
        )


def _long_files(report: Mapping[str, Any], limit: int) -> Iterable[Suggestion]:
    for stats in report.get("files", []):
        if stats.get("lines", 0) > limit:
            yield Suggestion(
                "medium",
                "long-file",
                stats["path"],
                1,
                f"Split {stats['path']} ({stats['lines']} lines) into smaller modules",
                f"Files over {limit} lines are hard to review and to change safely.",
                stats["lines"] / limit,
            )


def _cycle_message(group: list[str]) -> str:
    """Names a short cycle whole; a long one by its size and first files (the finding's
    ``files`` lists them all), never hundreds of paths in one sentence."""
    if len(group) <= CYCLE_FILES_NAMED + 1:
        return "Break the import cycle between " + ", ".join(group)
    named = ", ".join(group[:CYCLE_FILES_NAMED])
    rest = len(group) - CYCLE_FILES_NAMED
    return f"Break the import cycle of {len(group)} files: {named} and {rest} more"


def _cycles(cycles: Iterable[list[str]]) -> Iterable[Suggestion]:
    for group in cycles:
        yield Suggestion(
            "high",
            "import-cycle",
            group[0],
            1,
            _cycle_message(group),
            "Modules importing each other load in a fragile order and cannot be tested alone.",
            len(group),
            tuple(group),
        )


def _untested(report: Mapping[str, Any]) -> Iterable[Suggestion]:
    paths = [PurePosixPath(f["path"]) for f in report.get("files", [])]
    tests = [p for p in paths if p.name.startswith("test_") or "tests" in p.parts]
    if not tests:
        return
    tested = {p.stem.removeprefix("test_") for p in tests}
    for stats in report.get("files", []):
        path = PurePosixPath(stats["path"])
        if path in tests or path.stem == "__init__" or not stats.get("functions"):
            continue
        if path.stem not in tested:
            yield Suggestion(
                "low",
                "untested",
                stats["path"],
                1,
                f"Add tests for {stats['path']}: no test_{path.stem}.py found",
                f"It has {len(stats['functions'])} function(s) and no test module of its name.",
                len(stats["functions"]) / 100,
            )


def suggest(
    report: Mapping[str, Any],
    cycles: Iterable[list[str]] = (),
    config: Mapping[str, Any] | None = None,
) -> list[Suggestion]:
    """Suggestions by priority, then weight (worst first), then place; at most the limit."""
    config = config or {}
    found = [
        *_from_findings(report),
        *_long_files(report, int(config.get("long_file_lines", 400))),
        *_cycles(cycles),
        *(_untested(report) if config.get("suggest_tests", True) else ()),
    ]
    found.sort(key=lambda s: (PRIORITIES.index(s.priority), -s.weight, s.file, s.line, s.rule))
    return found[: int(config.get("max_suggestions", 20))]
