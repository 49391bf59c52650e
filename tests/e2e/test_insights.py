"""Charts, the import graph and findings at scale in a real browser (issue 15).

A generated project of 20,000 files: its graph and findings are written straight into the
database (what a scan and an analysis store; running them would take minutes), then
the browser checks that each chart draws the expected points, that the graph renders in
under two seconds with the planted cycle highlighted, and that findings page and filter
through links that survive a reload. ``test_analyzers.py`` covers a real analysis.

Screenshots go to ``$JUPITER_SCREENSHOTS`` (``make screenshots`` sets docs/screenshots).
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from plugins_app.jobs.findings import store_findings
from plugins_app.jobs.scan import analysis_overview
from plugins_app.models import (
    HistoryEntry,
    HistoryKind,
    Job,
    MetricPoint,
    MetricSample,
    Project,
    ProjectGraph,
)
from plugins_app.projects.service import register_project
from plugins_app.sdk.values import Graph
from plugins_app.web.presenters.findings import PAGE_SIZE

pytestmark = pytest.mark.e2e

SHOTS = Path(os.environ.get("JUPITER_SCREENSHOTS", "/tmp"))
PACKAGES, SUBPACKAGES, MODULES = 40, 10, 50  # 20,000 files
CYCLE = ("pkg3/sub1/mod1.py", "pkg7/sub2/mod5.py")
SEVERITIES = ("high", "medium", "low", "info")
FINDINGS = 25_000


def _shoot(page: Page, name: str, widths: tuple[int, ...] = (1280, 400)) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in widths:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"jupiter-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plugin that declares metrics (their points are written by the test, as the leader
    would collect them)."""
    root = tmp_path_factory.mktemp("e2e-insights")
    (root / "e2e_gauge").mkdir()
    (root / "e2e_gauge" / "plugin.yaml").write_text(
        "id: e2e_gauge\nname: E2E gauge\nversion: 1.0.0\ntype: tool\n"
        "description: Declares metrics for the charts.\n"
        "entrypoint: 'gauge:register'\n"
        "capabilities:\n  metrics:\n    enabled: true\n    interval: 60\n",
        encoding="utf-8",
    )
    (root / "e2e_gauge" / "gauge.py").write_text("def register(bridge):\n    pass\n")
    return root


PATHS = [
    f"pkg{p}/sub{s}/mod{m}.py"
    for p in range(PACKAGES)
    for s in range(SUBPACKAGES)
    for m in range(MODULES)
]


def _finding(n: int, paths: list[str]) -> dict[str, object]:
    return {
        "file": paths[n % len(paths)],
        "line": n % 400 + 1,
        "rule": f"R{n % 7}",
        "severity": SEVERITIES[n % 4],
        "message": f"finding {n:05}" + (" needle" if n % 1000 == 0 else ""),
    }


@pytest.fixture
def big(user, tmp_path: Path) -> Project:
    """The generated project (a folder under the allowed roots) with its scan's graph of
    20,000 files (each imports two earlier ones, plus the planted cycle) and its analysis's
    findings, as the jobs would have stored them. The files themselves are not written:
    nothing here reads them, and 20,000 writes cost half a minute on a busy machine."""
    root = tmp_path / "big"
    root.mkdir()
    paths = PATHS
    project = register_project("big", str(root), actor=user)
    edges = [
        {"source": f, "target": paths[(n * 7919 + k) % n], "internal": True}
        for n, f in enumerate(paths)
        if n
        for k in (1, 2)
    ]
    edges += [
        {"source": CYCLE[0], "target": CYCLE[1], "internal": True},
        {"source": CYCLE[1], "target": CYCLE[0], "internal": True},
    ]
    internal = tuple((e["source"], e["target"], True) for e in edges)
    ProjectGraph.objects.create(
        project=project,
        nodes=[{"path": p, "language": "python"} for p in paths],
        edges=edges,
        cycles=Graph("big", (), internal).import_cycles(),  # as run_scan stores them
    )
    plugins = {
        "lint": {"error": "", "findings": [_finding(n, paths) for n in range(FINDINGS - 1)]},
        "cycles": {
            "error": "",
            "findings": [
                {
                    "priority": "high",
                    "rule": "import-cycle",
                    "file": CYCLE[0],
                    "message": "Break the import cycle of 300 files",
                    "files": [f"pkg9/sub0/mod{n}.py" for n in range(300)],
                }
            ],
        },
    }
    entry = HistoryEntry.objects.create(
        project=project,
        kind=HistoryKind.ANALYSIS,
        summary=f"{FINDINGS} findings from 2 plugins",
        data={"plugins": plugins, "overview": analysis_overview(plugins)},
    )
    store_findings(entry, plugins)
    return project


def test_import_graph_of_20000_files_renders_fast_and_highlights_the_cycle(
    big: Project, logged_in: Page, live_server_url: str
) -> None:
    page = logged_in
    started = time.perf_counter()
    page.goto(f"{live_server_url}/projects/big/graph/")
    graph = page.locator("svg[data-graph]")
    expect(graph).to_be_visible()
    elapsed = time.perf_counter() - started
    assert elapsed < 2, f"the graph took {elapsed:.2f} s"
    expect(page.locator("[data-graph-facts]")).to_contain_text("20000 Python files in 40 nodes")
    expect(graph.locator("g.node")).to_have_count(PACKAGES)
    cyclic = graph.locator("g.node.in-cycle")
    expect(cyclic).to_have_count(2)
    assert sorted(cyclic.evaluate_all("els => els.map(e => e.dataset.node)")) == ["pkg3", "pkg7"]
    expect(graph.locator("path.edge.in-cycle")).to_have_count(2)
    expect(page.locator(".cycles li").first).to_have_text(f"2 files: {', '.join(CYCLE)}")
    _shoot(page, "import-graph")

    def view_box() -> list[float]:
        return [float(n) for n in (graph.get_attribute("viewBox") or "").split()]

    before = view_box()
    page.get_by_role("button", name="Zoom in").click()
    assert view_box()[2] == pytest.approx(before[2] / 1.25)
    page.get_by_role("button", name="Fit").click()
    assert view_box() == before
    page.evaluate("window.jupiterNoReload = true")
    graph.locator('g.node[data-node="pkg3"] a').click()  # opens the package in place
    expect(page.locator('g.node[data-node="pkg3/sub1"]')).to_have_class(
        "node node-package in-cycle"
    )
    assert page.evaluate("window.jupiterNoReload === true")
    assert page.url.endswith("/projects/big/graph/?expand=pkg3")
    page.locator('g.node[data-node="pkg3/sub1"] a').click()
    cycle_file = page.locator(f'g.node[data-node="{CYCLE[0]}"]')
    expect(cycle_file).to_have_class("node node-file in-cycle")
    _shoot(page, "import-graph-open", (1280,))
    cycle_file.locator("a").click()  # a file leads to its findings
    # findings n with n % 20000 == 1551 (the file's index), and the cycle finding
    expect(page.locator("#project-findings")).to_have_attribute("data-findings-matching", "3")
    page.go_back()
    expect(page.locator(f'g.node[data-node="{CYCLE[0]}"]')).to_be_visible()


def test_findings_page_and_filter_on_the_large_project(
    big: Project, logged_in: Page, live_server_url: str
) -> None:
    page = logged_in
    page.goto(f"{live_server_url}/projects/big/")
    section = page.locator("#project-findings")
    expect(section).to_have_attribute("data-findings-total", str(FINDINGS))
    expect(section.locator("tr.finding")).to_have_count(PAGE_SIZE)
    expect(section.locator("[data-findings-page]")).to_have_text(
        f"Page 1 of {FINDINGS // PAGE_SIZE}"
    )
    cycle_row = section.locator("tr.finding", has_text="import cycle")
    expect(cycle_row).to_contain_text("300 files: pkg9/sub0/mod0.py, pkg9/sub0/mod1.py")
    expect(cycle_row.locator("details summary")).to_have_text("295 more")
    _shoot(page, "project-findings")

    section.locator("select[name=severity]").select_option("medium")
    section.locator("select[name=plugin]").select_option("lint")
    section.get_by_role("button", name="Filter").click()
    expect(section).to_have_attribute("data-findings-matching", "6250")
    expect(page).to_have_url(
        f"{live_server_url}/projects/big/findings/?severity=medium&plugin=lint&path=&q="
    )
    section.get_by_role("link", name="Next").click()
    expect(section.locator("[data-findings-page]")).to_have_text(f"Page 2 of {6250 // PAGE_SIZE}")
    first = section.locator("tr.finding").first
    expect(first.locator(".badge")).to_have_text("medium")
    expect(first).to_contain_text(f"finding {1 + 4 * PAGE_SIZE:05}")  # medium: n % 4 == 1
    link = page.url
    page.reload()  # the address holds the whole view
    assert page.url == link
    expect(page.locator("[data-findings-page]")).to_have_text(f"Page 2 of {6250 // PAGE_SIZE}")
    expect(page.locator("tr.finding").first).to_contain_text(f"finding {1 + 4 * PAGE_SIZE:05}")

    page.goto(f"{live_server_url}/projects/big/findings/?q=needle")
    expect(page.locator("#project-findings")).to_have_attribute("data-findings-matching", "25")
    page.goto(f"{live_server_url}/projects/big/findings/?path=pkg0/sub0&severity=high")
    # files 0-49, so findings 0-49 and 20000-20049; high: a multiple of 4
    expect(page.locator("#project-findings")).to_have_attribute("data-findings-matching", "26")
    _shoot(page, "findings-filtered", (1280,))


def _points(page: Page, chart: str) -> int:
    return page.locator(f'[data-chart="{chart}"] svg .point').count()


def test_each_chart_draws_the_expected_points(
    big: Project, logged_in: Page, live_server_url: str
) -> None:
    now = timezone.now()
    states = ["completed"] * 5 + ["failed", "completed", "cancelled", "completed", "failed"]
    plugin_jobs = 3  # jobs of e2e_gauge, also drawn on its page
    for n, state in enumerate(states):
        Job.objects.create(
            plugin_id="e2e_gauge" if n < plugin_jobs else "",
            name="scan",
            title="Scan project",
            project=big,
            state=state,
            timeout=60,
            started_at=now - timedelta(minutes=30 - n),
            finished_at=now - timedelta(minutes=30 - n) + timedelta(seconds=n + 1),
        )
    MetricSample.objects.create(
        plugin_id="e2e_gauge",
        interval=60,
        values={"queue": 7.0},
        attempted_at=now,
        collected_at=now,
    )
    MetricPoint.objects.bulk_create(
        MetricPoint(
            plugin_id="e2e_gauge",
            values={"queue": float(n % 9)},
            collected_at=now - timedelta(minutes=90 - n),
        )
        for n in range(90)
    )
    page = logged_in
    page.goto(f"{live_server_url}/projects/big/")
    jobs = page.locator('[data-chart="job-durations"] svg rect.bar')
    expect(jobs).to_have_count(len(states))
    expect(page.locator('[data-chart="job-durations"] svg rect.bar.outcome-failed')).to_have_count(
        2
    )
    expect(page.locator('[data-chart="findings-by-severity"] svg rect.bar')).to_have_count(4)
    expect(page.locator('[data-chart="findings-by-plugin"] svg rect.bar')).to_have_count(2)
    _shoot(page, "project-charts")

    page.goto(f"{live_server_url}/plugins/e2e_gauge/")
    own = page.locator('[data-chart="plugin-job-durations"] svg rect.bar')
    page.locator("#plugin-jobs").scroll_into_view_if_needed()
    expect(own).to_have_count(plugin_jobs)
    expect(page.locator('[data-chart="spark-queue"] svg')).to_be_visible()
    assert _points(page, "spark-queue") == 60  # the card's sparkline: the newest 60
    page.locator("#metrics-e2e_gauge").scroll_into_view_if_needed()  # the chart comes into view
    chart = page.locator('[data-chart="metric-queue"]')
    expect(chart).to_have_attribute("data-points", "90")
    assert _points(page, "metric-queue") == 90
    chart.scroll_into_view_if_needed()
    _shoot(page, "plugin-metrics-history", (1280,))
