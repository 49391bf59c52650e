"""Plugin lists at scale (issue 17): search, filters and paging pick the right rows, cached
rows change when a plugin's status changes, and the project page pages its findings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from plugins_app.jobs.findings import store_findings
from plugins_app.jobs.scan import analysis_overview
from plugins_app.models import (
    HistoryEntry,
    HistoryKind,
    InstalledPlugin,
    PluginKind,
    PluginStatus,
    Project,
    ProjectPlugin,
    ProjectRole,
    StatusSource,
    TrustLevel,
)
from plugins_app.projects.roles import grant
from plugins_app.registry.status import set_status

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(db) -> User:
    return get_user_model().objects.create_user("ada", password="pw")


@pytest.fixture
def client(ada: User) -> Client:
    client = Client()
    client.force_login(ada)
    return client


@pytest.fixture
def many(tmp_path: Path, ada: User) -> list[InstalledPlugin]:
    """120 plugins: every third a system plugin, every fifth in error, every seventh official;
    three enabled in ``demo``, where ada is a viewer."""
    rows = [
        InstalledPlugin(
            plugin_id=f"p{n:03}",
            name=f"Plugin {n:03}" + (" scanner" if n % 10 == 0 else ""),
            kind=PluginKind.SYSTEM if n % 3 == 0 else PluginKind.TOOL,
            status=PluginStatus.ERROR if n % 5 == 0 else PluginStatus.READY,
            trust_level=TrustLevel.OFFICIAL if n % 7 == 0 else TrustLevel.UNSIGNED,
            manifest={"id": f"p{n:03}", "permissions": ["fs_read"] if n % 2 else []},
        )
        for n in range(120)
    ]
    InstalledPlugin.objects.bulk_create(rows)
    (tmp_path / "demo").mkdir()
    project = Project.objects.create(name="demo", root_path=str(tmp_path / "demo"))
    grant(project, ada, ProjectRole.VIEWER)
    ProjectPlugin.objects.bulk_create(
        ProjectPlugin(project=project, plugin=p, enabled=True)
        for p in InstalledPlugin.objects.filter(plugin_id__in=["p001", "p002", "p030"])
    )
    return list(InstalledPlugin.objects.order_by("plugin_id"))


def _ids(data: dict) -> list[str]:
    return [p["id"] for p in data["plugins"]]


def test_json_pages_search_and_filters_return_the_right_rows(client: Client, many) -> None:
    first = client.get("/plugins.json").json()
    assert (first["count"], first["page"], first["pages"]) == (120, 1, 3)
    assert _ids(first) == [f"p{n:03}" for n in range(50)]
    assert first["next"] == "/plugins.json?page=2"
    last = client.get("/plugins.json?page=3").json()
    assert _ids(last) == [f"p{n:03}" for n in range(100, 120)] and last["next"] is None
    assert client.get("/plugins.json?per_page=500").json()["pages"] == 1
    assert _ids(client.get("/plugins.json?q=scanner").json()) == [
        f"p{n:03}" for n in range(0, 120, 10)
    ]
    errors = client.get("/plugins.json?status=error&kind=system&per_page=100").json()
    assert _ids(errors) == [f"p{n:03}" for n in range(0, 120, 15)]
    official = client.get("/plugins.json?trust=official&per_page=100").json()
    assert _ids(official) == [f"p{n:03}" for n in range(0, 120, 7)]
    enabled = client.get("/plugins.json?project=demo").json()
    assert _ids(enabled) == ["p001", "p002", "p030"]
    assert enabled["plugins"][0]["enabled_projects"] == ["demo"]
    assert enabled["plugins"][0]["permissions"] == ["fs_read"]
    assert client.get("/plugins.json?kind=core&status=bogus").json()["count"] == 120


def test_an_outsider_is_told_nothing_of_projects_they_cannot_see(many) -> None:
    outsider = Client()
    outsider.force_login(get_user_model().objects.create_user("eve", password="pw"))
    listed = outsider.get("/plugins.json?q=p001").json()
    assert _ids(listed) == ["p001"]
    assert listed["plugins"][0]["enabled_projects"] == []
    assert outsider.get("/plugins.json?project=demo").json()["count"] == 0
    html = outsider.get("/plugins/?q=p001").content.decode()
    assert "/projects/demo/" not in html
    assert '<option value="demo"' not in html
    assert outsider.get("/projects/demo/").status_code == 404


def test_plugin_list_pages_and_filters_with_htmx_partial(client: Client, many) -> None:
    html = client.get("/plugins/?q=scanner&kind=tool").content.decode()
    shown = sorted(re.findall(r'id="plugin-(p\d{3})"', html))
    assert shown == [f"p{n:03}" for n in range(0, 120, 10) if n % 3]
    assert "8 plugins match the filters" in html
    response = client.get(
        "/plugins/?page=2", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="plugin-results"
    )
    assert response.templates[0].name == "plugins_app/partials/plugin_results.html"
    page_two = response.content.decode()
    ordered = sorted(many, key=lambda p: (p.kind, p.name))  # system first, then tools
    assert re.findall(r'id="plugin-(p\d{3})"', page_two) == [p.plugin_id for p in ordered[50:100]]
    assert "Page 2 of 3" in page_two


def test_plugin_list_cost_does_not_grow_with_plugins(client: Client, many) -> None:
    with CaptureQueriesContext(connection) as queries:
        html = client.get("/plugins/").content.decode()
    assert html.count('<tr id="plugin-') == 50
    assert len(queries) < 15


def test_a_cached_row_changes_when_the_plugin_status_changes(client: Client, many) -> None:
    assert 'id="plugin-p001" class="is-ready"' in client.get("/plugins/?q=p001").content.decode()
    assert 'id="plugin-p001" class="is-ready"' in client.get("/plugins/?q=p001").content.decode()
    set_status("p001", PluginStatus.ERROR, "it broke", source=StatusSource.LOAD)
    html = client.get("/plugins/?q=p001").content.decode()
    assert 'id="plugin-p001" class="is-error"' in html and "it broke" in html
    ProjectPlugin.objects.filter(plugin__plugin_id="p001").update(enabled=False)
    assert 'href="/projects/demo/"' not in client.get("/plugins/?q=p001").content.decode()


def test_project_page_pages_plugins_and_loads_findings_after(client: Client, many) -> None:
    project = Project.objects.get(name="demo")
    findings = [{"message": f"finding {n}", "file": f"f{n}.py", "line": n} for n in range(45)]
    plugins = {"p001": {"result": {}, "error": "", "findings": findings}}
    entry = HistoryEntry.objects.create(
        project=project,
        kind=HistoryKind.ANALYSIS,
        summary="45 findings",
        data={"plugins": plugins, "overview": analysis_overview(plugins)},
    )
    store_findings(entry, plugins)
    html = client.get("/projects/demo/").content.decode()
    assert html.count('<tr id="project-plugin-') == 50
    assert "120 plugins" in html and "Page 1 of 3" in html
    # The page holds the count and a link; the findings are a fragment loaded after it.
    assert "45 findings" in html and "finding 0" not in html
    assert 'hx-get="/projects/demo/findings/" hx-trigger="load"' in html
    assert 'href="/projects/demo/findings/?plugin=p001"' in html
    searched = client.get("/projects/demo/?q=scanner").content.decode()
    assert searched.count('<tr id="project-plugin-') == 12
