"""Jobs pages and endpoints (SPEC J1-J5, L4, L6, U1): login, filters, run, cancel, reload."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from plugins_app.jobs.api import executor
from plugins_app.kernel.runtime import boot, get_runtime
from plugins_app.models import Job, JobState, PluginReloadRequest, ProjectRole
from plugins_app.projects.roles import grant
from plugins_app.projects.service import register_project, set_plugin_enabled

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("job_worker")]


@pytest.fixture
def project(tmp_path: Path, runtime_dirs):
    (tmp_path / "proj").mkdir()
    boot()
    project = register_project("proj", tmp_path / "proj")
    for plugin_id in ("hello", "extends_hello", "job_flaky"):
        set_plugin_enabled(project, plugin_id, True)
    return project


@pytest.fixture
def user_client(client, django_user_model, project):
    """Ann maintains ``proj``: she may run and cancel its jobs (SPEC X4)."""
    ann = django_user_model.objects.create_user("ann", password="pw")
    grant(project, ann, ProjectRole.MAINTAINER)
    client.force_login(ann)
    return client


@pytest.fixture
def staff_client(client, django_user_model):
    """Hot reload changes the code the installation runs: staff only (SPEC X4)."""
    client.force_login(django_user_model.objects.create_user("op", password="pw", is_staff=True))
    return client


def settle(job: Job) -> Job:
    assert executor().wait(str(job.pk), 20)
    job.refresh_from_db()
    return job


def test_job_pages_require_login(client, project):
    job = Job.objects.create(plugin_id="hello", name="say", timeout=5, project=project)
    for url in ("/jobs/", f"/jobs/{job.pk}/", f"/jobs/{job.pk}/panel/", f"/jobs/{job.pk}.json"):
        assert client.get(url).status_code == 302
    assert client.post(f"/jobs/{job.pk}/cancel/").status_code == 302
    assert Job.objects.get().state == JobState.PENDING


def test_running_a_plugin_job_from_its_page(user_client, project):
    page = user_client.get("/plugins/hello/")
    assert b"Say" in page.content and b"added by extends_hello" in page.content
    assert b"hello panel" in page.content  # the extender's panel, rendered on hello's page
    response = user_client.post("/plugins/hello/jobs/say/run/", {"project": "proj"})
    job = settle(Job.objects.get())
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert (job.state, job.result, job.requested_by.username) == ("completed", "hi", "ann")
    detail = user_client.get(f"/jobs/{job.pk}/")
    assert b"Completed" in detail.content
    assert f'data-ws-path="/ws/jobs/job/{job.pk}/"'.encode() in detail.content
    payload = user_client.get(f"/jobs/{job.pk}.json").json()
    assert (payload["state"], payload["result"], payload["seq"]) == ("completed", "hi", job.seq)


def test_an_extender_adds_a_job_to_another_plugins_page(user_client, project):
    user_client.post(
        "/plugins/hello/jobs/hello_report/run/", {"project": "proj", "owner": "extends_hello"}
    )
    job = settle(Job.objects.get())
    assert (job.plugin_id, job.result) == ("extends_hello", "hello report")
    response = user_client.post(
        "/plugins/hello/jobs/flaky/run/", {"project": "proj", "owner": "job_flaky"}, follow=True
    )
    assert b"adds no job to this page" in response.content


def test_a_refused_job_is_explained(user_client, project, settings):
    settings.JUPITER_BREAKER_THRESHOLD = 1
    user_client.post("/plugins/job_flaky/jobs/flaky/run/", {"project": "proj"})
    settle(Job.objects.get())
    response = user_client.post(
        "/plugins/job_flaky/jobs/flaky/run/", {"project": "proj"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422
    assert b"refused after 1 failures in a row (circuit breaker open)" in response.content
    page = user_client.get("/plugins/job_flaky/")
    assert b"Paused after 1 failures in a row" in page.content
    inline = user_client.post(
        "/projects/proj/run/nope/", {"inline": "1"}, headers={"HX-Request": "true"}
    )
    assert inline.status_code == 422
    assert b"Jupiter has no job named" in inline.content


def test_scan_from_the_project_page_returns_the_live_panel(user_client, project):
    response = user_client.post(
        "/projects/proj/run/scan/", {"inline": "1"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 201
    job = settle(Job.objects.get())
    assert f'id="job-{job.pk}"'.encode() in response.content
    assert b'data-job-seq="0"' in response.content
    results = user_client.get("/projects/proj/results/")
    assert b"files scanned" in results.content
    page = user_client.get("/projects/proj/")
    assert b'data-ws-path="/ws/jobs/project/proj/"' in page.content


def test_cancel_button_and_filters(user_client, project):
    job = Job.objects.create(plugin_id="hello", name="say", timeout=5, project=project)
    response = user_client.post(f"/jobs/{job.pk}/cancel/", headers={"HX-Request": "true"})
    assert b"Cancelled" in response.content
    Job.objects.create(plugin_id="", name="scan", timeout=5, project=project)
    listing = user_client.get("/jobs/", {"state": "cancelled"})
    assert listing.context["page"].paginator.count == 1
    assert user_client.get("/jobs/", {"plugin": "jupiter"}).context["page"].paginator.count == 1
    assert user_client.get("/jobs/", {"project": "nope"}).context["page"].paginator.count == 0


def test_reload_button_is_refused_outside_developer_mode(staff_client, project):
    response = staff_client.post("/plugins/hello/reload/", follow=True)
    assert b"Reload refused: hot reload is only available in developer mode" in response.content
    assert b"Reload plugin" not in response.content


def test_reload_button_in_developer_mode_reimports_and_reports_each_step(
    staff_client, project, settings
):
    settings.JUPITER_DEVELOPER_MODE = True
    first = get_runtime().supervisor.process("hello").pid
    response = staff_client.post("/plugins/hello/reload/", follow=True)
    assert get_runtime().supervisor.process("hello").pid != first
    text = response.content.decode()
    steps = ("unregistered (1 jobs", f"stopped its process (pid {first})", "manifest re-read")
    for step in (*steps, "re-registered in a new process"):
        assert step in text
    assert PluginReloadRequest.objects.get().ok is True


def test_reload_command(project, settings, capsys):
    with pytest.raises(CommandError, match="only available in developer mode"):
        call_command("jupiter_plugins", "reload", "hello", "--wait", "0")
    settings.JUPITER_DEVELOPER_MODE = True
    call_command("jupiter_plugins", "reload", "hello", "--wait", "0")
    out = capsys.readouterr().out
    assert "in this process (no server in developer mode answered within 0 s)" in out
    assert "  - re-imported and re-registered" in out
    with pytest.raises(CommandError, match="not installed"):
        call_command("jupiter_plugins", "reload", "nope", "--wait", "0")


def test_a_viewer_is_offered_no_run_nor_cancel_and_sees_only_their_projects_jobs(
    client, django_user_model, project, tmp_path
):
    """What a viewer may not do is not offered (it would only answer 403), and jobs of a
    project they cannot see stay off the plugin page."""
    vic = django_user_model.objects.create_user("vic", password="pw")
    grant(project, vic, ProjectRole.VIEWER)
    (tmp_path / "hidden").mkdir()
    hidden = register_project("hidden", tmp_path / "hidden")
    set_plugin_enabled(hidden, "hello", True)
    Job.objects.create(plugin_id="hello", name="say", timeout=5, project=hidden, title="Secret")
    job = Job.objects.create(plugin_id="hello", name="say", timeout=5, project=project)
    client.force_login(vic)
    page = client.get("/plugins/hello/").content.decode()
    assert 'name="project"' not in page and "Secret" not in page
    assert "Enable hello in a project to run it." in page
    for url in (f"/jobs/{job.pk}/", f"/jobs/{job.pk}/panel/"):
        assert "/cancel/" not in client.get(url).content.decode()
    assert client.post(f"/jobs/{job.pk}/cancel/").status_code == 403
    ann = django_user_model.objects.create_user("ann", password="pw")
    grant(project, ann, ProjectRole.MAINTAINER)
    client.force_login(ann)
    page = client.get("/plugins/hello/").content.decode()
    assert '<option value="proj">' in page and 'value="hidden"' not in page
    assert f"/jobs/{job.pk}/cancel/" in client.get(f"/jobs/{job.pk}/panel/").content.decode()
