"""What other plugins get from ``bridge.plugins.get("code_analyzer")``, and the ruff run.

``report(project)`` measures a project with code_analyzer's own settings for it, so a
dependent plugin (``ai_helper``) sees the same findings the analysis shows. Reports are kept
per project while no Python file and no setting changed: the host's analysis and a
dependent plugin asking in the same run parse the code once.
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .measure import analyse_project, analyse_source, python_files

RUFF_ARGS = ("check", "--output-format=json", "--exit-zero", "--no-cache", ".")


def ruff_command() -> list[str] | None:
    """``ruff`` from PATH, else the one installed beside this Python, else None."""
    found = shutil.which("ruff")
    if found:
        return [found]
    beside = Path(sys.executable).with_name("ruff")
    return [str(beside)] if beside.is_file() else None


def parse_ruff(output: str, root: Path) -> list[dict[str, Any]]:
    """Ruff's JSON report as findings: file relative to ``root``, line, rule, message."""
    findings = []
    for item in json.loads(output or "[]"):
        path = Path(item.get("filename", ""))
        if path.is_absolute() and path.is_relative_to(root):
            path = path.relative_to(root)
        code = item.get("code") or "error"
        findings.append(
            {
                "file": path.as_posix(),
                "line": (item.get("location") or {}).get("row", 0),
                "rule": f"ruff:{code}",
                "message": f"{code}: {item.get('message', '')}",
            }
        )
    return findings


class CodeAnalyzerApi:
    """The public API of code_analyzer, bound to its Bridge."""

    analyse_source = staticmethod(analyse_source)
    analyse_project = staticmethod(analyse_project)

    def __init__(self, bridge: Any) -> None:
        self._bridge = bridge
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[Any, dict[str, Any]]] = {}

    def _lint(self, project: str, root: Path, config: dict[str, Any]) -> Callable | None:
        if "run_commands" not in self._bridge.manifest.permissions or not config.get("ruff"):
            return None
        command = ruff_command()
        if command is None:
            return lambda: [{"file": "", "line": 0, "rule": "ruff", "message": "ruff not found"}]
        runner = self._bridge.services.get_runner()

        def lint() -> list[dict[str, Any]]:
            result = runner.run(project, [*command, *RUFF_ARGS])
            if result.timed_out or result.returncode not in (0, 1):
                message = f"ruff failed: {(result.stderr or 'timed out').strip()[:200]}"
                return [{"file": "", "line": 0, "rule": "ruff", "message": message}]
            return parse_ruff(result.stdout, root.resolve())

        return lint

    def report(self, project: str, progress: Callable | None = None) -> dict[str, Any]:
        """The analysis of ``project`` (one that enabled code_analyzer) with its settings."""
        services = self._bridge.services
        root = Path(services.get_project_manager().root(project))
        config = services.get_config(project)
        excluded = list(config.get("exclude", []))
        files = python_files(root, excluded, bool(config.get("include_tests", True)))
        key = (
            json.dumps(config, sort_keys=True),
            tuple((p.as_posix(), p.stat().st_mtime_ns, p.stat().st_size) for p in files),
        )
        with self._lock:
            cached = self._cache.get(project)
        if cached is not None and cached[0] == key:
            if progress is not None:
                progress(100, "unchanged since the last analysis")
            return cached[1]
        report = analyse_project(root, config, progress, self._lint(project, root, config))
        with self._lock:
            self._cache[project] = (key, report)
        return report
