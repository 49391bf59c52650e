"""Measure Python source: no code from the analysed project is ever run.

Two measurers give the same ``FileStats``: ``analyse_source`` with ``ast`` (exact, always
there), and ``stats_from_ruff`` from ruff's C901 diagnostics at threshold 0 (every function
and its McCabe complexity, computed by ruff's compiled parser) plus line, class and import
counts read from the text. ``FileCache`` keeps each file's stats while its size and mtime
hold, so a re-analysis measures only the files that changed.
"""

from __future__ import annotations

import ast
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_BRANCHES = (
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.ExceptHandler,
    ast.With,
    ast.AsyncWith,
    ast.IfExp,
    ast.comprehension,
    ast.Assert,
    ast.match_case,
)


@dataclass(frozen=True)
class FunctionStats:
    name: str
    line: int
    complexity: int


@dataclass
class FileStats:
    path: str
    lines: int = 0
    classes: int = 0
    functions: list[FunctionStats] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    error: str = ""


def complexity(node: ast.AST) -> int:
    """McCabe complexity: 1 + one per branch point + one per extra boolean operand."""
    score = 1
    for child in ast.walk(node):
        if isinstance(child, _BRANCHES):
            score += 1
        elif isinstance(child, ast.BoolOp):
            score += len(child.values) - 1
    return score


def analyse_source(source: str, path: str = "<string>") -> FileStats:
    stats = FileStats(path=path, lines=source.count("\n") + (not source.endswith("\n")))
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        stats.error = f"syntax error line {exc.lineno}: {exc.msg}"
        return stats
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            stats.classes += 1
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            stats.functions.append(FunctionStats(node.name, node.lineno, complexity(node)))
        elif isinstance(node, ast.Import):
            stats.imports.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            stats.imports.append("." * node.level + node.module)
    return stats


def python_files(root: Path, exclude: list[str], include_tests: bool) -> Iterator[Path]:
    """The ``.py`` files under ``root`` in path order; excluded and hidden folders are pruned,
    not entered (a ``.venv`` or ``build`` holds more files than the project). Walked as
    strings: a ``Path`` is built only for each file yielded."""
    skipped = set(exclude)
    found: list[list[str]] = []
    top = str(root)
    for directory, folders, names in os.walk(top):
        folders[:] = [f for f in folders if f not in skipped and not f.startswith(".")]
        base = os.path.relpath(directory, top).split(os.sep) if directory != top else []
        found += [[*base, name] for name in names if name.endswith(".py")]
    for parts in sorted(found):
        if not include_tests and (parts[0] == "tests" or parts[-1].startswith("test_")):
            continue
        yield root.joinpath(*parts)


def plain(stats: FileStats) -> dict[str, Any]:
    """``asdict(stats)`` built directly: ``asdict`` deep-copies, and a report holds 10^5 rows."""
    return {
        "path": stats.path,
        "lines": stats.lines,
        "classes": stats.classes,
        "functions": [
            {"name": f.name, "line": f.line, "complexity": f.complexity} for f in stats.functions
        ],
        "imports": list(stats.imports),
        "error": stats.error,
    }


Lint = Callable[[], list[dict[str, Any]]]
# Measures many files at once (ruff); files it leaves out are measured with ``ast``.
Measurer = Callable[[list[Path]], dict[Path, FileStats]]

_CLASS = re.compile(rb"^[ \t]*class[ \t]+\w", re.MULTILINE)
_IMPORT = re.compile(
    rb"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import\b|import[ \t]+([\w.]+))", re.MULTILINE
)
_TOO_COMPLEX = re.compile(r"`([^`]+)` is too complex \((\d+) > \d+\)")


def stats_from_ruff(source: bytes, path: str, functions: list[tuple[str, int, int]]) -> FileStats:
    """``FileStats`` from ruff's (name, line, complexity) per function and the text itself."""
    text_lines = source.count(b"\n") + (bool(source) and not source.endswith(b"\n"))
    imports = [
        (m.group(1) or m.group(2)).decode("ascii", "replace") for m in _IMPORT.finditer(source)
    ]
    return FileStats(
        path=path,
        lines=text_lines,
        classes=len(_CLASS.findall(source)),
        functions=[
            FunctionStats(n, line, c) for n, line, c in sorted(functions, key=lambda f: f[1])
        ],
        imports=[name for name in imports if name],
    )


def ruff_functions(diagnostics: list[dict[str, Any]]) -> dict[str, list[tuple[str, int, int]]]:
    """(name, line, complexity) per file name from ruff's JSON C901 diagnostics."""
    found: dict[str, list[tuple[str, int, int]]] = {}
    for item in diagnostics:
        match = _TOO_COMPLEX.search(item.get("message", ""))
        if item.get("code") != "C901" or match is None:
            continue
        row = (item.get("location") or {}).get("row", 0)
        found.setdefault(item.get("filename", ""), []).append(
            (match.group(1), row, int(match.group(2)))
        )
    return found


class FileCache:
    """Each file's stats (as ``plain`` rows) by path, valid while its size and mtime hold."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[Path, tuple[int, int, dict[str, Any]]] = {}

    @staticmethod
    def _stamp(path: Path) -> tuple[int, int]:
        stat = os.stat(path)
        return stat.st_size, stat.st_mtime_ns

    def get(self, path: Path) -> dict[str, Any] | None:
        with self._lock:
            known = self._known.get(path)
        return known[2] if known is not None and known[:2] == self._stamp(path) else None

    def keep(self, path: Path, stats: dict[str, Any]) -> None:
        stamp = self._stamp(path)
        with self._lock:
            self._known[path] = (*stamp, stats)


def analyse_project(
    root: Path,
    config: Mapping[str, Any],
    progress: Callable[[float, str], None] | None = None,
    lint: Lint | None = None,
    *,
    cache: FileCache | None = None,
    measure: Measurer | None = None,
) -> dict[str, Any]:
    """Per-file stats plus the findings: functions over the complexity threshold, files that
    do not parse, and what ``lint`` (ruff, when the plugin may run commands) reports.

    Files whose stats ``cache`` holds are not measured again; the others go to ``measure``
    (ruff) in one batch, and what it leaves out to ``ast``.
    """
    threshold = int(config.get("max_complexity", 10))
    paths = list(
        python_files(root, list(config.get("exclude", [])), bool(config.get("include_tests", True)))
    )
    known: dict[Path, dict[str, Any] | None] = {
        p: cache.get(p) if cache is not None else None for p in paths
    }
    stale = [p for p in paths if known[p] is None]
    measured = measure(stale) if measure is not None and stale else {}
    every = max(1, len(stale) // 100)
    for n, path in enumerate(stale, 1):
        relative = path.relative_to(root).as_posix()
        if progress is not None and (n % every == 0 or n == len(stale)):
            progress(100 * n / len(stale), relative)
        stats = plain(
            measured.get(path)
            or analyse_source(path.read_text(encoding="utf-8", errors="replace"), relative)
        )
        known[path] = stats
        if cache is not None:
            cache.keep(path, stats)
    files = [row for row in known.values() if row is not None]
    if progress is not None and not stale:
        progress(100, "unchanged files")
    findings = [
        {
            "file": f["path"],
            "line": fn["line"],
            "function": fn["name"],
            "complexity": fn["complexity"],
            "rule": "complexity",
            "severity": "high" if fn["complexity"] >= 2 * threshold else "medium",
            "message": f"{fn['name']} has complexity {fn['complexity']} (threshold {threshold})",
        }
        for f in files
        for fn in f["functions"]
        if fn["complexity"] > threshold
    ]
    findings += [
        {"file": f["path"], "line": 0, "rule": "syntax", "severity": "high", "message": f["error"]}
        for f in files
        if f["error"]
    ]
    if lint is not None:
        findings += lint()
    return {
        "files": files,
        "totals": {
            "files": len(files),
            "lines": sum(f["lines"] for f in files),
            "functions": sum(len(f["functions"]) for f in files),
            "classes": sum(f["classes"] for f in files),
        },
        "threshold": threshold,
        "findings": findings,
    }
