"""The console in a real browser: login, plugin statuses, HTMX toggles, inline form errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from plugins_app.models import Project
from plugins_app.projects.projectfile import read_project_file
from plugins_app.projects.service import project_file_path, register_project

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path("/tmp")


def _mark_document(page: Page) -> None:
    """Tag the live document: the tag survives HTMX swaps and is gone after a full load."""
    page.evaluate("window.jupiterNoReload = true")


def _still_same_document(page: Page) -> bool:
    return page.evaluate("window.jupiterNoReload === true")


def _shoot(page: Page, name: str) -> None:
    for width in (1280, 400):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / f"jupiter-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.fixture
def project(user, tmp_path: Path) -> Project:
    root = tmp_path / "acme"
    root.mkdir()
    return register_project("acme", str(root), actor=user)


def test_login_rejects_a_wrong_password(page: Page, live_server_url: str, user) -> None:
    page.goto(f"{live_server_url}/projects/")
    page.wait_for_url(f"{live_server_url}/login/?next=/projects/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("enter a correct username and password")
    _shoot(page, "login")


def test_plugins_page_lists_plugins_with_statuses(logged_in: Page, project: Project) -> None:
    page = logged_in
    page.reload()
    expect(page.get_by_role("heading", name="Jupiter core")).to_be_visible()
    probe = page.locator("#plugin-e2e_probe")
    expect(probe.locator(".status")).to_have_text("Disabled")
    expect(probe.locator(".status-reason")).to_have_text("Not enabled for any project")
    expect(probe).to_contain_text("Dev / Unsigned")
    broken = page.locator("#plugin-e2e_broken")
    expect(broken.locator(".status")).to_have_text("Error")
    expect(broken.locator(".status-reason")).to_contain_text("invalid plugin.yaml")
    expect(page.locator("#category-system")).to_be_visible()
    _shoot(page, "plugins")

    page.get_by_role("link", name="E2E probe").click()
    expect(page.get_by_role("heading", name="Permissions")).to_be_visible()
    expect(page.get_by_text("Read files inside the project's root directory")).to_be_visible()
    _shoot(page, "plugin-detail")


def test_enable_plugin_in_project_swaps_row_and_writes_file(
    logged_in: Page, live_server_url: str, project: Project
) -> None:
    page = logged_in
    page.goto(f"{live_server_url}/projects/acme/")
    row = page.locator("#project-plugin-e2e_probe")
    expect(row.locator(".status")).to_have_text("Disabled")
    _mark_document(page)

    row.get_by_role("button", name="Enable E2E probe in acme").click()

    expect(row.locator(".status")).to_have_text("Ready")
    expect(row.get_by_role("button", name="Disable E2E probe in acme")).to_be_visible()
    assert _still_same_document(page), "the row must be swapped by HTMX, not a page load"
    assert read_project_file(project_file_path(project)).plugins["e2e_probe"].enabled
    _shoot(page, "project")

    page.reload()
    assert not _still_same_document(page)
    expect(row.locator(".status")).to_have_text("Ready")
    expect(row.get_by_role("button", name="Disable E2E probe in acme")).to_be_visible()


@pytest.fixture
def staff_user(user):
    """Registering a project administers the installation: staff only (SPEC X4)."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def test_register_project_with_bad_path_shows_inline_error(
    staff_user, logged_in: Page, live_server_url: str, tmp_path: Path
) -> None:
    page = logged_in
    page.get_by_role("link", name="Projects").click()
    _mark_document(page)
    page.get_by_label("Name").fill("beta")
    page.get_by_label("Root path").fill(str(tmp_path / "no-such-dir"))
    page.get_by_role("button", name="Register").click()

    expect(page.locator(".field-error")).to_contain_text("does not exist")
    assert _still_same_document(page), "errors come back as an HTMX swap of the form"
    expect(page.get_by_label("Root path")).to_have_value(str(tmp_path / "no-such-dir"))
    _shoot(page, "project-form-error")

    page.get_by_label("Root path").fill(str(tmp_path))
    page.get_by_role("button", name="Register").click()
    page.wait_for_url(f"{live_server_url}/projects/beta/")
    expect(page.get_by_role("heading", name="beta")).to_be_visible()


def test_enable_from_plugin_page_updates_status_block(
    logged_in: Page, live_server_url: str, project: Project
) -> None:
    page = logged_in
    page.goto(f"{live_server_url}/plugins/e2e_probe/")
    _mark_document(page)
    page.get_by_role("button", name="Enable E2E probe in acme").click()

    expect(page.locator("#plugin-status-e2e_probe .status")).to_have_text("Ready")
    expect(page.locator("#plugin-project-acme")).to_contain_text("Enabled")
    assert _still_same_document(page)


def test_hand_edits_are_shown_then_imported_on_a_click(
    logged_in: Page, live_server_url: str, project: Project
) -> None:
    page = logged_in
    edited = "plugins:\n  e2e_probe: {enabled: true}\n"
    project_file_path(project).write_text(edited, encoding="utf-8")
    page.goto(f"{live_server_url}/projects/acme/")
    row = page.locator("#project-plugin-e2e_probe")
    expect(page.get_by_text("Edited by hand since Jupiter last read it")).to_be_visible()
    expect(row.locator(".status")).to_have_text("Disabled")

    page.get_by_role("button", name="Import hand edits").click()

    expect(page.get_by_text("Hand edits were imported just now.")).to_be_visible()
    expect(page.get_by_text("In sync with the console.")).to_be_visible()
    expect(row.locator(".status")).to_have_text("Ready")
    expect(row.get_by_role("button", name="Disable E2E probe in acme")).to_be_visible()
    _shoot(page, "project-imported")


def test_hand_edit_during_a_change_shows_the_conflict_banner(
    logged_in: Page, live_server_url: str, project: Project
) -> None:
    page = logged_in
    page.goto(f"{live_server_url}/projects/acme/")
    edited = "plugins:\n  e2e_sync: {enabled: true}\n"
    project_file_path(project).write_text(edited, encoding="utf-8")

    page.get_by_role("button", name="Enable E2E probe in acme").click()
    banner = page.locator("#project-conflict .alert")
    expect(banner).to_contain_text("acme.jupiter.yaml was edited by hand")
    assert project_file_path(project).read_text(encoding="utf-8") == edited
    _shoot(page, "conflict")

    page.get_by_role("button", name="Keep the console's version").click()
    expect(banner).to_have_count(0)
    expect(page.get_by_text("In sync with the console.")).to_be_visible()
    assert "e2e_sync" not in read_project_file(project_file_path(project)).plugins
