"""Jobs in a real browser (SPEC J2, J5, D2): live progress over the WebSocket, cancel."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import Page, expect
from test_console import _shoot

from plugins_app.config.store import set_plugin_overrides
from plugins_app.kernel.runtime import boot
from plugins_app.models import Job, JobState, Project
from plugins_app.projects.service import register_project, set_plugin_enabled

pytestmark = pytest.mark.e2e

BUNDLED = Path(django_settings.BASE_DIR) / "plugins"
DEMO = Path(django_settings.BASE_DIR) / "examples" / "demo"
SLOW_PLUGIN = {
    "plugin.yaml": (
        "id: e2e_slow\nname: E2E slow\nversion: 1.0.0\ntype: tool\n"
        "description: A long, cooperative job to cancel.\n"
        "entrypoint: 'slow:register'\n"
    ),
    "slow.py": (
        "import time\n\n\n"
        "def crawl(job):\n"
        "    for step in range(600):\n"
        "        if job.is_cancelled():\n"
        "            return {'stopped_at': step}\n"
        "        job.progress(step / 6, f'step {step}')\n"
        "        time.sleep(0.1)\n"
        "    return {'stopped_at': None}\n\n\n"
        "def register(bridge):\n"
        "    def on_analyze(scan):\n"
        "        for n in range(1, 21):\n"
        "            bridge.report_progress(n, 20, f'part {n}')\n"
        "            time.sleep(0.05)\n"
        "        return {'parts': 20}\n\n"
        "    bridge.register_job('crawl', crawl, title='Crawl slowly')\n"
        "    bridge.register_hook('on_analyze', on_analyze)\n"
    ),
}


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Overrides the console tests' plugins: the bundled analysers and a slow job."""
    root = tmp_path_factory.mktemp("e2e-job-plugins")
    for plugin_id in ("code_analyzer", "legacy_counter"):
        shutil.copytree(BUNDLED / plugin_id, root / plugin_id)
    (root / "e2e_slow").mkdir()
    for name, text in SLOW_PLUGIN.items():
        (root / "e2e_slow" / name).write_text(text, encoding="utf-8")
    return root


def demo_project(user, tmp_path: Path, plugin_dir: Path, settings, plugin_ids) -> Project:
    """A copy of the demo project with ``plugin_ids`` enabled, before the server boots."""
    settings.JUPITER_PLUGIN_DIRS = [plugin_dir]
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root)
    boot()
    project = register_project("demo", str(root), actor=user)
    for plugin_id in plugin_ids:
        set_plugin_enabled(project, plugin_id, True)
    set_plugin_overrides(project, "code_analyzer", {"max_complexity": 4})
    return project


@pytest.fixture
def demo(user, tmp_path: Path, plugin_dir: Path, settings) -> Project:
    """The demo project with its plugins enabled, before the server starts and boots."""
    return demo_project(
        user, tmp_path, plugin_dir, settings, ("code_analyzer", "legacy_counter", "e2e_slow")
    )


def test_scan_streams_progress_then_results_appear(
    demo: Project, logged_in: Page, live_server_url: str
) -> None:
    page = logged_in
    frames: list[dict] = []
    page.on(
        "websocket",
        lambda ws: ws.on("framereceived", lambda payload: frames.append(json.loads(payload))),
    )
    page.goto(f"{live_server_url}/projects/demo/")
    expect(page.locator("[data-job-stream]")).to_have_attribute("data-ws-state", "open")
    page.evaluate(
        """() => {
          window.barValues = [];
          new MutationObserver(() => {
            const bar = document.querySelector('#project-current-job progress');
            if (bar) window.barValues.push(Number(bar.value));
          }).observe(document.getElementById('project-current-job'),
                     {subtree: true, childList: true, attributes: true});
        }"""
    )
    page.get_by_role("button", name="Scan", exact=True).click()
    panel = page.locator("#project-current-job .job-panel")
    expect(panel.locator("[data-job-state-label]")).to_have_text("Completed")
    expect(panel.locator("progress")).to_have_attribute("value", "100")
    expect(page.locator("[data-scan-files]")).to_have_text("6")

    progress = [f["progress"] for f in frames if f["type"] == "JOB_PROGRESS"]
    assert len(progress) >= 3 and progress == sorted(progress), progress
    assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))
    assert frames[-1]["type"] == "JOB_COMPLETED"
    bar_values = page.evaluate("window.barValues")
    assert any(0 < value < 100 for value in bar_values), bar_values
    assert bar_values[-1] == 100

    frames.clear()
    page.get_by_role("button", name="Analyse", exact=True).click()
    expect(page.locator("#analysis-code_analyzer")).to_contain_text("1 finding")
    # e2e_slow reports 20 parts over ~1 s: the bar moves within its share (66-83 %).
    within = [
        f["progress"]
        for f in frames
        if f["type"] == "JOB_PROGRESS" and f["message"].startswith("on_analyze of e2e_slow: part")
    ]
    assert len(set(within)) >= 3 and within == sorted(within), within
    assert within[0] >= 66 and within[-1] == 83, within
    expect(page.locator("#project-findings")).to_contain_text("status has complexity")
    expect(page.locator("#analysis-legacy_counter")).to_contain_text("most_common_extension")
    _shoot(page, "project-analysis")


def test_cancel_a_long_job_from_its_page(
    demo: Project, logged_in: Page, live_server_url: str
) -> None:
    page = logged_in
    page.goto(f"{live_server_url}/plugins/e2e_slow/")
    _shoot(page, "plugin-jobs")
    page.get_by_role("button", name="Run Crawl slowly").click()
    page.wait_for_url(f"{live_server_url}/jobs/*/")
    panel = page.locator(".job-panel")
    expect(panel.locator("[data-job-state-label]")).to_have_text("Running")
    expect(panel.locator("[data-job-message]")).to_contain_text("step")
    _shoot(page, "job-running")
    panel.get_by_role("button", name="Cancel").click()
    expect(panel.locator("[data-job-state-label]")).to_have_text("Cancelled", timeout=20_000)
    job = Job.objects.get(plugin_id="e2e_slow")
    assert job.state == JobState.CANCELLED
    assert job.result["stopped_at"] is not None
    page.goto(f"{live_server_url}/jobs/?state=cancelled")
    expect(page.locator(f"#job-row-{job.pk}")).to_contain_text("Cancelled")
    _shoot(page, "jobs")
