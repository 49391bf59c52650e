"""Where panels and widgets go, how the console lists them, plugin API routes, and escaping
of plugin text in the console's own page (SPEC U5-U7, X6)."""

from __future__ import annotations

import json
import re

from django.test import Client
from django.urls import reverse

from plugins_app.manifest.model import UiContributions, UiItem, UiTab
from plugins_app.models import AuditAction, AuditEvent
from plugins_app.web.autoui.contributions import (
    Contribution,
    ContributionError,
    at,
    contained,
    contributions,
    i18n_messages,
    messages_for,
    mount_warnings,
    render_template,
    tab_of,
)

from .conftest import PROBE


def test_paths_cannot_leave_the_plugin_folder(plugin_root):
    root = plugin_root / PROBE
    assert contained(root, "ui/summary.html").name == "summary.html"
    for bad in ("../escape.html", "/etc/passwd", "ui/link.html", "ui/missing.html", "a\x00b"):
        try:
            contained(root, bad)
        except ContributionError:
            continue
        raise AssertionError(f"{bad} must be refused")


def test_contributions_are_placed_ordered_and_titled():
    ui = UiContributions(
        panels=(
            UiItem("summary", title="Summary", template="ui/summary.html"),
            UiItem("chart", title="Chart", script="web/chart.js", order=5, title_key="chart"),
            UiItem("both", location="both", settings_section="Advanced", icon="*"),
            UiItem("proj", location="project_page", mount_point="plugin_page"),
        ),
        widgets=(UiItem("counter", mount_point="project_page"), UiItem("x", mount_point="nope")),
        mount_points=("sidebar",),
        i18n={"en": {"hello": "Hello", "chart": "Live chart"}, "fr": {"hello": "Bonjour"}},
    )
    found = contributions(ui)
    assert [(c.kind, c.id, c.places) for c in found] == [
        ("panel", "chart", ("plugin_page",)),
        ("panel", "summary", ("plugin_page",)),
        ("panel", "both", ("sidebar", "settings")),
        ("panel", "proj", ("project_page",)),  # location wins over mount_point
        ("widget", "counter", ("project_page",)),
        ("widget", "x", ("plugin_page",)),
    ]
    assert found[0] == Contribution(
        "panel",
        "chart",
        "Chart",
        ("plugin_page",),
        script="web/chart.js",
        order=5,
        title_key="chart",
    )
    assert found[0].titled(messages_for(ui, "en")) == "Live chart"
    assert found[0].titled(messages_for(ui, "fr")) == "Chart"  # untranslated: the title
    assert [c.id for c in at(ui, "settings")] == ["both"]
    assert [w.split(" is ")[0] for w in mount_warnings(ui)] == [
        "mount point 'nope'",
        "mount point 'sidebar'",
    ]
    assert i18n_messages(ui, "p", "fr-CA") == {"plugin.p.hello": "Bonjour"}
    assert i18n_messages(ui, "p", "de")["plugin.p.hello"] == "Hello"
    assert contributions(UiContributions()) == [] and mount_warnings(UiContributions()) == []


def test_a_plugin_has_one_tab_from_its_tab_or_its_sidebar_panels():
    assert tab_of(UiContributions(), "P", {}) is None
    side = UiItem("main", location="sidebar", title_key="plugin.p.title", icon="@", order=30)
    tab = tab_of(UiContributions(panels=(side,)), "P", {"title": "Metrics"})
    assert (tab.title, tab.icon, tab.order) == ("Metrics", "@", 30)
    ui = UiContributions(
        panels=(side,), tab=UiTab(title="Board", icon="#", order=3, script="web/board.js")
    )
    assert tab_of(ui, "P", {}) == type(tab)("Board", "#", 3)
    assert [(c.kind, c.id) for c in at(ui, "sidebar")] == [("tab", "main"), ("panel", "main")]


def test_templates_render_autoescaped_and_without_debug():
    assert render_template("<b>{{ x }}</b>", "t.html", {"x": "<i>"}) == "<b>&lt;i&gt;</b>"
    for source in ("{% debug %}", "{% load static %}", "{% include 'x.html' %}"):
        try:
            render_template(source, "t.html", {})
        except ContributionError:
            continue
        raise AssertionError(f"{source} must fail")


def _slots(html: str) -> list[dict]:
    return [
        json.loads(raw.replace("&quot;", '"').replace("&amp;", "&"))
        for raw in re.findall(r'data-bridge="([^"]*)"', html)
    ]


def test_the_console_lists_frame_slots_never_plugin_html(client, project):
    html = client.get(reverse("plugins_app:plugin-contributions", args=[PROBE])).content.decode()
    assert 'id="plugin.autoui_probe.summary"' in html
    assert 'data-src="/plugins/autoui_probe/frame/panel/summary/"' in html
    assert "Summary &lt;script&gt;alert(&#x27;panel&#x27;)&lt;/script&gt;" in html
    assert 'class="summary"' not in html and "<script" not in html and "stylesheet" not in html
    assert html.index("plugin.autoui_probe.scripted") < html.index("plugin.autoui_probe.summary")
    assert "Scripted panel" in html  # title_key, translated
    assert "mount point &#x27;nowhere.sidebar&#x27; is not one this console offers" in html
    assert "plugin.autoui_probe.counter" not in html  # a project_page widget
    assert "plugin.autoui_probe.side" not in html  # sidebar and settings only
    slot = _slots(html)[0]
    assert slot["plugin"] == PROBE and slot["rights"] == {"operate": True, "logs": True}
    assert slot["routes"] == {"boom": ["GET"], "echo": ["GET", "POST"], "headers": ["POST"]}
    assert slot["places"]["tab"] == "/plugins/autoui_probe/tab/"

    project_html = client.get(
        reverse("plugins_app:plugin-contributions", args=[PROBE])
        + "?mount=project_page&project=acme"
    ).content.decode()
    assert "plugin.autoui_probe.counter" in project_html
    assert 'data-src="/plugins/autoui_probe/frame/widget/counter/?project=acme"' in project_html
    settings_html = client.get(
        reverse("plugins_app:plugin-contributions", args=[PROBE]) + "?mount=settings"
    ).content.decode()
    assert "plugin.autoui_probe.side" in settings_html and "Advanced" in settings_html


def test_plugin_api_routes_dispatch_with_csrf_errors_contained_and_changes_audited(user, project):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/api/plugins/autoui_probe/echo").json() == {"method": "GET"}
    assert client.post("/api/plugins/autoui_probe/echo").status_code == 403  # no CSRF token
    response = client.get("/api/plugins/autoui_probe/boom")
    assert response.status_code == 500 and response.json() == {
        "error": "ValueError in the plugin's route"
    }
    assert client.get("/api/plugins/autoui_probe/nope").status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.PLUGIN_API_CALL).exists()

    bridged = Client()
    bridged.force_login(user)
    answer = bridged.post(
        "/api/plugins/autoui_probe/echo?project=acme", headers={"X-Jupiter-Bridge": "panel:x"}
    )
    assert answer.json() == {"method": "POST"}
    event = AuditEvent.objects.get(action=AuditAction.PLUGIN_API_CALL)
    assert event.actor == user and event.plugin_id == PROBE and event.project_name == "acme"
    assert event.after == {"method": "POST", "route": "echo", "status": 200}
    assert "from its panel, through jupiterBridge" in event.detail


def test_plugin_routes_never_see_the_users_credentials(user, project):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/plugins/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    seen = client.post(
        "/api/plugins/autoui_probe/headers",
        data=b"{}",
        content_type="application/json",
        headers={"X-CSRFToken": token, "Authorization": "Basic dXNlcjpwdw=="},
    ).json()
    assert "content-type" in seen
    assert not {"cookie", "authorization", "x-csrftoken"} & set(seen)


def test_plugin_page_shows_hostile_manifest_text_as_text(client, project):
    html = client.get(reverse("plugins_app:plugin-detail", args=[PROBE])).content.decode()
    assert "Probe &lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#x27;description&#x27;)" in html
    assert "<script>alert" not in html
    assert "jupiter/frames.js" in html and "?mount=settings" in html
    control = client.get(reverse("plugins_app:plugin-control", args=[PROBE])).content.decode()
    assert "Settings &lt;b&gt;probe&lt;/b&gt;" in control and "<code>db.port</code>" in control
    assert "/projects/acme/plugins/autoui_probe/settings/" in control
