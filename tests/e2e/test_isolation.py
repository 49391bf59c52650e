"""Isolation in a real browser (SPEC X3): safe mode and recovery, a plugin crashing at every
start, a CPU-bound job cancelled from its page.

The console is Daphne in a forked process; the test process plays the worker (it runs the
jobs, and here also follows the change feed, as ``jupiter_worker`` does).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import Page, expect
from test_console import _shoot

from plugins_app.kernel.feed import Follower
from plugins_app.kernel.runtime import boot, get_runtime
from plugins_app.models import Job, JobState, Project
from plugins_app.projects.service import register_project, set_plugin_enabled

pytestmark = pytest.mark.e2e

PASSWORD = "pw-e2e-123"
GRACE = 1.0
PLUGINS = {
    "e2e_steady": (
        "permissions: [fs_read]\n",
        "def register(bridge):\n    bridge.register_job('noop', lambda job: 'ok')\n",
    ),
    "e2e_dies": ("", "import os\nos._exit(3)\n\n\ndef register(bridge):\n    pass\n"),
    "e2e_burn": (
        "",
        "def burn(job):\n"
        "    while True:  # CPU-bound, never asks job.is_cancelled()\n"
        "        pass\n\n\n"
        "def register(bridge):\n"
        "    bridge.register_job('burn', burn, title='Burn CPU')\n",
    ),
}


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Overrides the console tests' plugins with these."""
    root = tmp_path_factory.mktemp("e2e-isolation-plugins")
    for plugin_id, (extra, code) in PLUGINS.items():
        (root / plugin_id).mkdir()
        (root / plugin_id / "plugin.yaml").write_text(
            f"id: {plugin_id}\nname: {plugin_id}\nversion: 1.0.0\ntype: tool\n"
            f"entrypoint: 'main:register'\n{extra}",
            encoding="utf-8",
        )
        (root / plugin_id / "main.py").write_text(code, encoding="utf-8")
    return root


@pytest.fixture
def user(transactional_db: None):
    """Staff: the one who turns safe mode on and off."""
    return get_user_model().objects.create_user("e2e", password=PASSWORD, is_staff=True)


@pytest.fixture
def acme(user, tmp_path: Path, plugin_dir: Path, settings) -> Project:
    """A project with e2e_steady and e2e_burn enabled, before the server starts."""
    settings.JUPITER_PLUGIN_DIRS = [plugin_dir]
    settings.JUPITER_JOB_CANCEL_GRACE = GRACE
    (tmp_path / "acme").mkdir()
    boot()
    project = register_project("acme", str(tmp_path / "acme"), actor=user)
    for plugin_id in ("e2e_steady", "e2e_burn"):
        set_plugin_enabled(project, plugin_id, True)
    return project


@pytest.fixture
def worker_follows(live_server_url: str) -> Iterator[Follower]:
    """This process follows the feed, as a worker does, so safe mode reaches it too."""
    follower = Follower(get_runtime())
    follower.follow()
    yield follower
    follower.stop()


def test_safe_mode_banner_and_recovery(
    acme: Project, logged_in: Page, live_server_url: str, worker_follows: Follower
) -> None:
    page = logged_in
    supervisor = get_runtime().supervisor
    assert supervisor.process("e2e_steady") is not None  # the worker runs its process
    page.get_by_label("Why").fill("e2e_steady misbehaves")
    page.get_by_role("button", name="Start safe mode").click()
    banner = page.locator("#safe-mode-banner")
    expect(banner).to_contain_text("Safe mode: no plugin is loaded")
    expect(banner).to_contain_text("e2e_steady misbehaves")
    _shoot(page, "safe-mode")

    page.goto(f"{live_server_url}/plugins/e2e_steady/")
    expect(page.locator("#safe-mode-banner")).to_be_visible()  # on every page
    status = page.locator("#plugin-status-e2e_steady")
    expect(status.locator(".status")).to_have_text("Disabled")
    expect(status.locator(".status-reason")).to_contain_text("safe mode")
    deadline = time.monotonic() + 10
    while supervisor.process("e2e_steady") is not None:  # the worker followed within a second
        assert time.monotonic() < deadline, "the worker kept its plugin process"
        time.sleep(0.1)
    expect(page.locator("#plugin-processes")).to_contain_text("Stopped")

    page.get_by_role("button", name="Leave safe mode").click()
    page.wait_for_url(f"{live_server_url}/plugins/e2e_steady/")
    expect(page.locator("#safe-mode-banner")).to_have_count(0)
    expect(status.locator(".status")).to_have_text("Ready")
    deadline = time.monotonic() + 10
    bridge = get_runtime().bridge
    while bridge.registration("e2e_steady") is None:
        assert time.monotonic() < deadline, "the worker did not load the plugin again"
        time.sleep(0.1)
    # it registered before: loaded again without a process, which starts on first use
    assert supervisor.process("e2e_steady") is None


def test_a_plugin_crashing_at_every_start_shows_error_and_its_crashes(
    acme: Project, logged_in: Page, live_server_url: str
) -> None:
    page = logged_in
    page.goto(f"{live_server_url}/plugins/e2e_dies/")
    page.locator("#plugin-project-acme").get_by_role("button", name="Enable").click()
    status = page.locator("#plugin-status-e2e_dies")
    expect(status.locator(".status")).to_have_text("Error")
    expect(status.locator(".status-reason")).to_have_text("its process exited with status 3")
    processes = page.locator("#plugin-processes")  # re-read every few seconds
    expect(processes.locator("[data-process-trouble]")).to_contain_text(
        re.compile(r"\b1 crash, 0 kills")
    )
    expect(processes.locator('[data-process-event="crashed"]')).to_have_count(1)
    expect(processes).to_contain_text("its process exited with status 3")
    _shoot(page, "plugin-crashed")


def test_a_cpu_bound_job_cancelled_from_its_page_ends_cancelled_within_the_grace(
    acme: Project, logged_in: Page, live_server_url: str
) -> None:
    page = logged_in
    page.goto(f"{live_server_url}/plugins/e2e_burn/")
    page.get_by_role("button", name="Run Burn CPU").click()
    page.wait_for_url(f"{live_server_url}/jobs/*/")
    panel = page.locator(".job-panel")
    expect(panel.locator("[data-job-state-label]")).to_have_text("Running")
    time.sleep(0.5)  # it burns
    clicked = timezone.now()
    panel.get_by_role("button", name="Cancel").click()
    expect(panel.locator("[data-job-state-label]")).to_have_text("Cancelled", timeout=15_000)
    job = Job.objects.get(plugin_id="e2e_burn")
    assert job.state == JobState.CANCELLED
    assert f"did not stop within {GRACE:g} s" in job.error
    assert job.finished_at is not None
    assert job.finished_at - clicked <= timedelta(seconds=GRACE + 1), job.finished_at - clicked
