"""The bundled analysers in a real browser (issue 5): the demo project, scanned and analysed,
shows code_analyzer's findings, ai_helper's suggestions and legacy_counter's result; the bell
counts the finished jobs; staff turn a plugin's debug mode on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import Page, expect
from test_console import _shoot
from test_job_progress import demo_project

from plugins_app.models import Notification, PluginDebugMode, Project

pytestmark = pytest.mark.e2e

BUNDLED = Path(django_settings.BASE_DIR) / "plugins"
PLUGINS = ("ai_helper", "code_analyzer", "legacy_counter", "plugin_model")


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Overrides the console tests' plugins: copies of the bundled ones."""
    root = tmp_path_factory.mktemp("e2e-analyzers")
    for plugin_id in PLUGINS:
        shutil.copytree(BUNDLED / plugin_id, root / plugin_id)
    return root


@pytest.fixture
def demo(user, tmp_path: Path, plugin_dir: Path, settings) -> Project:
    project = demo_project(user, tmp_path, plugin_dir, settings, PLUGINS)
    user.is_staff = True
    user.save()
    return project


def test_analysis_shows_findings_suggestions_and_the_legacy_result(
    demo: Project, logged_in: Page, live_server_url: str
) -> None:
    page = logged_in
    page.goto(f"{live_server_url}/projects/demo/")
    expect(page.locator("[data-job-stream]")).to_have_attribute("data-ws-state", "open")
    page.get_by_role("button", name="Scan", exact=True).click()
    expect(page.locator("[data-scan-files]")).to_have_text("6")
    page.get_by_role("button", name="Analyse", exact=True).click()

    # The analysis lists each plugin's count; the findings section re-reads itself.
    expect(page.locator("#analysis-code_analyzer")).to_contain_text("1 finding")
    findings = page.locator("#project-findings")
    expect(findings).to_have_attribute("data-findings-total", "3")
    analyzer = findings.locator("tr.finding", has_text="code_analyzer")
    expect(analyzer).to_contain_text("status has complexity 7 (threshold 4)")
    expect(analyzer).to_contain_text("src/demo_app/inventory.py:35")
    expect(analyzer.locator(".badge")).to_have_text("medium")
    expect(page.locator('[data-chart="findings-by-plugin"] svg rect.bar')).to_have_count(2)
    findings.locator("select[name=plugin]").select_option("ai_helper")
    findings.get_by_role("button", name="Filter").click()
    expect(findings).to_have_attribute("data-findings-matching", "2")
    helper = findings.locator("tr.finding")
    expect(helper.first).to_contain_text("Split status(): complexity 7 > 4")
    expect(helper.first.locator(".badge")).to_have_text("medium")
    expect(helper.nth(1)).to_contain_text("Add tests for src/demo_app/report.py")
    expect(helper.nth(1).locator(".badge")).to_have_text("low")
    expect(page.locator("#analysis-legacy_counter")).to_contain_text("most_common_extension")
    expect(page.locator("#analysis-legacy_counter")).to_contain_text(".py")
    expect(page.locator('[data-chart="job-durations"] svg rect.bar')).to_have_count(2)
    _shoot(page, "analysis-suggestions")

    page.goto(f"{live_server_url}/projects/demo/graph/")
    expect(page.locator("svg[data-graph] g.node")).not_to_have_count(0)
    _shoot(page, "demo-import-graph")

    page.goto(f"{live_server_url}/projects/demo/")  # the bell is rendered with the page
    assert Notification.objects.filter(topic="jupiter.job.completed").count() == 2
    bell = page.locator("#notification-bell")
    expect(bell).to_have_attribute("data-unread", "2")
    bell.click()
    expect(page.locator(".notification.is-unread")).to_have_count(2)
    expect(page.locator(".notifications")).to_contain_text("Analyse project completed in demo")
    _shoot(page, "notifications")
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator("#notification-bell")).to_have_attribute("data-unread", "0")
    expect(page.locator(".notification.is-unread")).to_have_count(0)


def test_staff_turn_debug_mode_on_from_the_plugin_page(
    demo: Project, logged_in: Page, live_server_url: str
) -> None:
    page = logged_in
    page.goto(f"{live_server_url}/plugins/plugin_model/")
    card = page.locator("#plugin-extras")
    expect(card.locator("[data-debug-state]")).to_have_text("Off")
    card.get_by_role("button", name="Turn debug mode on").click()
    expect(page.locator("#plugin-extras [data-debug-state]")).to_have_text("On")
    assert PluginDebugMode.objects.get(plugin__plugin_id="plugin_model").enabled
    expect(page.get_by_role("link", name="Download problem report")).to_be_visible()
    _shoot(page, "plugin-support")
