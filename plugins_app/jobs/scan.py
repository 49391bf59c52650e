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
import hashlib
import json
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pathspec
from django.template.defaultfilters import pluralize
from pathspec.pattern import RegexPattern

from plugins_app.base import conf
from plugins_app.base.errors import JupiterError
from plugins_app.jobs.findings import store_findings
from plugins_app.kernel.runtime import get_runtime
from plugins_app.manifest.tracebacks import summarise_exception
from plugins_app.models import HistoryEntry, HistoryKind, Project, ProjectGraph, ProjectPlugin
from plugins_app.projects.dependencies import unmet_in
from plugins_app.sdk.progress import Progress, Throttle, reporting_to
from plugins_app.sdk.values import Graph

IGNORE_FILES = (".gitignore", ".jupiterignore")
ALWAYS_SKIPPED = frozenset({".git", ".hg", ".svn"})
MAX_PARSED_BYTES = 1024 * 1024


@dataclass(frozen=True)
class HostJob:
    title: str
    func: Callable[..., Any]


_UNNAMED = re.compile(r"\(\?P<\w+>")


class _Rules:
    """One ignore file's rules, matched against paths relative to its directory.

    ``GitIgnoreSpec.match_file`` normalises the path and walks every pattern in Python on each
    call; a file without negations is ignored as soon as one pattern's regex matches, so that
    case runs the compiled regexes directly (the walk's hot loop). Negations keep pathspec's
    own last-match-wins logic.
    """

    __slots__ = ("_regex", "_spec")

    def __init__(self, spec: pathspec.GitIgnoreSpec) -> None:
        patterns = [
            p for p in spec.patterns if isinstance(p, RegexPattern) and p.include is not None
        ]
        plain = all(p.include for p in patterns)
        self._spec = None if plain else spec
        # One alternation of the patterns' regexes (their named groups made plain, as the
        # same name may not appear twice); matches nothing when the file has no patterns.
        alternatives = [_UNNAMED.sub("(?:", p.regex.pattern) for p in patterns] or ["(?!)"]
        self._regex = re.compile("|".join(f"(?:{a})" for a in alternatives))

    def match(self, path: str) -> bool:
        if self._spec is not None:
            return bool(self._spec.match_file(path))
        return self._regex.match(path) is not None


def _rules(directory: str, names: tuple[str, ...]) -> _Rules | None:
    lines: list[str] = []
    for name in names:
        try:
            with open(os.path.join(directory, name), encoding="utf-8", errors="replace") as file:
                lines += file.read().splitlines()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            continue
    return _Rules(pathspec.GitIgnoreSpec.from_lines(lines)) if lines else None


class _Truncated(JupiterError):
    """Internal: the walk reached ``max_files``."""


def walk(root: Path, max_files: int) -> tuple[list[str], int, bool]:
    """Root-relative POSIX paths of the files kept, the count ignored, and whether truncated.

    ``os.scandir`` on plain strings, depth first, names sorted: each directory's files, then
    its subdirectories. Ignored directories are pruned, never entered (an ignored directory
    counts once). Each rule file applies to paths relative to its own directory.
    """
    top = str(root.resolve())
    kept: list[str] = []
    ignored = 0

    def ignored_by(rules: list[tuple[int, _Rules]], rel: str) -> bool:
        return any(r.match(rel[cut:]) for cut, r in rules)

    def visit(directory: str, prefix: str, rules: list[tuple[int, _Rules]]) -> None:
        nonlocal ignored
        own = _rules(directory, IGNORE_FILES if not prefix else IGNORE_FILES[:1])
        if own is not None:
            rules = [*rules, (len(prefix), own)]
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return
        subdirectories = []
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                if entry.name in ALWAYS_SKIPPED or ignored_by(rules, rel + "/"):
                    ignored += 1
                else:
                    subdirectories.append(entry)
            elif entry.is_symlink():
                ignored += not entry.is_dir()
            elif ignored_by(rules, rel):
                ignored += 1
            else:
                if len(kept) >= max_files:
                    raise _Truncated
                kept.append(rel)
        for entry in subdirectories:
            visit(entry.path, prefix + entry.name + "/", rules)

    try:
        visit(top, "", [])
    except _Truncated:
        return kept, ignored, True
    return kept, ignored, False


def _module_index(python_files: list[str]) -> dict[str, str]:
    """Dotted names -> file, every suffix of the path (``src.app.x``, ``app.x``...); an
    ambiguous suffix maps to nothing."""
    index: dict[str, str] = {}
    ambiguous: set[str] = set()
    for path in python_files:
        parts = path[:-3].split("/")
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


# An import statement at the start of a line (any indentation): ``from x import (...)`` up to
# its closing parenthesis, otherwise the logical line, backslash continuations included.
_IMPORT_STATEMENT = re.compile(
    rb"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+import[ \t]*\([^)]*\)"
    rb"|(?:import|from)[ \t](?:[^\n\\]|\\(?:.|\n))*)",
    re.MULTILINE,
)
_NESTED_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")

# (module, level, names): ``import a.b`` is ("a.b", 0, ()); ``from ..x import y`` ("x", 2, ("y",)).
RawImport = tuple[str, int, tuple[str, ...]]


def _import_nodes(statements: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements at any depth, visiting statement bodies only (not expressions)."""
    stack = list(reversed(statements))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        for name in _NESTED_BODIES:
            stack.extend(reversed(getattr(node, name, ())))


def _raw(statements: list[ast.stmt]) -> tuple[RawImport, ...]:
    found: list[RawImport] = []
    for node in _import_nodes(statements):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0, ()) for alias in node.names]
        else:
            found.append((node.module or "", node.level, tuple(a.name for a in node.names)))
    return tuple(found)


def raw_imports(source: bytes) -> tuple[RawImport, ...]:
    """The imports of a Python file, parsing only its import statements.

    A regex finds lines that start an import outside triple-quoted strings (an odd count of
    either kind of triple quote before a line means it is inside one); only those statements go to
    ``ast.parse``, a few hundred bytes instead of the whole file. When they do not parse on
    their own (prose starting with "from" in a string, say) the whole file is parsed, walking
    statement bodies only. A file has no imports only when neither parses: a syntax error away
    from its import lines no longer hides them.
    """
    statements: list[bytes] = []
    doubles = singles = position = 0
    for match in _IMPORT_STATEMENT.finditer(source):
        start = match.start()
        doubles += source.count(b'"""', position, start)
        singles += source.count(b"'''", position, start)
        position = start
        if not doubles % 2 and not singles % 2:
            statements.append(match.group().strip())
    if not statements:
        return ()
    try:
        return _raw(ast.parse(b"\n".join(statements)).body)
    except (SyntaxError, ValueError):
        pass
    try:
        return _raw(ast.parse(source).body)
    except (SyntaxError, ValueError):
        return ()


def _resolved(path: str, raw: tuple[RawImport, ...]) -> Iterator[tuple[str, bool]]:
    """(dotted name, optional) per import, relative imports resolved. Optional names are
    ``from x import y`` targets, which are modules only if they resolve to a file."""
    package = path.split("/")[:-1]
    for module, level, names in raw:
        if not level and not names and module:
            yield module, False
            continue
        base = module
        if level:
            prefix = package[: len(package) - level + 1]
            base = ".".join([*prefix, module] if module else prefix)
        yield base, bool(level)
        yield from ((f"{base}.{name}", True) for name in names)


class ImportCache:
    """Each file's imports, kept across scans: by path while its size and mtime are the same,
    else by the SHA-1 of its bytes, so an unchanged file is never parsed twice (nor read
    twice while its stat holds). Process-wide and bounded: cleared when it grows past
    ``limit`` entries, which costs one cold scan."""

    def __init__(self, limit: int = 500_000) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._by_stat: dict[str, tuple[int, int, bytes]] = {}
        self._by_digest: dict[bytes, tuple[RawImport, ...]] = {}

    def imports(self, file: str) -> tuple[RawImport, ...] | None:
        """``file``'s raw imports; None when it is too large to parse (``MAX_PARSED_BYTES``)."""
        stat = os.stat(file)
        if stat.st_size > MAX_PARSED_BYTES:
            return None
        with self._lock:
            known = self._by_stat.get(file)
            if known is not None and known[:2] == (stat.st_size, stat.st_mtime_ns):
                cached = self._by_digest.get(known[2])
                if cached is not None:
                    return cached
        with open(file, "rb") as handle:
            source = handle.read()
        digest = hashlib.sha1(source, usedforsecurity=False).digest()
        with self._lock:
            found = self._by_digest.get(digest)
        if found is None:
            found = raw_imports(source)
        with self._lock:
            if len(self._by_stat) > self._limit:
                self._by_stat.clear()
                self._by_digest.clear()
            self._by_stat[file] = (stat.st_size, stat.st_mtime_ns, digest)
            self._by_digest[digest] = found
        return found


IMPORTS = ImportCache()


def build_graph(
    root: Path, files: list[str], progress: Callable[[float, str], None]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes: every file. Edges: Python file -> project file it imports (``internal``), or
    -> the top-level name of a module from outside the project."""
    python = [f for f in files if f.endswith(".py")]
    index = _module_index(python)
    nodes = [{"path": f, "language": "python" if f.endswith(".py") else ""} for f in files]
    edges: list[dict[str, Any]] = []
    top = str(root)
    every = max(1, len(python) // 100)
    for n, path in enumerate(python, 1):
        if n % every == 0:
            progress(n / len(python), path)
        raw = IMPORTS.imports(os.path.join(top, path))
        if raw is None:
            continue
        seen = {path}
        for name, optional in _resolved(path, raw):
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
    """The enabled plugins' ``hook``s; a plugin whose dependency is not enabled in the
    project is left out (``unmet_in`` says why), rather than failing inside its code."""
    runtime = get_runtime()
    enabled = ProjectPlugin.objects.filter(project=project, enabled=True).values_list(
        "plugin__plugin_id", flat=True
    )
    unmet = unmet_in(project)
    found = []
    for plugin_id in sorted(set(enabled) - unmet.keys()):
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


def _call_reporting(
    job: Any, span: tuple[float, float], label: str, func: Callable[..., Any], *call: Any
) -> dict[str, Any]:
    """``_call`` with the hook's own reports (``bridge.report_progress``) moving the job's
    bar across ``span``, this plugin's share, at most ten times a second. A hook that never
    reports leaves the bar where the step before the call put it."""
    low, high = span

    def move(progress: Progress) -> None:
        detail = progress.message or f"{progress.done} of {progress.total}"
        job.progress(low + (high - low) * progress.fraction, f"{label}: {detail}")

    job.progress(low, label)
    with reporting_to(Throttle(move)):
        return _call(func, *call)


def _extension(path: str) -> str:
    """``PurePosixPath(path).suffix or "(none)"`` without building a path per file."""
    name = path[path.rfind("/") + 1 :]
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else "(none)"


def run_scan(job: Any, span: tuple[float, float] = (0, 100)) -> dict[str, Any]:
    """The scan job: walk, graph, plugins' ``on_scan``; returns the summary it records."""
    low, high = span

    def at(fraction: float) -> float:
        return low + (high - low) * fraction

    def step(fraction: float, message: str) -> None:
        job.progress(at(fraction), message)

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
        share = (at(0.8 + 0.15 * n / len(hooks)), at(0.8 + 0.15 * (n + 1) / len(hooks)))
        label = f"on_scan of {plugin_id}"
        plugins[plugin_id] = _call_reporting(
            job, share, label, func, manifest, str(root), list(files)
        )
        job.raise_if_cancelled()
    by_extension = Counter(_extension(f) for f in files)
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
    internal = tuple((e["source"], e["target"], True) for e in edges if e["internal"])
    ProjectGraph.objects.update_or_create(
        project=project,
        defaults={
            "nodes": nodes,
            "edges": edges,
            "cycles": Graph(project.name, (), internal).import_cycles(),
            "job_id": job.id,
        },
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


def _scalars(value: Any) -> list[tuple[str, Any]]:
    if not isinstance(value, dict):
        return []
    return [
        (str(k), v)
        for k, v in value.items()
        if v is None or isinstance(v, str | int | float | bool)
    ]


def analysis_overview(plugins: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What the project page shows of each plugin's outcome, stored beside the outcomes so
    the page never decodes them: the error, the finding count, and the result's scalar
    entries when there are no findings (the findings themselves are ``Finding`` rows)."""
    overview = {}
    for plugin_id, outcome in plugins.items():
        findings = outcome.get("findings") or []
        overview[plugin_id] = {
            "error": outcome.get("error", ""),
            "count": len(findings),
            "scalars": [] if findings else _scalars(outcome.get("result")),
        }
    return overview


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
        own = (summary.get("plugins", {}).get(plugin_id) or {}).get("result")
        view = {**summary, "files": files, **(own if isinstance(own, dict) else {})}
        share = (50 + 50 * n / len(hooks), 50 + 50 * (n + 1) / len(hooks))
        outcome = _call_reporting(job, share, f"on_analyze of {plugin_id}", func, manifest, view)
        result = outcome["result"]
        findings = result.get("findings") if isinstance(result, dict) else None
        outcome["findings"] = findings if isinstance(findings, list) else []
        plugins[plugin_id] = outcome
        job.raise_if_cancelled()
    total = sum(len(p["findings"]) for p in plugins.values())
    errors = sorted(pid for pid, p in plugins.items() if p["error"])
    skipped = [f"{pid} ({why})" for pid, why in sorted(unmet_in(project).items())]
    count = len(plugins)
    entry = HistoryEntry.objects.create(
        project=project,
        kind=HistoryKind.ANALYSIS,
        summary=f"{total} finding{pluralize(total)} from {count} plugin{pluralize(count)}"
        + (f"; failed: {', '.join(errors)}" if errors else "")
        + (f"; skipped: {', '.join(skipped)}" if skipped else ""),
        data={"plugins": plugins, "overview": analysis_overview(plugins)},
        job_id=job.id,
    )
    store_findings(entry, plugins)
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
