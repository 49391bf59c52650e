"""Installing a signed plugin and confirming a Meeting plan, in a real browser (X2, MK1, MT1)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Page, expect

from plugins_app.base.keys import public_key_text
from plugins_app.models import AuditAction, AuditEvent, KeyPurpose, Project, TrustedKey
from plugins_app.projects.service import register_project
from tests.e2e.test_console import _shoot
from tests.plugin_factory import signed_plugin, tar_of
from tests.test_meeting import ANNOUNCE, make_plan

pytestmark = pytest.mark.e2e
BUNDLED = Path(__file__).resolve().parents[2] / "plugins"


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Only the Meeting adapter: installed plugins come from the console in these tests."""
    root = tmp_path_factory.mktemp("e2e-trust-plugins")
    shutil.copytree(BUNDLED / "meeting_adapter", root / "meeting_adapter")
    return root


@pytest.fixture
def project(staff, tmp_path: Path) -> Project:
    (tmp_path / "acme").mkdir()
    return register_project("acme", tmp_path / "acme", actor=staff)


def test_install_a_signed_plugin_from_an_archive(
    project: Project, logged_in: Page, live_server_url: str, tmp_path: Path
) -> None:
    page = logged_in
    key = Ed25519PrivateKey.generate()
    TrustedKey.objects.create(name="ACME plugins", public_key=public_key_text(key.public_key()))
    folder = signed_plugin(
        tmp_path / "src",
        "word_counter",
        key,
        extra_yaml="description: Counts words in text files.\npermissions: [fs_read]\n",
    )
    archive = tar_of(folder, tmp_path / "word_counter-1.0.0.tar.gz")

    page.get_by_role("link", name="Catalogue").click()
    page.get_by_label("Plugin archive").set_input_files(str(archive))
    _shoot(page, "catalogue")
    page.get_by_role("button", name="Review").first.click()

    expect(page.get_by_role("heading", name="Install Word Counter?")).to_be_visible()
    expect(page.get_by_text("Read files inside the project's root directory")).to_be_visible()
    expect(page.locator(".page-head .trust-verified")).to_have_text("Verified")
    _shoot(page, "install-review")
    page.get_by_role("button", name="Install", exact=True).click()

    page.wait_for_url(f"{live_server_url}/plugins/word_counter/")
    expect(page.get_by_role("status").first).to_contain_text("Word Counter 1.0.0 installed")
    page.get_by_role("button", name="Enable Word Counter in acme").click()
    expect(page.locator("#plugin-status-word_counter .status")).to_have_text("Ready")
    expect(page.locator(".page-head .trust-verified")).to_have_text("Verified")
    expect(page.locator("#plugin-trust")).to_contain_text("ACME plugins")
    _shoot(page, "installed-plugin")

    page.goto(f"{live_server_url}/plugins/")
    row = page.locator("#plugin-word_counter")
    expect(row.locator(".status")).to_have_text("Ready")
    expect(row.locator(".trust-verified")).to_have_text("Verified")


def test_confirm_a_meeting_plan_and_find_it_in_the_audit_trail(
    project: Project, logged_in: Page, live_server_url: str
) -> None:
    page = logged_in
    key = Ed25519PrivateKey.generate()
    TrustedKey.objects.create(
        name="Meeting", public_key=public_key_text(key.public_key()), purpose=KeyPurpose.MEETING
    )
    page.goto(f"{live_server_url}/projects/acme/")
    page.get_by_role("button", name="Enable Meeting adapter in acme").click()
    expect(page.locator("#project-plugin-meeting_adapter .status")).to_have_text("Ready")

    response = page.request.post(
        f"{live_server_url}/meeting/plans",
        data=make_plan(key, ANNOUNCE),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 201, response.text()
    confirm_url = response.json()["confirm_url"]

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Meeting").click()
    page.get_by_role("link", name="test plan").click()
    page.wait_for_url(f"{live_server_url}{confirm_url}")
    expect(page.get_by_role("heading", name="Dry run")).to_be_visible()
    params = page.locator(".plan-actions dl.readable")
    expect(params.locator("dt")).to_have_text("Message")
    expect(params.locator("dd")).to_have_text("standup in 5")
    _shoot(page, "meeting-preview")
    page.get_by_role("button", name="Confirm and run").click()

    expect(page.locator(".page-head .status")).to_have_text("Executed")
    expect(page.get_by_text("Executed by e2e")).to_be_visible()
    assert AuditEvent.objects.filter(
        action=AuditAction.REMOTE_ACTION, actor__username="e2e", detail__endswith="executed"
    ).exists()

    page.get_by_role("link", name="See the audit trail").click()
    entry = page.locator(".audit-table tbody tr").first
    expect(entry).to_contain_text("Remote action")
    expect(entry).to_contain_text("e2e")
    expect(entry).to_contain_text("executed")
    _shoot(page, "audit")
