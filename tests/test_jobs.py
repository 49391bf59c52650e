"""Jobs with hostile plugins (SPEC J1-J6, X1): the host stays up, each ends documented."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from plugins_app.jobs import breaker
from plugins_app.jobs.api import JobRefused, cancel, executor, submit
from plugins_app.jobs.worker import reap_jobs
from plugins_app.kernel.runtime import boot, get_runtime
from plugins_app.models import AuditAction, AuditEvent, Job, JobState
from plugins_app.projects.service import register_project, set_plugin_enabled
from tests.plugin_control import PluginControl

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("job_worker")]
WAIT = 20  # generous: a slow machine never fails a test, a hang still ends it


@pytest.fixture
def project(tmp_path: Path, runtime_dirs):
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('hi')\n")
    boot()
    return register_project("proj", root)


def enable(project, *plugin_ids: str) -> None:
    for plugin_id in plugin_ids:
        set_plugin_enabled(project, plugin_id, True)


def run(plugin_id: str, name: str, project, **params) -> Job:
    job = submit(plugin_id, name, project=project, params=params)
    assert executor().wait(str(job.pk), WAIT), "the job never settled"
    job.refresh_from_db()
    return job


def plugin_module(plugin_id: str):
    return PluginControl(plugin_id)


def test_a_job_runs_to_completion_with_its_result(project):
    enable(project, "hello")
    job = run("hello", "say", project)
    assert job.state == JobState.COMPLETED
    assert job.result == "hi"
    assert (job.progress, job.error) == (100, "")
    assert job.started_at and job.finished_at
    assert job.seq >= 2  # started + completed, each numbered


def test_a_job_that_raises_fails_with_a_clear_error(project):
    enable(project, "job_raises", "hello")
    job = run("job_raises", "explode", project)
    assert job.state == JobState.FAILED
    assert job.error.startswith("ValueError: job exploded on purpose (at main.py:4 in explode)")
    assert run("hello", "say", project).state == JobState.COMPLETED  # the host is fine


def test_a_hanging_job_fails_at_its_manifest_timeout(project):
    enable(project, "job_hangs")
    try:
        job = run("job_hangs", "hang", project)
    finally:
        plugin_module("job_hangs").RELEASE.set()
    assert job.state == JobState.FAILED
    assert job.error == "timed out after 0.5 s (the job's time limit)"
    assert job.timeout == 0.5


def test_cooperative_cancellation_stops_the_job(project):
    enable(project, "job_stubborn")
    module = plugin_module("job_stubborn")
    job = submit("job_stubborn", "polite", project=project)
    assert module.STARTED.wait(WAIT)
    cancel(job)
    assert executor().wait(str(job.pk), WAIT)
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED
    assert job.result["stopped_at"] is not None
    assert job.cancel_requested


def test_a_job_ignoring_cancellation_is_abandoned_as_cancelled(project, settings):
    settings.JUPITER_JOB_CANCEL_GRACE = 0.2
    enable(project, "job_stubborn")
    module = plugin_module("job_stubborn")
    supervisor = get_runtime().supervisor
    pid = supervisor.process("job_stubborn").pid
    job = submit("job_stubborn", "stubborn", project=project)
    try:
        assert module.STARTED.wait(WAIT)
        cancel(job)
        assert executor().wait(str(job.pk), WAIT)
    finally:
        module.RELEASE.set()
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED
    assert "did not stop within 0.2 s" in job.error
    assert "its plugin process was stopped" in job.error
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the process that ran it is gone, with whatever it was doing
    [killed] = [e for e in supervisor.events if e.pid == pid and e.kind == "killed"]
    assert killed.reason == f"job {job.pk} ignored its cancellation for 0.2 s"


def test_a_pending_job_is_cancelled_before_it_runs(project, settings):
    settings.JUPITER_JOB_WORKERS = 1
    enable(project, "job_stubborn", "hello")
    module = plugin_module("job_stubborn")
    blocker = submit("job_stubborn", "stubborn", project=project)
    try:
        assert module.STARTED.wait(WAIT)
        queued = submit("hello", "say", project=project)
        cancel(queued)
        queued.refresh_from_db()
        assert queued.state == JobState.CANCELLED
        assert queued.error == "cancelled before it started"
    finally:
        module.RELEASE.set()
    assert executor().wait(str(blocker.pk), WAIT)
    assert executor().wait(str(queued.pk), WAIT)
    queued.refresh_from_db()
    assert queued.state == JobState.CANCELLED and queued.started_at is None


def test_repeated_failures_open_the_breaker_then_one_trial_closes_it(project, settings):
    settings.JUPITER_BREAKER_THRESHOLD = 3
    settings.JUPITER_BREAKER_COOLDOWN = 60
    enable(project, "job_flaky")
    for _ in range(3):
        assert run("job_flaky", "flaky", project).state == JobState.FAILED
    with pytest.raises(breaker.CircuitOpen, match="refused after 3 failures in a row"):
        submit("job_flaky", "flaky", project=project, params={"fail": False})
    assert breaker.state_of("job_flaky").status == breaker.OPEN
    # The cool-down elapses (moved back in time rather than waited for).
    Job.objects.filter(plugin_id="job_flaky").update(
        finished_at=timezone.now() - timedelta(seconds=61)
    )
    assert breaker.state_of("job_flaky").status == breaker.HALF_OPEN
    trial = run("job_flaky", "flaky", project, fail=False)
    assert trial.state == JobState.COMPLETED
    assert breaker.state_of("job_flaky").status == breaker.CLOSED
    assert run("job_flaky", "flaky", project, fail=False).state == JobState.COMPLETED


def test_a_failed_trial_opens_the_breaker_again(project, settings):
    settings.JUPITER_BREAKER_THRESHOLD = 2
    enable(project, "job_flaky")
    for _ in range(2):
        run("job_flaky", "flaky", project)
    Job.objects.filter(plugin_id="job_flaky").update(
        finished_at=timezone.now() - timedelta(seconds=120)
    )
    assert run("job_flaky", "flaky", project).state == JobState.FAILED
    assert breaker.state_of("job_flaky").status == breaker.OPEN


def test_running_commands_without_the_permission_is_denied_and_audited(project):
    enable(project, "job_shell")
    for name in ("shell_out", "via_service"):
        job = run("job_shell", name, project)
        assert job.state == JobState.FAILED
        assert "PermissionRefused: plugin 'job_shell' may not run" in job.error
        assert "'run_commands' permission" in job.error
    denials = AuditEvent.objects.filter(action=AuditAction.PERMISSION_DENIED, plugin_id="job_shell")
    assert denials.count() == 2


def test_reading_outside_the_project_root_is_refused(project):
    enable(project, "job_peek")
    job = run("job_peek", "peek", project)
    assert job.state == JobState.FAILED
    assert "OutsideProjectRoot" in job.error
    assert "'../../etc/passwd': it resolves outside the project root" in job.error
    assert AuditEvent.objects.filter(
        action=AuditAction.PERMISSION_DENIED, plugin_id="job_peek"
    ).exists()


def test_writing_needs_fs_write(project):
    enable(project, "job_peek")
    job = run("job_peek", "scribble", project)
    assert job.state == JobState.FAILED
    assert "needs the 'fs_write' permission" in job.error
    assert not (Path(project.root_path) / "notes.txt").exists()


def test_permitted_commands_run_in_the_project_root_with_a_timeout(project):
    enable(project, "job_tools")
    job = run("job_tools", "build", project)
    assert job.state == JobState.COMPLETED, job.error
    assert job.result == {"stdout": "hello", "timed_out": False}
    slow = run("job_tools", "build", project, sleep=5)
    assert slow.result == {"stdout": "", "timed_out": True}


def test_a_plugin_in_a_dependency_cycle_cannot_run_jobs(project):
    enable(project, "cycle_a", "cycle_b")
    with pytest.raises(JobRefused, match="dependency cycle: cycle_a -> cycle_b -> cycle_a"):
        submit("cycle_a", "anything", project=project)


def test_jobs_are_refused_for_unknown_names_and_other_projects(project, tmp_path):
    enable(project, "hello")
    with pytest.raises(JobRefused, match="has no job named 'nope'"):
        submit("hello", "nope", project=project)
    (tmp_path / "other").mkdir()
    other = register_project("other", tmp_path / "other")
    with pytest.raises(JobRefused, match="not enabled in project 'other'"):
        submit("hello", "say", project=other)


def test_jobs_of_a_worker_that_stopped_are_retried_then_failed_without_tripping_the_breaker(
    project, settings
):
    enable(project, "hello")
    settings.JUPITER_BREAKER_THRESHOLD = 1
    expired = timezone.now() - timedelta(seconds=1)
    lost_once = Job.objects.create(
        plugin_id="hello",
        name="say",
        project=project,
        timeout=10,
        state=JobState.RUNNING,
        runner="gone-host:1:abcd",
        lease_until=expired,
        attempts=1,
    )
    lost_twice = Job.objects.create(
        plugin_id="hello",
        name="say",
        project=project,
        timeout=10,
        state=JobState.RUNNING,
        runner="gone-host:2:abcd",
        lease_until=expired,
        attempts=2,
    )
    alive = Job.objects.create(
        plugin_id="hello",
        name="say",
        timeout=10,
        state=JobState.RUNNING,
        runner="other-host:1:abcd",
        lease_until=timezone.now() + timedelta(seconds=10),
    )
    assert reap_jobs() == (1, 1)
    lost_twice.refresh_from_db()
    assert (lost_twice.state, lost_twice.lost_worker) == (JobState.FAILED, True)
    assert lost_twice.error.startswith("its worker stopped")
    alive.refresh_from_db()
    assert alive.state == JobState.RUNNING
    assert executor().wait(str(lost_once.pk), WAIT)
    lost_once.refresh_from_db()
    assert (lost_once.state, lost_once.attempts) == (JobState.COMPLETED, 2)
    assert breaker.state_of("hello").status == breaker.CLOSED  # a lost worker is no plugin fault


def test_an_http_client_needs_network_outbound(project):
    from plugins_app.kernel.runtime import get_runtime
    from plugins_app.sdk.errors import PermissionRefused

    enable(project, "hello")
    services = get_runtime().bridge.service_provider.for_plugin(get_runtime().manifests["hello"])
    with pytest.raises(PermissionRefused, match="'network_outbound' permission"):
        services.get_http_client()
    assert AuditEvent.objects.filter(action=AuditAction.PERMISSION_DENIED, plugin_id="hello")
