"""The host's own jobs: scan and analysis of a project (SPEC D2, D3, L5).

**Scan** walks the project's files, honouring ignore rules, builds the project graph (files,
Python imports between them) and calls each enabled plugin's ``on_scan(root, files)`` hook;
the summary goes into the project's history. **Analysis** calls each enabled plugin's
``on_analyze(scan)`` hook on the latest scan (scanning first if there is none) and stores
what they found. Hooks are isolated: one that raises is recorded as that plugin's error and
the others still run. Legacy plugins (``on_scan``/``on_analyze`` modules) take part as is.

Ignore rules are git's (``pathspec``'s ``GitIgnoreSpec``): ``.gitignore`` files at any level,
applying to their directory, plus ``.jupiterignore`` at the root. Negations only apply within
one file. ``.git`` is always skipped; symlinks are not followed, so the walk stays in the root.
"""

from __future__ import annotations

import ast
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pathspec
from django.template.defaultfilters import pluralize

from plugins_app.base import conf
from plugins_app.kernel.runtime import get_runtime
from plugins_app.manifest.tracebacks import summarise_exception
from plugins_app.models import HistoryEntry, HistoryKind, Project, ProjectGraph, ProjectPlugin

IGNORE_FILES = (".gitignore", ".jupiterignore")
ALWAYS_SKIPPED = frozenset({".git", ".hg", ".svn"})
MAX_PARSED_BYTES = 1024 * 1024


@dataclass(frozen=True)
class HostJob:
    title: str
    func: Callable[..., Any]


def _spec(directory: Path, names: tuple[str, ...]) -> pathspec.GitIgnoreSpec | None:
    lines: list[str] = []
    for name in names:
        path = directory / name
        if path.is_file():
            lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def walk(root: Path, max_files: int) -> tuple[list[str], int, bool]:
    """Root-relative POSIX paths of the files kept, the count ignored, and whether truncated."""
    root = root.resolve()
    specs: list[tuple[PurePosixPath, pathspec.GitIgnoreSpec]] = []
    kept: list[str] = []
    ignored = 0

    def is_ignored(rel: PurePosixPath, is_dir: bool) -> bool:
        for base, spec in specs:
            if base == PurePosixPath(".") or base in rel.parents:
                inner = rel.relative_to(base).as_posix() + ("/" if is_dir else "")
                if spec.match_file(inner):
                    return True
        return False

    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(directory)
        rel_dir = PurePosixPath(here.relative_to(root).as_posix())
        spec = _spec(here, IGNORE_FILES if here == root else IGNORE_FILES[:1])
        if spec is not None:
            specs.append((rel_dir, spec))
        for name in sorted(dirnames):
            if name in ALWAYS_SKIPPED or is_ignored(rel_dir / name, True):
                dirnames.remove(name)
                ignored += 1
        dirnames.sort()
        for name in sorted(filenames):
            rel = rel_dir / name
            if (here / name).is_symlink() or is_ignored(rel, False):
                ignored += 1
                continue
            if len(kept) >= max_files:
                return kept, ignored, True
            kept.append(rel.as_posix())
    return kept, ignored, False


def _module_index(python_files: list[str]) -> dict[str, str]:
    """Dotted names -> file, every suffix of the path (``src.app.x``, ``app.x``...); an
    ambiguous suffix maps to nothing."""
    index: dict[str, str] = {}
    ambiguous: set[str] = set()
    for path in python_files:
        parts = list(PurePosixPath(path).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        for start in range(len(parts)):
            name = ".".join(parts[start:])
            if name in index and index[name] != path:
                ambiguous.add(name)
            index.setdefault(name, path)
    for name in ambiguous:
        index.pop(name)
    return index


def _imports(source: str, path: str) -> Iterator[tuple[str, bool]]:
    """(dotted name, optional) per import, relative imports resolved. Optional names are
    ``from x import y`` targets, which are modules only if they resolve to a file."""
    try:
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError):
        return
    package = list(PurePosixPath(path).parent.parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, False) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                prefix = package[: len(package) - node.level + 1]
                base = ".".join([*prefix, base] if base else prefix)
            yield base, bool(node.level)
            yield from ((f"{base}.{alias.name}", True) for alias in node.names)


def build_graph(
    root: Path, files: list[str], progress: Callable[[float, str], None]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes: every file. Edges: Python file -> project file it imports (``internal``), or
    -> the top-level name of a module from outside the project."""
    python = [f for f in files if f.endswith(".py")]
    index = _module_index(python)
    nodes = [{"path": f, "language": "python" if f.endswith(".py") else ""} for f in files]
    edges: list[dict[str, Any]] = []
    for n, path in enumerate(python, 1):
        progress(n / len(python), path)
        file = root / path
        if file.stat().st_size > MAX_PARSED_BYTES:
            continue
        seen = {path}
        for name, optional in _imports(file.read_text(encoding="utf-8", errors="replace"), path):
            target = index.get(name)
            if target is None and (optional or not name):
                continue
            key = target or name.split(".")[0]
            if key not in seen:
                seen.add(key)
                edges.append({"source": path, "target": key, "internal": target is not None})
    return nodes, edges


def _plain(value: Any) -> Any:
    """A hook's return value as stored JSON; what JSON cannot hold becomes text."""
    return json.loads(json.dumps(value, default=str))


def _hooks(project: Project, hook: str) -> list[tuple[str, Callable[..., Any], Any]]:

    runtime = get_runtime()
    enabled = ProjectPlugin.objects.filter(project=project, enabled=True).values_list(
        "plugin__plugin_id", flat=True
    )
    found = []
    for plugin_id in sorted(enabled):
        registration = runtime.bridge.registration(plugin_id)
        if registration is not None and hook in registration.hooks:
            found.append((plugin_id, registration.hooks[hook], runtime.manifests.get(plugin_id)))
    return found


def _call(func: Callable[..., Any], manifest: Any, *args: Any) -> dict[str, Any]:
    try:
        return {"result": _plain(func(*args)), "error": ""}
    except Exception as exc:
        error = summarise_exception(exc, manifest) if manifest else f"{type(exc).__name__}: {exc}"
        return {"result": None, "error": error}


def run_scan(job: Any, span: tuple[float, float] = (0, 100)) -> dict[str, Any]:
    """The scan job: walk, graph, plugins' ``on_scan``; returns the summary it records."""
    low, high = span

    def step(fraction: float, message: str) -> None:
        job.progress(low + (high - low) * fraction, message)

    project = Project.objects.get(name=job.project.name)
    root = Path(project.root_path)
    step(0.02, "Walking the project's files")
    files, ignored, truncated = walk(root, conf.get().scan_max_files)
    step(0.3, f"{len(files)} files found, {ignored} ignored")
    job.raise_if_cancelled()
    nodes, edges = build_graph(root, files, lambda f, m: step(0.3 + 0.5 * f, f"Reading {m}"))
    job.raise_if_cancelled()
    hooks = _hooks(project, "on_scan")
    plugins: dict[str, Any] = {}
    for n, (plugin_id, func, manifest) in enumerate(hooks):
        step(0.8 + 0.15 * n / len(hooks), f"on_scan of {plugin_id}")
        plugins[plugin_id] = _call(func, manifest, str(root), list(files))
        job.raise_if_cancelled()
    by_extension = Counter(PurePosixPath(f).suffix or "(none)" for f in files)
    summary = {
        "project": project.name,
        "root": str(root),
        "files": len(files),
        "ignored": ignored,
        "truncated": truncated,
        "by_extension": dict(by_extension.most_common()),
        "python_files": sum(1 for n in nodes if n["language"] == "python"),
        "internal_imports": sum(1 for e in edges if e["internal"]),
        "external_modules": sorted({e["target"] for e in edges if not e["internal"]}),
        "plugins": plugins,
    }
    ProjectGraph.objects.update_or_create(
        project=project, defaults={"nodes": nodes, "edges": edges, "job_id": job.id}
    )
    HistoryEntry.objects.create(
        project=project,
        kind=HistoryKind.SCAN,
        summary=f"{len(files)} files scanned, {ignored} ignored"
        + (" (truncated)" if truncated else ""),
        data=summary,
        job_id=job.id,
    )
    step(1, "Scan recorded")
    return summary


def run_analysis(job: Any) -> dict[str, Any]:
    """The analysis job: every enabled plugin's ``on_analyze`` on the latest scan."""
    project = Project.objects.get(name=job.project.name)
    scan = HistoryEntry.objects.filter(project=project, kind=HistoryKind.SCAN).first()
    summary = run_scan(job, (0, 50)) if scan is None else scan.data
    graph = ProjectGraph.objects.filter(project=project).first()
    files = [n["path"] for n in graph.nodes] if graph else []
    hooks = _hooks(project, "on_analyze")
    plugins: dict[str, Any] = {}
    for n, (plugin_id, func, manifest) in enumerate(hooks):
        job.progress(50 + 50 * n / len(hooks), f"on_analyze of {plugin_id}")
        own = (summary.get("plugins", {}).get(plugin_id) or {}).get("result")
        view = {**summary, "files": files, **(own if isinstance(own, dict) else {})}
        outcome = _call(func, manifest, view)
        result = outcome["result"]
        findings = result.get("findings") if isinstance(result, dict) else None
        outcome["findings"] = findings if isinstance(findings, list) else []
        plugins[plugin_id] = outcome
        job.raise_if_cancelled()
    total = sum(len(p["findings"]) for p in plugins.values())
    errors = sorted(pid for pid, p in plugins.items() if p["error"])
    count = len(plugins)
    HistoryEntry.objects.create(
        project=project,
        kind=HistoryKind.ANALYSIS,
        summary=f"{total} finding{pluralize(total)} from {count} plugin{pluralize(count)}"
        + (f"; failed: {', '.join(errors)}" if errors else ""),
        data={"plugins": plugins},
        job_id=job.id,
    )
    job.progress(100, "Analysis recorded")
    return {
        "findings": total,
        "plugins": {
            pid: {"findings": len(p["findings"]), "error": p["error"]} for pid, p in plugins.items()
        },
    }


HOST_JOBS: dict[str, HostJob] = {
    "scan": HostJob("Scan project", run_scan),
    "analyze": HostJob("Analyse project", run_analysis),
}
