"""Dependencies within a project (issue 15): enabling offers what a plugin needs, disabling
names who needs it, and a dependent says which dependency is missing (ai_helper needs
code_analyzer)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from plugins_app.kernel.runtime import boot
from plugins_app.models import AuditAction, AuditEvent, ProjectPlugin
from plugins_app.projects.dependencies import enabled_dependents, missing_dependencies, unmet_in
from plugins_app.projects.service import register_project, set_plugin_enabled

pytestmark = pytest.mark.django_db(transaction=True)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def project(tmp_path: Path):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "app.py").write_text("x = 1\n")
    boot()
    return register_project("proj", tmp_path / "proj")


@pytest.fixture
def client(project) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_user("op", is_staff=True))
    return client


def enabled(project) -> set[str]:
    rows = ProjectPlugin.objects.filter(project=project, enabled=True)
    return set(rows.values_list("plugin__plugin_id", flat=True))


def toggle(client: Client, plugin_id: str, on: bool, **extra: str):
    url = reverse("plugins_app:project-plugin-toggle", args=["proj", plugin_id])
    return client.post(url, {"enabled": "true" if on else "false", **extra}, **HTMX)


def test_enabling_asks_to_enable_what_the_plugin_needs(client, project) -> None:
    asked = toggle(client, "ai_helper", True)
    html = asked.content.decode()
    assert "<strong>AI helper</strong> needs Code analyzer, not enabled in proj" in html
    assert "Enable Code analyzer and AI helper" in html
    assert enabled(project) == set()  # nothing changed before the answer
    done = toggle(client, "ai_helper", True, related="include")
    assert done.headers.get("HX-Refresh") == "true"
    assert enabled(project) == {"ai_helper", "code_analyzer"}
    assert unmet_in(project) == {}


def test_enabling_only_the_plugin_names_the_missing_dependency(client, project) -> None:
    toggle(client, "ai_helper", True, related="only")
    assert enabled(project) == {"ai_helper"}
    assert unmet_in(project) == {
        "ai_helper": "needs code_analyzer, which is disabled in this project"
    }
    page = client.get("/projects/proj/").content.decode()
    assert "needs code_analyzer, which is disabled in this project: enable it here first" in page


def test_disabling_a_dependency_lists_its_dependents_and_asks(client, project) -> None:
    for plugin_id in ("code_analyzer", "ai_helper"):
        set_plugin_enabled(project, plugin_id, True)
    asked = toggle(client, "code_analyzer", False).content.decode()
    assert "is needed by AI helper in proj: without it they stop working here" in asked
    assert enabled(project) == {"ai_helper", "code_analyzer"}
    toggle(client, "code_analyzer", False, related="include")
    assert enabled(project) == set()
    assert AuditEvent.objects.filter(action=AuditAction.DISABLE).count() == 2


def test_disabling_only_the_dependency_skips_the_dependent_in_analysis(
    client, project, job_worker
) -> None:
    from plugins_app.jobs.api import submit
    from plugins_app.models import HistoryEntry, HistoryKind

    for plugin_id in ("code_analyzer", "ai_helper"):
        set_plugin_enabled(project, plugin_id, True)
    toggle(client, "code_analyzer", False, related="only")
    assert enabled(project) == {"ai_helper"}
    job = submit("", "analyze", project=project)
    assert job_worker.wait(str(job.pk), 60)
    entry = HistoryEntry.objects.filter(project=project, kind=HistoryKind.ANALYSIS).first()
    assert "failed" not in entry.summary
    assert "skipped: ai_helper (needs code_analyzer, which is disabled in this project)" in (
        entry.summary
    )
    assert "ProjectUnavailable" not in str(entry.data)


def test_the_helpers_follow_required_dependencies_only(project) -> None:
    from plugins_app.models import InstalledPlugin

    helper = InstalledPlugin.objects.get(plugin_id="ai_helper")
    assert [p.plugin_id for p in missing_dependencies(project, helper)] == ["code_analyzer"]
    set_plugin_enabled(project, "code_analyzer", True)
    assert missing_dependencies(project, helper) == []
    assert enabled_dependents(project, "code_analyzer") == []
    set_plugin_enabled(project, "ai_helper", True)
    assert [p.plugin_id for p in enabled_dependents(project, "code_analyzer")] == ["ai_helper"]
