"""Plugin UI in sandboxed frames, in a real browser (issue 12; SPEC U5-U7, X6).

A hostile plugin's panels each try one way out of their frame (htmx and fetch POSTs to the
console, other requests, a form, cookies, the parent page, top navigation, scripts from the
console or another plugin, bridge misuse, a meta refresh): every attempt fails, the console
page is untouched and the database says nothing happened. Then the legitimate path: the
bundled plugin_model's JavaScript panel calls its API route through ``jupiterBridge``,
receives live events and draws its chart, in a frame that fits a 400 px wide screen.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from plugins_app.authoring.scaffold import ScaffoldOptions, scaffold
from plugins_app.models import (
    AuditAction,
    AuditEvent,
    MeetingPlan,
    MeetingPlanStatus,
    Project,
    ProjectPlugin,
)
from plugins_app.projects.service import register_project
from tests.e2e.conftest import PLUGINS
from tests.e2e.test_console import _shoot

pytestmark = pytest.mark.e2e

HOSTILE = Path(__file__).parent.parent / "fixtures" / "plugins" / "ui" / "hostile_panel"
ATTACKS = {
    "htmx": {"htmx-loaded", "fetch-post", "fetch-relative", "svg-onload"},
    "network": {"xhr", "beacon", "websocket", "image-get"},
    "form": {"form-submit"},
    "cookie": {"cookie-read", "cookie-write", "local-storage"},
    "parent": {"parent-read", "parent-write", "parent-location-read", "parent-message"},
    "top": {"top-location", "window-open"},
    "scripts": {
        "inline-script",
        "eval",
        "import-host-script",
        "import-other-plugin",
        "import-api-route",
        "script-host",
        "script-other-plugin",
        "import-data-url",
    },
    "bridge": {
        "route-traversal",
        "other-plugin-route",
        "navigate-away",
        "forged-plugin-id",
        "unknown-message",
    },
}


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """plugin_model (bundled), the hostile plugin and the e2e probe (a toggle target)."""
    root = tmp_path_factory.mktemp("ui-plugins")
    shutil.copytree(Path(settings.BASE_DIR) / "plugins" / "plugin_model", root / "plugin_model")
    shutil.copytree(HOSTILE, root / "hostile_panel")
    shutil.copytree(HOSTILE.parent / "orig_ui", root / "orig_ui")
    (root / "e2e_probe").mkdir()
    for name, text in PLUGINS["e2e_probe"].items():
        (root / "e2e_probe" / name).write_text(text, encoding="utf-8")
    scaffold(ScaffoldOptions("made_ui", with_ui=True), root)
    return root


@pytest.fixture
def staff_user(user):
    """Staff may confirm Meeting plans and toggle anything: the user a panel would act as."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def project(user, tmp_path: Path) -> Project:
    root = tmp_path / "acme"
    root.mkdir()
    return register_project("acme", str(root), actor=user)


@pytest.fixture
def hostile_page(browser, live_server_url: str) -> Iterator[Page]:
    """A page whose console messages are kept, not failed on: the attacks make the
    browser report every violation they cause."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.messages = []  # type: ignore[attr-defined]
    page.on("console", lambda msg: page.messages.append(msg.text))  # type: ignore[attr-defined]
    yield page
    context.close()


def _log_in(page: Page, base: str, username: str) -> None:
    from tests.e2e.conftest import PASSWORD

    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/plugins/")


def _enable(page: Page, base: str, name: str, plugin_id: str) -> None:
    """Enable through the console, so the server process loads the plugin."""
    page.goto(f"{base}/projects/acme/")
    page.get_by_role("button", name=f"Enable {name} in acme").click()
    expect(page.locator(f"#project-plugin-{plugin_id} .status")).to_have_text("Ready")


def _frame(page: Page, plugin_id: str, item: str):
    return page.frame_locator(f'[id="plugin.{plugin_id}.{item}"] iframe')


def test_hostile_panels_cannot_leave_their_frames(
    staff_user, hostile_page: Page, live_server_url: str, project: Project
) -> None:
    page, base = hostile_page, live_server_url
    plan = MeetingPlan.objects.create(
        pk=1,  # the plan the hostile templates aim at
        nonce="n-hostile-panels",
        signer="x",
        expires_at=timezone.now() + timezone.timedelta(hours=1),
        actions=[],
        read_only=True,
    )
    _log_in(page, base, staff_user.username)
    _enable(page, base, "Hostile panel", "hostile_panel")
    _enable(page, base, "Plugin model", "plugin_model")
    toggles = AuditEvent.objects.filter(action__in=[AuditAction.ENABLE, AuditAction.DISABLE])
    toggles_before = toggles.count()

    page.goto(f"{base}/plugins/hostile_panel/")
    page.evaluate("document.body.dataset.marker = 'host'")
    title = page.title()
    for item, attacks in ATTACKS.items():
        slot = page.locator(f'[id="plugin.hostile_panel.{item}"]')
        slot.scroll_into_view_if_needed()
        frame = _frame(page, "hostile_panel", item)
        expect(frame.locator("#plugin-root[data-done]")).to_be_attached()
        outcomes = {
            row.get_attribute("data-attack"): (row.get_attribute("data-outcome"), row.inner_text())
            for row in frame.locator("li[data-attack]").all()
        }
        assert set(outcomes) == attacks, (item, outcomes)
        allowed = {name: text for name, (outcome, text) in outcomes.items() if outcome != "blocked"}
        assert not allowed, (item, allowed)
    expect(_frame(page, "hostile_panel", "bridge").locator("li[data-legit]")).to_have_attribute(
        "data-legit", "answered"
    )

    # The meta refresh loaded a second document in its frame: the console stopped it.
    refresh = page.locator('[id="plugin.hostile_panel.refresh"]')
    refresh.scroll_into_view_if_needed()
    expect(refresh.locator(".frame-stopped")).to_contain_text("tried to load another page")
    expect(refresh.locator("iframe")).to_have_count(0)
    _shoot(page, "hostile-panels")

    # The console page is where it was, as it was.
    assert page.url == f"{base}/plugins/hostile_panel/"
    assert page.title() == title
    assert page.evaluate("document.body.dataset.marker") == "host"
    assert len(page.context.pages) == 1  # no popup
    # ...and nothing happened on the server.
    plan.refresh_from_db()
    assert plan.status == MeetingPlanStatus.PENDING and plan.decided_by is None
    assert not ProjectPlugin.objects.filter(plugin__plugin_id="e2e_probe", enabled=True).exists()
    assert toggles.count() == toggles_before
    assert not AuditEvent.objects.filter(action=AuditAction.PLUGIN_API_CALL).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.CONFIG_CHANGE).exists()


def _points(frame) -> int:
    return int(frame.locator("svg.live-chart").get_attribute("data-points") or 0)


def test_plugin_model_chart_is_fed_through_the_bridge(
    logged_in: Page, live_server_url: str, project: Project
) -> None:
    page, base = logged_in, live_server_url
    _enable(page, base, "Plugin model", "plugin_model")
    page.goto(f"{base}/plugins/plugin_model/")
    slot = page.locator('[id="plugin.plugin_model.live"]')
    slot.scroll_into_view_if_needed()
    expect(slot.locator("h2")).to_contain_text("Live greetings")
    frame = _frame(page, "plugin_model", "live")
    chart = frame.locator("svg.live-chart")
    expect(chart).to_be_visible()
    # The samples route answered through the bridge, then sample events keep arriving.
    expect(chart).not_to_have_attribute("data-points", "0")
    first = _points(frame)
    page.wait_for_function(
        "n => { const f = document.querySelector('[id=\"plugin.plugin_model.live\"] iframe');"
        " return f && f.getBoundingClientRect().height > 150; }",
        arg=0,
    )
    expect(chart).not_to_have_attribute("data-points", str(first))
    assert _points(frame) > first
    line = frame.locator("polyline.live-line")
    assert len((line.get_attribute("points") or "").split()) == _points(frame)

    frame.get_by_role("button", name="Say hello").click()
    expect(page.locator(".toast")).to_contain_text("Hello from plugin_model")
    expect(frame.locator(".live-summary")).to_contain_text("Greetings so far: 1")
    call = AuditEvent.objects.get(action=AuditAction.PLUGIN_API_CALL)
    assert call.plugin_id == "plugin_model" and "through jupiterBridge" in call.detail
    _shoot(page, "plugin-model-live-chart")

    # At 400 px the frame fits the screen and the chart is still drawn.
    page.set_viewport_size({"width": 400, "height": 800})
    slot.scroll_into_view_if_needed()
    box = page.locator('[id="plugin.plugin_model.live"] iframe').bounding_box()
    assert box is not None and box["width"] <= 400 and box["x"] >= 0
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 400
    expect(chart).to_be_visible()
    _shoot(page, "plugin-model-live-chart-400")

    # The rest of the bridge, from inside the frame: settings, log lines, navigation.
    inside = page.locator('[id="plugin.plugin_model.live"] iframe').element_handle().content_frame()
    settings_seen = inside.evaluate("() => window.jupiterBridge.settings()")
    assert settings_seen["greeting"] == "Hello from plugin_model"
    assert "api_token" not in settings_seen
    lines = inside.evaluate(
        """() => new Promise((resolve) => window.jupiterBridge.logs((lines) => {
            if (lines.some((line) => line.includes("(#1)"))) { resolve(lines); }
        }))"""
    )
    assert any("Hello from plugin_model (#1)" in line for line in lines)
    refused = inside.evaluate(
        "() => window.jupiterBridge.navigate('/admin/').then(() => 'went', (e) => e.message)"
    )
    assert refused.startswith("target is one of")
    page.set_viewport_size({"width": 1280, "height": 900})
    inside.evaluate("() => window.jupiterBridge.navigate('settings')")
    expect(page).to_have_url(f"{base}/plugins/plugin_model/#settings")

    # Its tab, listed under Views with its icon, shows the same module full width.
    page.get_by_role("link", name="Views", exact=True).click()
    page.get_by_role("link", name="Plugin model").click()
    expect(page).to_have_url(f"{base}/plugins/plugin_model/tab/")
    tab_chart = _frame(page, "plugin_model", "main").locator("svg.live-chart")
    expect(tab_chart).not_to_have_attribute("data-points", "0")


def test_a_scaffolded_ui_plugin_has_the_same_live_panel(
    logged_in: Page, live_server_url: str, project: Project
) -> None:
    page, base = logged_in, live_server_url
    _enable(page, base, "Made ui", "made_ui")
    page.goto(f"{base}/plugins/made_ui/")
    slot = page.locator('[id="plugin.made_ui.activity"]')
    slot.scroll_into_view_if_needed()
    expect(slot.locator("h2")).to_have_text("Made ui activity")  # title_key, from i18n/en.json
    frame = _frame(page, "made_ui", "activity")
    expect(frame.locator("svg.activity-chart")).not_to_have_attribute("data-points", "0")
    frame.get_by_role("button", name="Ping").click()
    expect(frame.get_by_text("Pings: 1")).to_be_visible()  # the sample event, before the reply
    calls = AuditEvent.objects.filter(action=AuditAction.PLUGIN_API_CALL, plugin_id="made_ui")
    for _ in range(50):
        if calls.exists():
            break
        page.wait_for_timeout(100)
    assert "through jupiterBridge" in calls.get().detail


def test_a_viewer_reads_the_chart_but_the_console_refuses_their_changes(
    browser, logged_in: Page, live_server_url: str, project: Project
) -> None:
    from django.contrib.auth import get_user_model

    from plugins_app.models import ProjectRole
    from plugins_app.projects.roles import grant
    from tests.e2e.conftest import PASSWORD

    _enable(logged_in, live_server_url, "Plugin model", "plugin_model")  # by its owner
    viewer = get_user_model().objects.create_user("vera", password=PASSWORD)
    grant(project, viewer, ProjectRole.VIEWER)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        _log_in(page, live_server_url, "vera")
        page.goto(f"{live_server_url}/plugins/plugin_model/")
        slot = page.locator('[id="plugin.plugin_model.live"]')
        page.mouse.wheel(0, 1500)  # the panels are listed when revealed
        expect(slot).to_be_attached()
        slot.scroll_into_view_if_needed()
        frame = _frame(page, "plugin_model", "live")
        expect(frame.locator("svg.live-chart")).not_to_have_attribute("data-points", "0")
        frame.get_by_role("button", name="Say hello").click()
        expect(frame.locator(".live-status")).to_have_text(
            "your role does not allow changes through this plugin"
        )
        assert not AuditEvent.objects.filter(action=AuditAction.PLUGIN_API_CALL).exists()
    finally:
        context.close()


def test_an_original_jupiter_panel_runs_in_its_frame_under_views(
    logged_in: Page, live_server_url: str, project: Project
) -> None:
    """The original's contract: ui.assets.js exporting mount(container, bridge), with
    bridge.i18n.t, bridge.api.get/post("/<prefix>/<route>?q") answered by the plugin's
    FastAPI router (the catch-all route), and bridge.notify({type, message})."""
    pytest.importorskip("fastapi", reason="the optional extra jupiter[fastapi] is not installed")
    page, base = logged_in, live_server_url
    _enable(page, base, "Original UI", "orig_ui")
    page.get_by_role("link", name="Views", exact=True).click()
    page.get_by_role("link", name="Orbit").click()  # title_key, from web/lang/en.json
    expect(page).to_have_url(f"{base}/plugins/orig_ui/tab/")
    frame = _frame(page, "orig_ui", "main")
    expect(frame.locator("#orig-ui-data")).to_have_text("Mission data: jupiter 1")
    expect(frame.locator("#orig-ui-crew li").first).to_have_text("Io")
    # An encoded path parameter, read as text ({responseType: "text"}).
    expect(frame.locator("#orig-ui-moon")).to_have_text('{"moon":"Io & Ganymede"}')
    expect(frame.get_by_role("heading", name="Orbit")).to_be_visible()
    expect(page.locator(".toast")).to_contain_text("orbit reached")
    border = frame.locator(".orig-ui").evaluate("e => getComputedStyle(e).borderLeftStyle")
    assert border == "solid"  # its injected <style> applies in its own frame

    # Its owner's POST reaches the router, with CSRF, and is audited as the panel's.
    frame.get_by_role("button", name="Add Callisto").click()
    expect(frame.locator("#orig-ui-status")).to_have_text(re.compile(r"^Crew added: \d+$"))
    expect(frame.locator("#orig-ui-crew li").last).to_have_text("Callisto")
    expect(page.locator(".toast-success").last).to_contain_text("Crew added")  # notify.success
    call = AuditEvent.objects.get(action=AuditAction.PLUGIN_API_CALL, plugin_id="orig_ui")
    assert "POST /api/plugins/orig_ui/crew from its panel, through jupiterBridge" in call.detail
    inside = page.locator('[id="plugin.orig_ui.main"] iframe').element_handle().content_frame()
    inside.evaluate("() => window.jupiterBridge.toast.show('Low orbit', 'warning')")
    expect(page.locator(".toast-warning")).to_contain_text("Low orbit")


def test_a_viewer_reads_an_original_panel_but_cannot_post_through_it(
    browser, logged_in: Page, live_server_url: str, project: Project
) -> None:
    from django.contrib.auth import get_user_model

    from plugins_app.models import ProjectRole
    from plugins_app.projects.roles import grant
    from tests.e2e.conftest import PASSWORD

    pytest.importorskip("fastapi", reason="the optional extra jupiter[fastapi] is not installed")
    _enable(logged_in, live_server_url, "Original UI", "orig_ui")  # by its owner
    viewer = get_user_model().objects.create_user("vic", password=PASSWORD)
    grant(project, viewer, ProjectRole.VIEWER)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        _log_in(page, live_server_url, "vic")
        page.goto(f"{live_server_url}/plugins/orig_ui/tab/")
        frame = _frame(page, "orig_ui", "main")
        expect(frame.locator("#orig-ui-data")).to_have_text("Mission data: jupiter 1")
        expect(frame.locator("#orig-ui-crew li").first).to_have_text("Io")
        inside = page.locator('[id="plugin.orig_ui.main"] iframe').element_handle().content_frame()
        read = "() => window.jupiterBridge.api.get('/orig_ui/crew')"
        before = inside.evaluate(read)
        frame.get_by_role("button", name="Add Callisto").click()
        expect(frame.locator("#orig-ui-status")).to_have_text(
            "403 your role does not allow changes through this plugin"
        )
        # A POST made from the frame's own bridge object, bypassing the panel: refused too.
        refused = inside.evaluate(
            """() => window.jupiterBridge.call("crew", {method: "POST", body: {name: "x"}})
                .then(() => "sent", (e) => e.status)"""
        )
        assert refused == 403
        assert inside.evaluate(read) == before  # the router saw no change
        assert not AuditEvent.objects.filter(action=AuditAction.PLUGIN_API_CALL).exists()
    finally:
        context.close()
