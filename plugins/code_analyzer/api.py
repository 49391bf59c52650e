"""What other plugins get from ``bridge.plugins.get("code_analyzer")``, and the ruff run.

``report(project)`` measures a project with code_analyzer's own settings for it, so a
dependent plugin (``ai_helper``) sees the same findings the analysis shows. Reports are kept
per project while no Python file and no setting changed: the host's analysis and a
dependent plugin asking in the same run parse the code once. When one file changes, only
that file is measured again (``FileCache``).

With ``run_commands`` granted and ruff installed, complexity is measured by ruff (``C901``
at threshold 0, JSON output, through the Bridge's runner) in one run over the changed files,
and the lint findings come from that same run when the ``ruff`` setting is on; without
them, ``ast`` measures every file as before.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .measure import (
    FileCache,
    FileStats,
    analyse_project,
    analyse_source,
    python_files,
    ruff_functions,
    stats_from_ruff,
)

RUFF_ARGS = ("check", "--output-format=json", "--exit-zero", "--no-cache")
# Every function's McCabe complexity as a C901 diagnostic (threshold 0), nothing else.
RUFF_MEASURE_ARGS = (
    *RUFF_ARGS,
    "--select=C901",
    "--config=lint.mccabe.max-complexity=0",
)
# Past this many changed files ruff checks the whole tree rather than a file list.
RUFF_MAX_LISTED = 2000


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
                "severity": "low",
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
        self._files: dict[str, FileCache] = {}

    def _may_run_ruff(self) -> list[str] | None:
        if "run_commands" not in self._bridge.manifest.permissions:
            return None
        return ruff_command()

    def _measure(self, project: str, root: Path) -> Callable | None:
        """Complexity by ruff over the files to measure, when the plugin may run it."""
        command = self._may_run_ruff()
        if command is None:
            return None
        runner = self._bridge.services.get_runner()
        resolved = root.resolve()

        def measure(paths: list[Path]) -> dict[Path, FileStats]:
            targets = [p.relative_to(root).as_posix() for p in paths]
            listed = targets if len(targets) <= RUFF_MAX_LISTED else ["."]
            # One diagnostic per function overflows the runner's output cap: ruff writes
            # them to a temporary file in the plugin's own data folder instead.
            scratch = self._bridge.services.get_data_dir()
            with tempfile.TemporaryDirectory(prefix="code-analyzer-", dir=scratch) as folder:
                output = Path(folder) / "c901.json"
                args = [*command, *RUFF_MEASURE_ARGS, f"--output-file={output}", *listed]
                result = runner.run(project, args)
                if result.timed_out or result.returncode not in (0, 1) or not output.exists():
                    return {}  # ast measures them instead
                by_file = ruff_functions(json.loads(output.read_bytes() or b"[]"))
            measured = {}
            for path in paths:
                source = path.read_bytes()
                name = str(resolved / path.relative_to(root))
                relative = path.relative_to(root).as_posix()
                if b"\0" in source:
                    continue
                measured[path] = stats_from_ruff(source, relative, by_file.get(name, []))
            return measured

        return measure

    def _lint(self, project: str, root: Path, config: dict[str, Any]) -> Callable | None:
        if "run_commands" not in self._bridge.manifest.permissions or not config.get("ruff"):
            return None
        command = self._may_run_ruff()
        if command is None:
            return lambda: [{"file": "", "line": 0, "rule": "ruff", "message": "ruff not found"}]
        runner = self._bridge.services.get_runner()

        def lint() -> list[dict[str, Any]]:
            result = runner.run(project, [*command, *RUFF_ARGS, "."])
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
        stamps = ((p, os.stat(p)) for p in files)
        key = (
            json.dumps(config, sort_keys=True),
            tuple((p.as_posix(), st.st_mtime_ns, st.st_size) for p, st in stamps),
        )
        with self._lock:
            cached = self._cache.get(project)
        if cached is not None and cached[0] == key:
            if progress is not None:
                progress(100, "unchanged since the last analysis")
            return cached[1]
        with self._lock:
            files = self._files.setdefault(project, FileCache())
        report = analyse_project(
            root,
            config,
            progress,
            self._lint(project, root, config),
            cache=files,
            measure=self._measure(project, root),
        )
        with self._lock:
            self._cache[project] = (key, report)
        return report
