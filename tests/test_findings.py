"""Findings at scale (jobs/findings.py, web/presenters/findings.py, the findings views):
severities on one scale, rows replaced per analysis, counts, filters, search, stable pages."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from plugins_app.jobs.findings import severity_of, store_findings
from plugins_app.models import Finding, HistoryEntry, HistoryKind, Project
from plugins_app.projects.service import register_project
from plugins_app.web.presenters.findings import PAGE_SIZE, FindingFilters


@pytest.mark.parametrize(
    ("finding", "expected"),
    [
        ({"severity": "ERROR"}, "high"),
        ({"priority": "medium"}, "medium"),
        ({"level": "warning"}, "medium"),
        ({"severity": "bogus", "priority": "low"}, "low"),
        ({"rule": "x"}, "info"),
        ("a bare string", "info"),
    ],
)
def test_severity_of_maps_plugins_words_to_one_scale(finding, expected) -> None:
    assert severity_of(finding) == expected


def _analysis(project: Project, plugins: dict) -> HistoryEntry:
    entry = HistoryEntry.objects.create(
        project=project, kind=HistoryKind.ANALYSIS, summary="s", data={"plugins": plugins}
    )
    store_findings(entry, plugins)
    return entry


def plugins_with_findings(count: int = 250) -> dict:
    """p_lint: ``count`` findings over src/ and tests/, severities rotating; p_cycle: one
    finding naming 300 files."""
    severities = ("high", "medium", "low", "info")
    lint = [
        {
            "file": f"{'src' if n % 2 else 'tests'}/m{n:04}.py",
            "line": n,
            "rule": f"R{n % 3}",
            "severity": severities[n % 4],
            "message": f"finding {n:04}" + (" needle" if n % 50 == 0 else ""),
        }
        for n in range(count)
    ]
    cycle = {
        "priority": "high",
        "rule": "import-cycle",
        "file": "src/m0001.py",
        "message": "Break the import cycle of 300 files",
        "files": [f"src/c{n:03}.py" for n in range(300)],
    }
    return {
        "p_lint": {"error": "", "findings": lint},
        "p_cycle": {"error": "", "findings": [cycle]},
        "p_quiet": {"error": "", "findings": []},
    }


@pytest.fixture
def project(user, tmp_path: Path) -> Project:
    root = tmp_path / "big"
    root.mkdir()
    project = register_project("big", str(root), actor=user)
    _analysis(project, plugins_with_findings())
    return project


@pytest.fixture
def viewer(client: Client, user) -> Client:
    client.force_login(user)
    return client


def test_a_new_analysis_replaces_the_rows_of_the_previous_one(project: Project) -> None:
    assert Finding.objects.filter(project=project).count() == 251
    _analysis(project, {"p_new": {"findings": [{"message": "only"}]}})
    assert list(Finding.objects.filter(project=project).values_list("plugin_id", "message")) == [
        ("p_new", "only")
    ]


def test_filters_keep_only_known_values_and_round_trip_as_a_query_string() -> None:
    filters = FindingFilters.of({"severity": "nope", "plugin": "p", "path": " src/ ", "q": "x"})
    assert filters == FindingFilters("", "p", "src/", "x")
    assert FindingFilters.of(dict(parse_qsl(filters.query()))) == filters
    assert filters.query(plugin="") == "path=src%2F&q=x"


def test_findings_page_counts_by_severity_and_plugin(viewer: Client, project) -> None:
    html = viewer.get("/projects/big/findings/").content.decode()
    assert "<!doctype html>" in html  # a plain request gets the whole page: a stable link
    assert 'data-findings-total="251"' in html
    # The charts' text summaries (their <desc>) carry the counts; the cycle finding is high.
    assert "<desc>high 64, medium 63, low 62, info 62</desc>" in html
    assert "<desc>p_cycle 1, p_lint 250</desc>" in html
    assert html.count('<tr class="finding') == PAGE_SIZE
    assert f"Page 1 of {-(-251 // PAGE_SIZE)}" in html


def test_filters_search_and_paging_are_in_the_query_string(viewer: Client, project) -> None:
    url = "/projects/big/findings/?severity=high&plugin=p_lint&path=src&page=2"
    html = viewer.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<!doctype html>" not in html
    # p_lint's high findings are n % 4 == 0, so all in tests/: none under src/.
    assert 'data-findings-matching="0"' in html and "No finding matches" in html
    html = viewer.get("/projects/big/findings/?severity=medium&path=src/&page=2").content.decode()
    matching = int(re.search(r'data-findings-matching="(\d+)"', html).group(1))
    assert matching == 63  # n % 4 == 1: all odd, so all in src/
    assert f"Page 2 of {-(-63 // PAGE_SIZE)}" in html
    assert 'href="/projects/big/findings/?severity=medium&amp;path=src%2F&amp;page=1"' in html
    shown = re.findall(r"finding (\d{4})", html)
    assert len(shown) == min(PAGE_SIZE, 63 - PAGE_SIZE) and all(int(n) % 4 == 1 for n in shown)
    found = viewer.get("/projects/big/findings/?q=NEEDLE").content.decode()
    assert re.findall(r"finding (\d{4}) needle", found) == ["0000", "0050", "0100", "0150", "0200"]
    one_file = viewer.get("/projects/big/findings/?path=src/m0001.py").content.decode()
    assert 'data-findings-matching="2"' in one_file  # its lint finding and the cycle


def test_a_long_file_list_is_a_count_the_first_files_and_an_expander(viewer, project) -> None:
    html = viewer.get("/projects/big/findings/?plugin=p_cycle").content.decode()
    assert "300 files: src/c000.py, src/c001.py, src/c002.py, src/c003.py, src/c004.py" in html
    assert "<summary>295 more</summary>" in html
    head = html.split("<details>")[0]
    assert "src/c005.py" not in head


def test_malformed_parameters_are_ignored_not_errors(viewer: Client, project) -> None:
    for query in ("page=abc", "page=-4", "page=99999", "severity=%00", "q=" + "x" * 5000):
        response = viewer.get(f"/projects/big/findings/?{query}")
        assert response.status_code == 200, query


def test_a_page_of_findings_costs_the_same_queries_at_any_size(viewer, project) -> None:
    with CaptureQueriesContext(connection) as small:
        viewer.get("/projects/big/findings/?page=2", HTTP_HX_REQUEST="true")
    _analysis(project, plugins_with_findings(5000))
    with CaptureQueriesContext(connection) as large:
        viewer.get("/projects/big/findings/?page=2", HTTP_HX_REQUEST="true")
    assert len(large) == len(small) < 15


def test_project_charts_show_each_finished_job(viewer: Client, project) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from plugins_app.models import Job

    now = timezone.now()
    for n, state in enumerate(["completed", "failed", "completed", "cancelled", "running"]):
        Job.objects.create(
            name="scan",
            project=project,
            state=state,
            timeout=60,
            started_at=now - timedelta(seconds=100 - n * 10),
            finished_at=None if state == "running" else now - timedelta(seconds=90 - n * 10 - n),
        )
    html = viewer.get("/projects/big/charts/").content.decode()
    bars = re.findall(r'<rect class="bar (outcome-\w+)"', html)
    assert bars == ["outcome-completed", "outcome-failed", "outcome-completed", "outcome-cancelled"]
    assert "2 completed" in html and "1 failed" in html
    assert "scan failed in 11.0 s" in html


def test_the_project_page_does_not_grow_with_the_findings(viewer: Client, project) -> None:
    small = viewer.get("/projects/big/").content.decode()
    _analysis(project, plugins_with_findings(5000))
    large = viewer.get("/projects/big/").content.decode()
    assert "finding 0001" not in large  # the findings come in the fragment loaded after
    assert abs(len(large) - len(small)) < 200, (len(small), len(large))


def test_plugin_job_chart_shows_only_jobs_of_projects_the_user_sees(
    viewer: Client, project, tmp_path: Path
) -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from plugins_app.models import InstalledPlugin, Job

    InstalledPlugin.objects.create(plugin_id="p", name="P", version="1.0.0")
    root = tmp_path / "hidden"
    root.mkdir()
    owner = get_user_model().objects.create_user("other", password="pw-other-1")
    hidden = register_project("hidden", str(root), actor=owner)
    now = timezone.now()
    for where, state in ((project, "completed"), (project, "failed"), (hidden, "completed")):
        Job.objects.create(
            plugin_id="p",
            name="j",
            project=where,
            state=state,
            timeout=60,
            started_at=now,
            finished_at=now,
        )
    html = viewer.get("/plugins/p/jobs/chart/").content.decode()
    assert re.findall(r'<rect class="bar (outcome-\w+)"', html) == [
        "outcome-completed",
        "outcome-failed",
    ]


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_the_latest_analysis_its_finding_rows(tmp_path: Path) -> None:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    before = [("plugins_app", "0011_metric_samples")]
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    project = apps.get_model("plugins_app", "Project").objects.create(
        name="old", root_path=str(tmp_path)
    )
    entries = apps.get_model("plugins_app", "HistoryEntry").objects
    findings = [{"message": "kept", "file": "a.py", "priority": "high"}, "a bare string"]
    entries.create(project=project, kind="analysis", summary="first", data={"plugins": {}})
    entries.create(
        project=project,
        kind="analysis",
        summary="latest",
        data={"plugins": {"p": {"error": "", "findings": findings}, "odd": None}},
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes("plugins_app"))
    rows = Finding.objects.filter(project_id=project.pk).order_by("position")
    assert [(r.plugin_id, r.severity, r.path, r.message) for r in rows] == [
        ("p", "high", "a.py", "kept"),
        ("p", "info", "", "a bare string"),
    ]
