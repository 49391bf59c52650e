"""Benchmark: the project page, its findings and its import graph at 20,000 files.

Run with `python bench/insights.py` (or `make bench`). A fresh SQLite database gets a project
whose scan graph has 20,000 Python files (each importing two others, plus a planted
two-file cycle) and whose analysis has 72,020 findings (the issue's figure), stored as the
jobs store them. Printed: the time to store the findings, the project page (bytes, time),
the findings fragment (first page, a filtered later page), and the graph page (grouping,
layout and drawing; the first request after the scan and a cached one).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="jupiter-bench-insights-"))
os.environ["JUPITER_VAR_DIR"] = str(WORK / "var")
os.environ["JUPITER_LOG_LEVEL"] = "WARNING"
os.environ["JUPITER_PROJECT_ROOTS"] = str(WORK)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jupiter_site.settings")

FILES = 20_000
FINDINGS = 72_020
RUNS = 5


def _timed(label: str, action: Callable[[], object], runs: int = RUNS) -> object:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    times.sort()
    median, best = times[len(times) // 2] * 1000, times[0] * 1000
    print(f"{label:<52} median {median:8.1f} ms  best {best:8.1f} ms")
    status = getattr(result, "status_code", 200)
    assert status == 200, f"{label}: {status}"
    return result


def main() -> None:
    import django
    from django.core.cache import cache
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model
    from django.test import Client

    from plugins_app.jobs.findings import store_findings
    from plugins_app.jobs.scan import analysis_overview
    from plugins_app.models import HistoryEntry, HistoryKind, ProjectGraph
    from plugins_app.projects.service import register_project
    from plugins_app.sdk.values import Graph

    user = get_user_model().objects.create_user("bench", password="bench-pw-1", is_staff=True)
    root = WORK / "big"
    root.mkdir()
    project = register_project("big", str(root), actor=user)
    paths = [f"pkg{n // 500}/sub{n // 50 % 10}/mod{n % 50}.py" for n in range(FILES)]
    edges = [
        {"source": f, "target": paths[(n * 7919 + k) % n], "internal": True}
        for n, f in enumerate(paths)
        if n
        for k in (1, 2)
    ]
    edges += [
        {"source": paths[1551], "target": paths[3605], "internal": True},
        {"source": paths[3605], "target": paths[1551], "internal": True},
    ]
    started = time.perf_counter()
    cycles = Graph("big", (), tuple((e["source"], e["target"], True) for e in edges))
    found = cycles.import_cycles()
    spent = (time.perf_counter() - started) * 1000
    print(f"{'cycles of the file graph (what the scan adds)':<52} {spent:8.1f} ms")
    ProjectGraph.objects.create(
        project=project,
        nodes=[{"path": p, "language": "python"} for p in paths],
        edges=edges,
        cycles=found,
    )
    severities = ("high", "medium", "low", "info")
    findings = [
        {
            "file": paths[n % FILES],
            "line": n % 300,
            "rule": f"R{n % 9}",
            "severity": severities[n % 4],
            "message": f"finding {n}",
        }
        for n in range(FINDINGS)
    ]
    plugins = {"lint": {"error": "", "findings": findings}}
    entry = HistoryEntry.objects.create(
        project=project,
        kind=HistoryKind.ANALYSIS,
        summary=f"{FINDINGS} findings",
        data={"plugins": plugins, "overview": analysis_overview(plugins)},
    )
    _timed(f"store {FINDINGS} findings as rows", lambda: store_findings(entry, plugins), 1)

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    page = _timed("project page", lambda: client.get("/projects/big/"))
    print(f"{'project page size':<52} {len(page.content):8d} bytes")  # type: ignore[attr-defined]
    hx = {"HTTP_HX_REQUEST": "true"}
    _timed("findings fragment, page 1", lambda: client.get("/projects/big/findings/", **hx))
    _timed(
        "findings fragment, medium + folder + search, page 3",
        lambda: client.get(
            "/projects/big/findings/?severity=medium&path=pkg1&q=finding&page=3", **hx
        ),
    )
    _timed("charts fragment", lambda: client.get("/projects/big/charts/", **hx))

    def cold() -> object:
        cache.clear()
        return client.get("/projects/big/graph/")

    _timed(f"graph page of {FILES} files, first after the scan", cold)
    shown = _timed("graph page, cached grouping", lambda: client.get("/projects/big/graph/"))
    print(f"{'graph page size':<52} {len(shown.content):8d} bytes")  # type: ignore[attr-defined]
    _timed(
        "graph fragment with one package open",
        lambda: client.get("/projects/big/graph/?expand=pkg3", **hx),
    )


if __name__ == "__main__":
    main()
