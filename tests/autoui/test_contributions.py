"""Panels, widgets, scoped CSS, plugin routes and escaping of plugin text (SPEC U5-U7, X6)."""

from __future__ import annotations

import json

from django.test import Client
from django.urls import reverse

from plugins_app.manifest.model import UiContributions, UiItem
from plugins_app.web.autoui.contributions import (
    Contribution,
    ContributionError,
    contained,
    contributions,
    css_problems,
    i18n_messages,
    mount_warnings,
)

from .conftest import PROBE


def test_css_must_be_scoped_under_the_plugin_namespace():
    ok = (
        '[data-plugin="p"] .a, [data-plugin=p] :is(b, c) {} '
        '@media (width > 1px) { [data-plugin="p"] d {} }'
    )
    assert css_problems(ok, "p") == []
    problems = css_problems(
        'body {} @import url(x.css); @media print { .a {} } [data-plugin="q"] a {}', "p"
    )
    assert problems == [
        "selector 'body' is not scoped under [data-plugin=\"p\"]",
        "@import is not allowed in plugin CSS",
        "selector '.a' is not scoped under [data-plugin=\"p\"]",
        'selector \'[data-plugin="q"] a\' is not scoped under [data-plugin="p"]',
    ]


def test_paths_cannot_leave_the_plugin_folder(plugin_root):
    root = plugin_root / PROBE
    assert contained(root, "ui/summary.html").name == "summary.html"
    for bad in ("../escape.html", "/etc/passwd", "ui/link.html", "ui/missing.html"):
        try:
            contained(root, bad)
        except ContributionError:
            continue
        raise AssertionError(f"{bad} must be refused")


def test_contributions_are_lazy_namespaced_and_unscoped_css_is_refused(client, project):
    html = client.get(reverse("plugins_app:plugin-contributions", args=[PROBE])).content.decode()
    assert 'id="plugin.autoui_probe.summary" data-plugin="autoui_probe"' in html
    assert 'hx-get="/plugins/autoui_probe/ui/panel/summary/" hx-trigger="intersect once"' in html
    assert "Summary &lt;script&gt;alert(&#x27;panel&#x27;)&lt;/script&gt;" in html
    assert "selector &#x27;body&#x27; is not scoped" in html and 'rel="stylesheet"' not in html
    assert "mount point &#x27;nowhere.sidebar&#x27; is not one this console offers" in html
    assert "plugin.autoui_probe.counter" not in html  # a project_page widget
    project_html = client.get(
        reverse("plugins_app:plugin-contributions", args=[PROBE])
        + "?mount=project_page&project=acme"
    ).content.decode()
    assert "plugin.autoui_probe.counter" in project_html and "?project=acme" in project_html
    assert json.loads(
        project_html.split('data-i18n="', 1)[1].split('"', 1)[0].replace("&quot;", '"')
    ) == {"plugin.autoui_probe.hello": "Hello"}


def _item(client: Client, kind: str, item: str) -> str:
    return client.get(
        reverse("plugins_app:plugin-contribution", args=[PROBE, kind, item])
    ).content.decode()


def test_panel_templates_render_autoescaped_with_data_config_and_messages(client, project):
    html = _item(client, "panel", "summary")
    assert html.strip() == (
        '<p class="summary">Probe &lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt; '
        "has 3 items; name probe; Hello</p>"
    )


def test_unsafe_or_escaping_templates_are_refused(client, project):
    assert "uses &#x27;|safe&#x27;, which is not allowed" in _item(client, "panel", "unsafe")
    assert "not a file inside the plugin folder" in _item(client, "panel", "escape")
    assert "secret outside" not in _item(client, "panel", "escape")


def test_a_renderer_without_template_is_shown_as_escaped_data(client, project):
    html = _item(client, "widget", "counter")
    assert "<dt>count</dt><dd>7</dd>" in html
    assert "&lt;script&gt;alert(&#x27;data&#x27;)&lt;/script&gt;" in html


def test_assets_come_from_the_assets_folder_only(client, project):
    base = "/plugins/autoui_probe/assets/"
    refused = client.get(base + "style.css")
    assert refused.status_code == 403 and b"'body' is not scoped" in refused.content
    assert client.get(base + "../probe.py").status_code == 404
    assert client.get(base + "../plugin.yaml").status_code == 404


def test_plugin_api_routes_dispatch_with_csrf_and_errors_contained(user, project):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/api/plugins/autoui_probe/echo").json() == {"method": "GET"}
    assert client.post("/api/plugins/autoui_probe/echo").status_code == 403  # no CSRF token
    response = client.get("/api/plugins/autoui_probe/boom")
    assert response.status_code == 500 and response.json() == {
        "error": "ValueError in the plugin's route"
    }
    assert client.get("/api/plugins/autoui_probe/nope").status_code == 404


def test_plugin_page_shows_hostile_manifest_text_as_text(client, project):
    html = client.get(reverse("plugins_app:plugin-detail", args=[PROBE])).content.decode()
    assert "Probe &lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#x27;description&#x27;)" in html
    assert "<script>alert" not in html
    control = client.get(reverse("plugins_app:plugin-control", args=[PROBE])).content.decode()
    assert "Settings &lt;b&gt;probe&lt;/b&gt;" in control and "<code>db.port</code>" in control
    assert "/projects/acme/plugins/autoui_probe/settings/" in control


def test_contributions_come_from_the_typed_ui_section():
    ui = UiContributions(
        panels=(UiItem("summary", title="Summary", template="ui/summary.html"),),
        widgets=(UiItem("counter", mount_point="project_page"), UiItem("x", mount_point="nope")),
        mount_points=("sidebar",),
        i18n={"en": {"hello": "Hello"}, "fr": {"hello": "Bonjour"}},
    )
    assert contributions(ui) == [
        Contribution("panel", "summary", "Summary", "plugin_page", "ui/summary.html"),
        Contribution("widget", "counter", "counter", "project_page", ""),
        Contribution("widget", "x", "x", "plugin_page", ""),
    ]
    assert [w.split(" is ")[0] for w in mount_warnings(ui)] == [
        "mount point 'nope'",
        "mount point 'sidebar'",
    ]
    assert i18n_messages(ui, "p", "fr-CA") == {"plugin.p.hello": "Bonjour"}
    assert i18n_messages(ui, "p", "de") == {"plugin.p.hello": "Hello"}
    assert contributions(UiContributions()) == [] and mount_warnings(UiContributions()) == []
