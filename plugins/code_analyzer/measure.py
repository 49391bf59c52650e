"""Measure Python source with ``ast``: no code from the analysed project is ever run."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
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
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts
        if any(part in exclude or part.startswith(".") for part in parts[:-1]):
            continue
        if not include_tests and (parts[0] == "tests" or parts[-1].startswith("test_")):
            continue
        yield path


Lint = Callable[[], list[dict[str, Any]]]


def analyse_project(
    root: Path,
    config: Mapping[str, Any],
    progress: Callable[[float, str], None] | None = None,
    lint: Lint | None = None,
) -> dict[str, Any]:
    """Per-file stats plus the findings: functions over the complexity threshold, files that
    do not parse, and what ``lint`` (ruff, when the plugin may run commands) reports."""
    threshold = int(config.get("max_complexity", 10))
    paths = list(
        python_files(root, list(config.get("exclude", [])), bool(config.get("include_tests", True)))
    )
    files = []
    for n, path in enumerate(paths, 1):
        relative = path.relative_to(root).as_posix()
        if progress is not None:
            progress(100 * n / len(paths), relative)
        files.append(analyse_source(path.read_text(encoding="utf-8", errors="replace"), relative))
    findings = [
        {
            "file": f.path,
            "line": fn.line,
            "function": fn.name,
            "complexity": fn.complexity,
            "rule": "complexity",
            "message": f"{fn.name} has complexity {fn.complexity} (threshold {threshold})",
        }
        for f in files
        for fn in f.functions
        if fn.complexity > threshold
    ]
    findings += [
        {"file": f.path, "line": 0, "rule": "syntax", "message": f.error} for f in files if f.error
    ]
    if lint is not None:
        findings += lint()
    return {
        "files": [asdict(f) for f in files],
        "totals": {
            "files": len(files),
            "lines": sum(f.lines for f in files),
            "functions": sum(len(f.functions) for f in files),
            "classes": sum(f.classes for f in files),
        },
        "threshold": threshold,
        "findings": findings,
    }
