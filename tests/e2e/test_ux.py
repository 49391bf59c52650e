"""The rough edges of issue 15 in a real browser: the Notifications page at 1280 and 400 px,
an update that adds permissions stopping for consent (and the permission refused until a
maintainer accepts), uninstall asking first, a required setting, a dependency prompt.

Screenshots go to ``JUPITER_SCREENSHOTS`` when set (``docs/screenshots`` to refresh the
committed ones: ``JUPITER_SCREENSHOTS=docs/screenshots pytest tests/e2e/test_ux.py``), else
to a temporary folder.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Page, expect

from plugins_app.models import InstalledPlugin, Notification, NotificationLevel, Project
from plugins_app.projects.service import register_project
from plugins_app.sdk.errors import PermissionRefused
from plugins_app.services.provider import ServiceProvider
from tests.plugin_factory import signed_plugin, tar_of

pytestmark = pytest.mark.e2e
SHOTS = Path(os.environ.get("JUPITER_SCREENSHOTS") or tempfile.gettempdir())
WIDTHS = (1280, 400)

PLUGINS = {
    "greeter": (
        "id: greeter\nname: Greeter\nversion: 1.0.0\ntype: tool\n"
        "entrypoint: 'greeter:register'\n"
        "config_schema:\n  version: 1\n  schema:\n    type: object\n    required: [greeting]\n"
        "    properties:\n      greeting: {type: string, title: Greeting, minLength: 1,"
        " default: hello}\n      contact: {type: string, title: Contact, format: email}\n"
    ),
    "base_tool": "id: base_tool\nname: Base tool\nversion: 1.0.0\ntype: tool\n"
    "entrypoint: 'base_tool:register'\n",
    "needs_base": "id: needs_base\nname: Needs base\nversion: 1.0.0\ntype: tool\n"
    "entrypoint: 'needs_base:register'\ndependencies:\n  - {id: base_tool}\n",
}


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"ux-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ux-plugins")
    for plugin_id, manifest in PLUGINS.items():
        (root / plugin_id).mkdir()
        (root / plugin_id / "plugin.yaml").write_text(manifest, encoding="utf-8")
        (root / plugin_id / f"{plugin_id}.py").write_text("def register(bridge):\n    pass\n")
    return root


@pytest.fixture
def project(staff, tmp_path: Path) -> Project:
    (tmp_path / "acme").mkdir()
    return register_project("acme", tmp_path / "acme", actor=staff)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_notifications_page_is_a_readable_list(
    width: int, staff, logged_in: Page, live_server_url: str
) -> None:
    for n in range(12):
        Notification.objects.create(
            topic="jupiter.job.completed",
            title=f"Analyse project completed in acme ({n})",
            body="12 findings from 3 plugins; the longest line of the report is here " * 2,
            level=NotificationLevel.SUCCESS if n % 3 else NotificationLevel.ERROR,
            link="/jobs/",
        )
    page = logged_in
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server_url}/notifications/")
    items = page.locator("ul.notifications > li.notification", has_text="Analyse project")
    expect(items).to_have_count(12)
    bar = page.locator("header.topbar").bounding_box()
    assert bar is not None
    assert page.locator("ul.notifications").evaluate("e => getComputedStyle(e).position") == (
        "static"
    )
    for index in (0, 11):
        item = items.nth(index)
        item.scroll_into_view_if_needed()
        box = item.bounding_box()
        assert box is not None and box["width"] > width * 0.6, box  # not one letter per line
        title = item.locator(".notification-main a").bounding_box()
        assert title is not None and title["width"] > 150, title
    page.evaluate("window.scrollTo(0, 0)")
    first = items.nth(0).bounding_box()
    assert first is not None and first["y"] >= bar["y"] + bar["height"], (first, bar)
    unread = page.locator("ul.notifications > li.is-unread", has_text="Analyse project")
    items.nth(11).get_by_role("button", name="Read").click()  # reachable and clickable
    expect(unread).to_have_count(11)
    if width == 1280:
        page.set_viewport_size({"width": 1280, "height": 900})
        shoot(page, "notifications")


def _upload(page: Page, base: str, archive: Path, *, label: str = "Plugin archive") -> None:
    page.get_by_label(label).set_input_files(str(archive))
    page.get_by_role("button", name="Review").first.click()


def test_an_update_adding_permissions_stops_for_consent(
    project: Project, logged_in: Page, live_server_url: str, tmp_path: Path
) -> None:
    page, key = logged_in, Ed25519PrivateKey.generate()
    v1 = signed_plugin(tmp_path / "v1", "writer", key, extra_yaml="permissions: [fs_read]\n")
    v2 = signed_plugin(
        tmp_path / "v2",
        "writer",
        key,
        version="2.0.0",
        extra_yaml="permissions: [fs_read, fs_write]\n"
        "changelog:\n  - {version: 2.0.0, changes: [Writes a report file]}\n",
    )
    page.goto(f"{live_server_url}/catalogue/")
    _upload(page, live_server_url, tar_of(v1, tmp_path / "writer-1.tar.gz"))
    page.get_by_role("button", name="Install", exact=True).click()
    page.get_by_role("button", name="Enable Writer in acme").click()
    expect(page.locator("#plugin-status-writer .status")).to_have_text("Ready")

    page.get_by_label("Update from an archive").set_input_files(
        str(tar_of(v2, tmp_path / "writer-2.tar.gz"))
    )
    page.get_by_role("button", name="Review update").click()
    expect(page.get_by_role("heading", name="Update Writer?")).to_be_visible()
    diff = page.locator("#update-changes")
    expect(diff).to_contain_text("1.0.0 → 2.0.0")
    expect(diff).to_contain_text("+ fs_write")
    expect(diff).to_contain_text("Writes a report file")
    shoot(page, "update-review")
    page.get_by_role("button", name="Update to 2.0.0").click()  # consent not ticked: blocked
    expect(page.get_by_role("heading", name="Update Writer?")).to_be_visible()
    assert InstalledPlugin.objects.get(plugin_id="writer").version == "1.0.0"

    page.get_by_label("I accept the new permissions").check()
    page.get_by_role("button", name="Update to 2.0.0").click()
    page.wait_for_url(f"{live_server_url}/plugins/writer/")
    expect(page.get_by_role("status").first).to_contain_text("stay refused in acme")
    writer = InstalledPlugin.objects.get(plugin_id="writer")
    assert writer.version == "2.0.0"
    manifest = writer.typed_manifest
    files = ServiceProvider().for_plugin(manifest).get_project_manager().files("acme", manifest)
    with pytest.raises(PermissionRefused):
        files.write_text("report.txt", "x")

    page.goto(f"{live_server_url}/projects/acme/")
    consent = page.locator("#consent-writer")
    expect(consent).to_contain_text("+ fs_write")
    shoot(page, "project-consent")
    consent.get_by_role("button", name="Accept for acme").click()
    expect(page.get_by_role("status").first).to_contain_text("writer may now use fs_write")
    expect(page.locator("#consent-writer")).to_have_count(0)
    files = ServiceProvider().for_plugin(manifest).get_project_manager().files("acme", manifest)
    assert files.write_text("report.txt", "x").read_text() == "x"


def test_uninstall_asks_first(
    project: Project, logged_in: Page, live_server_url: str, tmp_path: Path
) -> None:
    page, key = logged_in, Ed25519PrivateKey.generate()
    folder = signed_plugin(tmp_path / "src", "leaver", key)
    page.goto(f"{live_server_url}/catalogue/")
    _upload(page, live_server_url, tar_of(folder, tmp_path / "leaver.tar.gz"))
    page.get_by_role("button", name="Install", exact=True).click()
    page.get_by_role("link", name="Uninstall…").click()
    expect(page.get_by_role("heading", name="Uninstall Leaver?")).to_be_visible()
    shoot(page, "uninstall-confirm")
    page.get_by_role("link", name="Cancel").click()
    assert InstalledPlugin.objects.filter(plugin_id="leaver").exists()
    page.get_by_role("link", name="Uninstall…").click()
    page.get_by_role("button", name="Uninstall Leaver").click()
    page.wait_for_url(f"{live_server_url}/plugins/")
    assert not InstalledPlugin.objects.filter(plugin_id="leaver").exists()


def test_a_required_setting_cannot_be_emptied(
    project: Project, logged_in: Page, live_server_url: str
) -> None:
    page = logged_in
    page.goto(f"{live_server_url}/projects/acme/")
    page.get_by_role("button", name="Enable Greeter in acme").click()
    page.goto(f"{live_server_url}/plugins/greeter/")
    form = page.locator("#settings-greeter form.settings-form")
    form.locator("#cfg-greeting").fill("")
    form.locator("#cfg-contact").fill("not-an-email")
    form.evaluate("f => f.setAttribute('novalidate', '')")  # the server's answer, not the browser's
    form.get_by_role("button", name="Save settings").click()
    expect(page.locator("#cfg-greeting-error")).to_have_text("This field is required.")
    expect(page.locator("#cfg-contact-error")).to_contain_text("Enter a valid email address")
    expect(page.locator("#settings-greeter")).not_to_contain_text("Settings saved.")
    shoot(page, "settings-required")

    form = page.locator("#settings-greeter form.settings-form")
    form.locator("#cfg-greeting").fill("bonjour")
    form.locator("#cfg-contact").fill("ada@example.org")
    form.get_by_role("button", name="Save settings").click()
    expect(page.locator("#settings-greeter")).to_contain_text("Settings saved.")
    panel = page.locator("#plugin-control-panel")
    expect(panel).to_contain_text("revision 1,")  # reloaded by the save, not stale
    saved = panel.locator("time.relative-time")
    expect(saved).to_have_text(re.compile(r"^\d+ s ago$"))
    first = saved.inner_text()
    expect(saved).not_to_have_text(first, timeout=4000)  # the time moves by itself


def test_enabling_offers_to_enable_a_dependency(
    project: Project, logged_in: Page, live_server_url: str
) -> None:
    page = logged_in
    page.goto(f"{live_server_url}/projects/acme/")
    page.get_by_role("button", name="Enable Needs base in acme").click()
    prompt = page.locator("#dependency-prompt-needs_base")
    expect(prompt).to_contain_text("Needs base needs Base tool, not enabled in acme")
    shoot(page, "dependency-prompt")
    prompt.get_by_role("button", name="Enable Base tool and Needs base").click()
    expect(page.locator("#project-plugin-needs_base .status")).to_have_text("Ready")
    expect(page.locator("#project-plugin-base_tool .status")).to_have_text("Ready")


def test_back_after_a_toggle_shows_the_true_state(
    project: Project, logged_in: Page, live_server_url: str
) -> None:
    page = logged_in
    page.goto(f"{live_server_url}/projects/acme/")
    page.get_by_role("button", name="Enable Base tool in acme").click()
    expect(page.get_by_role("button", name="Disable Base tool in acme")).to_be_visible()
    page.goto(f"{live_server_url}/jobs/")
    page.go_back()
    expect(page.get_by_role("button", name="Disable Base tool in acme")).to_be_visible()
    page.reload()
    expect(page.get_by_role("button", name="Disable Base tool in acme")).to_be_visible()


def test_a_job_end_shows_a_toast(project: Project, logged_in: Page, live_server_url: str) -> None:
    page = logged_in
    page.goto(f"{live_server_url}/projects/acme/")
    page.get_by_role("button", name="Scan", exact=True).click()
    toast = page.locator("#jupiter-toasts .toast")
    expect(toast).to_contain_text("completed in acme", timeout=30_000)  # event or 15 s poll
    expect(toast.get_by_role("link")).to_have_attribute("href", re.compile(r"^/jobs/"))
    toast.get_by_role("button", name="Dismiss").click()
    expect(toast).to_have_count(0)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_plugin_page_section_index_stays_and_jumps(
    width: int, project: Project, logged_in: Page, live_server_url: str
) -> None:
    page = logged_in
    page.set_viewport_size({"width": width, "height": 700})
    page.goto(f"{live_server_url}/plugins/greeter/")
    index = page.get_by_role("navigation", name="Sections of this page")
    expect(index.get_by_role("link")).to_have_text(
        [
            "Status",
            "Settings",
            "Logs",
            "Overview",
            "Permissions",
            "Projects",
            "Jobs",
            "Runtime",
            "Processes",
            "Debugging",
            "Trust and updates",
            "Dependencies",
        ]
    )
    for target in index.get_by_role("link").evaluate_all("links => links.map(a => a.hash)"):
        expect(page.locator(target)).to_have_count(1)  # every link has its section
    if width == 400:  # one row that scrolls sideways, not a block of wrapped links
        box = index.bounding_box()
        assert box is not None and box["height"] < 60, box
        assert index.evaluate("e => e.scrollWidth > e.clientWidth")
    for name, section in (
        ("Dependencies", "#plugin-dependencies"),
        ("Projects", "#plugin-projects"),
    ):
        link = index.get_by_role("link", name=name, exact=True)
        link.scroll_into_view_if_needed()
        link.click()
        expect(page).to_have_url(re.compile(f"{section}$"))
        expect(page.locator(section)).to_be_in_viewport()
        box = index.bounding_box()
        assert box is not None and 0 <= box["y"] < 5, box  # still at the top of the window
        heading = page.locator(section).locator("h2").bounding_box()
        assert heading is not None and heading["y"] >= box["y"] + box["height"] - 1, heading
    page.mouse.wheel(0, 3000)
    page.wait_for_timeout(200)
    assert page.evaluate("window.scrollY") > 500
    expect(index).to_be_in_viewport()
    if width == 1280:
        shoot(page, "plugin-section-index")
