"""The auto-UI in a real browser (SPEC U2-U4, S3): settings, overrides, metrics, live logs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from plugins_app.kernel.runtime import get_runtime
from plugins_app.models import PluginConfig, Project, ProjectPlugin
from plugins_app.observability.metrics import collect_due
from plugins_app.projects.service import register_project
from tests.e2e.test_console import _shoot

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled reference plugin, copied: it is what these tests drive."""
    root = tmp_path_factory.mktemp("autoui-plugins")
    shutil.copytree(Path(settings.BASE_DIR) / "plugins" / "plugin_model", root / "plugin_model")
    return root


@pytest.fixture
def project(user, tmp_path: Path) -> Project:
    root = tmp_path / "acme"
    root.mkdir()
    return register_project("acme", str(root), actor=user)


def _enable(page: Page, base: str) -> None:
    """Enable through the console, so the server process loads the plugin."""
    page.goto(f"{base}/projects/acme/")
    page.get_by_role("button", name="Enable Plugin model in acme").click()
    expect(page.locator("#project-plugin-plugin_model .status")).to_have_text("Ready")


def _plugin_page(page: Page, base: str) -> None:
    """The plugin's page, with the plugin enabled in acme."""
    _enable(page, base)
    page.goto(f"{base}/plugins/plugin_model/")


@pytest.fixture
def staff_user(user):
    """Global plugin settings are saved by staff (SPEC X4)."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def test_settings_form_edits_nested_and_list_values_with_inline_errors(
    staff_user, logged_in: Page, live_server_url: str, project: Project
) -> None:
    page = logged_in
    _plugin_page(page, live_server_url)
    form = page.locator("#settings-plugin_model form.settings-form")
    expect(form).to_be_visible()
    page.evaluate("window.jupiterNoReload = true")

    form.get_by_label("email", exact=True).check()
    form.get_by_role("button", name="Add to Recipients").click()
    recipient = form.locator("[data-list-row]", has=page.get_by_label("Email"))
    recipient.get_by_label("Email").fill("ada@example.org")
    recipient.get_by_label("Name").fill("Ada <admin>")
    form.get_by_label("Retries", exact=True).fill("50")
    form.get_by_role("button", name="Save settings").click()

    error = page.locator("#cfg-retries-error")
    expect(error).to_have_text("Enter 10 or less.")
    assert page.evaluate("window.jupiterNoReload === true"), "errors come back by an HTMX swap"
    expect(page.locator("#cfg-notifications-recipients-0-email")).to_have_value("ada@example.org")
    _shoot(page, "settings-error")

    page.get_by_label("Retries", exact=True).fill("3")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    stored = PluginConfig.objects.get(plugin__plugin_id="plugin_model").values
    assert stored["notifications"] == {
        "channels": ["console", "email"],
        "recipients": [{"name": "Ada <admin>", "email": "ada@example.org"}],
    }

    page.reload()
    form = page.locator("#settings-plugin_model form.settings-form")
    expect(form.get_by_label("Retries", exact=True)).to_have_value("3")
    expect(form.get_by_label("email", exact=True)).to_be_checked()
    expect(form.locator("#cfg-notifications-recipients-0-name")).to_have_value("Ada <admin>")
    _shoot(page, "plugin-autoui")


def test_project_override_and_reset_to_global(
    logged_in: Page, live_server_url: str, project: Project
) -> None:
    page = logged_in
    _enable(page, live_server_url)
    page.get_by_role("link", name="Settings of Plugin model in acme").click()
    greeting = page.get_by_label("Greeting")
    expect(greeting).to_have_value("Hello from plugin_model")
    greeting.fill("Bonjour acme")
    page.get_by_role("button", name="Save for acme").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    field = page.locator(".field", has=page.get_by_label("Greeting"))
    expect(field.locator(".source")).to_have_text("overridden here")
    row = ProjectPlugin.objects.get(project=project, plugin__plugin_id="plugin_model")
    assert row.overrides == {"greeting": "Bonjour acme"}
    _shoot(page, "project-settings")

    page.get_by_role("button", name="Reset Greeting to global").click()
    expect(page.get_by_text("greeting reset to global.")).to_be_visible()
    expect(page.get_by_label("Greeting")).to_have_value("Hello from plugin_model")
    row.refresh_from_db()
    assert row.overrides == {}


def test_log_line_arrives_live_and_metrics_card_shows(
    logged_in: Page, live_server_url: str, project: Project
) -> None:
    page = logged_in
    _enable(page, live_server_url)
    # This process plays the worker leading the scheduler: it loads what was enabled on the
    # server and collects the metrics, as the leader does every few seconds.
    get_runtime().reconcile()
    assert collect_due() == ["plugin_model"]
    page.goto(f"{live_server_url}/plugins/plugin_model/")
    expect(page.locator("#metrics-plugin_model")).to_contain_text("greetings_total")
    page.mouse.wheel(0, 10_000)  # the panel loads when revealed
    panel = page.locator("[data-log-panel][data-live]")
    expect(panel).to_be_visible()
    expect(panel.locator("[data-log-lines]")).to_contain_text(
        "[plugin_model] plugin_model registered"
    )
    page.evaluate("window.jupiterNoReload = true")

    # The live panel's button calls the greet route through jupiterBridge, from its frame.
    live = page.locator('[id="plugin.plugin_model.live"]')
    live.scroll_into_view_if_needed()
    live.frame_locator("iframe").get_by_role("button", name="Say hello").click()

    expect(panel.locator("[data-log-lines]")).to_contain_text(
        "INFO [plugin_model] Hello from plugin_model (#1)"
    )
    assert page.evaluate("window.jupiterNoReload === true"), "the line is streamed, not reloaded"
    _shoot(page, "plugin-logs")
