"""Roles in a real browser (SPEC X4, issue 13): a viewer sees the project read-only; a
maintainer enables a plugin there but cannot edit its global settings."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from plugins_app.models import Project, ProjectRole
from plugins_app.projects.roles import grant
from plugins_app.projects.service import register_project

pytestmark = pytest.mark.e2e

SETTINGS_PLUGIN = (
    "id: e2e_settings\n"
    "name: E2E settings\n"
    "version: 1.0.0\n"
    "type: tool\n"
    "description: A plugin with settings, for the role tests.\n"
    "entrypoint: 'settings_probe:register'\n"
    "config_schema:\n"
    "  schema:\n"
    "    type: object\n"
    "    properties:\n"
    "      threshold: {type: integer, title: Threshold, default: 3}\n"
)


@pytest.fixture
def settings_plugin(plugin_dir: Path) -> Iterator[Path]:
    """A plugin with a settings form, present only for these tests (set up before the
    server forks, removed after it stopped)."""
    folder = plugin_dir / "e2e_settings"
    folder.mkdir()
    (folder / "plugin.yaml").write_text(SETTINGS_PLUGIN, encoding="utf-8")
    (folder / "settings_probe.py").write_text("def register(bridge):\n    pass\n")
    yield folder
    shutil.rmtree(folder)


def _project_with(user, role: ProjectRole, tmp_path: Path) -> Project:
    owner = get_user_model().objects.create_user("boss")
    root = tmp_path / "acme"
    root.mkdir()
    project = register_project("acme", str(root), actor=owner)
    grant(project, user, role)
    return project


def test_a_viewer_sees_the_project_read_only(
    settings_plugin: Path, user, tmp_path: Path, logged_in: Page, live_server_url: str
) -> None:
    _project_with(user, ProjectRole.VIEWER, tmp_path)
    page = logged_in
    page.goto(f"{live_server_url}/projects/acme/")
    expect(page.get_by_text("You can read this project")).to_be_visible()
    row = page.locator("#project-plugin-e2e_probe")
    expect(row).to_contain_text("Read-only")
    expect(page.get_by_role("button", name="Enable E2E probe in acme")).to_have_count(0)
    expect(page.get_by_role("button", name="Scan")).to_have_count(0)

    page.goto(f"{live_server_url}/projects/acme/plugins/e2e_settings/settings/")
    expect(page.get_by_label("Threshold")).to_be_disabled()
    expect(page.get_by_role("button", name="Save for acme")).to_have_count(0)
    expect(page.get_by_text("a maintainer of acme can change these settings")).to_be_visible()


def test_a_maintainer_enables_a_plugin_but_cannot_edit_global_settings(
    settings_plugin: Path, user, tmp_path: Path, logged_in: Page, live_server_url: str
) -> None:
    _project_with(user, ProjectRole.MAINTAINER, tmp_path)
    page = logged_in
    page.goto(f"{live_server_url}/projects/acme/")
    row = page.locator("#project-plugin-e2e_probe")
    row.get_by_role("button", name="Enable E2E probe in acme").click()
    expect(row.locator(".status")).to_have_text("Ready")
    expect(row.get_by_role("button", name="Disable E2E probe in acme")).to_be_visible()

    page.goto(f"{live_server_url}/projects/acme/plugins/e2e_settings/settings/")
    expect(page.get_by_role("button", name="Save for acme")).to_be_visible()

    page.goto(f"{live_server_url}/plugins/e2e_settings/")
    settings = page.locator("#settings")
    expect(settings.get_by_label("Threshold")).to_be_disabled()
    expect(settings.get_by_text("an administrator can change these settings")).to_be_visible()
    expect(settings.get_by_role("button", name="Save settings")).to_have_count(0)
    expect(page.get_by_role("link", name="Export settings")).to_have_count(0)
