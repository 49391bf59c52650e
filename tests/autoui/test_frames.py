"""Plugin frames (issue 12; SPEC U5-U7, X2, X4, X6): the sandboxed document of a panel, its
Content-Security-Policy, its assets under a token, and nothing served for a plugin that is
not enabled, loaded and trusted. The browser side is tests/e2e/test_plugin_ui.py."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.contrib.auth import get_user_model
from django.test import Client

from plugins_app.kernel.runtime import boot, get_runtime
from plugins_app.manifest.load import load_manifest
from plugins_app.manifest.model import Manifest, UiContributions, UiItem
from plugins_app.models import (
    InstalledPlugin,
    PluginConfig,
    PluginStatus,
    ProjectRole,
    StatusSource,
)
from plugins_app.projects.roles import grant
from plugins_app.projects.service import register_project, set_plugin_enabled
from plugins_app.registry.status import set_status
from plugins_app.trust.signing import sign_plugin
from plugins_app.web.autoui.contributions import messages_for
from plugins_app.web.frames.policy import asset_token, token_user

from .conftest import PROBE

BUNDLED = Path(__file__).resolve().parent.parent.parent / "plugins"


def _policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {
        part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
        for part in (p.strip() for p in header.split(";"))
    }


def _frame(client: Client, kind: str, item: str, query: str = ""):
    return client.get(f"/plugins/{PROBE}/frame/{kind}/{item}/{query}")


def _boot(response) -> dict:
    html = response.content.decode()
    raw = html.split('<script id="jupiter-frame" type="application/json">', 1)[1]
    return json.loads(raw.split("</script>", 1)[0])


def test_a_panel_is_a_sandboxed_document_with_a_strict_policy(client, project, user):
    response = _frame(client, "panel", "summary")
    assert response.status_code == 200
    policy = _policy(response)
    token = asset_token(PROBE, user.pk)
    assets = f"http://testserver/plugins/{PROBE}/frame-assets/{token}/"
    assert policy["sandbox"] == "allow-scripts"  # an opaque origin, no allow-same-origin
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == f"http://testserver/static/jupiter/frame/ {assets}"
    for directive in ("connect-src", "form-action", "base-uri", "object-src", "frame-src"):
        assert policy[directive] == "'none'", directive
    assert policy["frame-ancestors"] == "'self'"
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert "nonce" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    # The plugin's own HTML is here, in the frame, and nothing of the console's session.
    assert '<p class="summary">Probe &lt;script&gt;' in html and "has 3 items" in html
    assert "csrf" not in html.lower() and client.session.session_key not in html
    assert re.findall(r"<script src=\"([^\"]+)\"", html) == ["/static/jupiter/frame/bridge.js"]
    boot_data = _boot(response)
    assert boot_data["plugin"]["id"] == PROBE and boot_data["modules"] == []
    assert boot_data["messages"] == {"hello": "Hello", "scripted_title": "Scripted panel"}
    assert "token" not in boot_data["settings"]


def test_templates_data_and_errors_render_inside_the_frame(client, project):
    unsafe = _frame(client, "panel", "unsafe").content.decode()
    assert "<p>probe</p>" in unsafe  # |safe is the plugin's business inside its own frame
    escape = _frame(client, "panel", "escape").content.decode()
    assert "not a file inside the plugin folder" in escape and "secret outside" not in escape
    counter = _frame(client, "widget", "counter").content.decode()
    assert "<dt>count</dt><dd>7</dd>" in counter
    assert "&lt;script&gt;alert(&#x27;data&#x27;)&lt;/script&gt;" in counter
    assert _frame(client, "panel", "nope").status_code == 404
    assert _frame(client, "tab", "summary").status_code == 404


def _asset_base(client: Client) -> str:
    response = _frame(client, "panel", "scripted")
    module = _boot(response)["modules"][0]
    assert module.endswith("/web/panel.js")
    return module.removeprefix("http://testserver").removesuffix("web/panel.js")


def test_scripts_and_styles_come_from_the_plugin_folder_under_a_token(client, project):
    base = _asset_base(client)
    anonymous = Client()  # the opaque-origin frame sends no cookie: the token is enough
    module = anonymous.get(base + "web/panel.js")
    assert module.status_code == 200
    assert module["Content-Type"] == "text/javascript; charset=utf-8"
    assert module["Access-Control-Allow-Origin"] == "*"  # module scripts are CORS requests
    assert _policy(module)["sandbox"] == "" and module["X-Content-Type-Options"] == "nosniff"
    assert b"import { label }" in module.content
    assert anonymous.get(base + "web/lib/label.js").status_code == 200  # a relative import
    assert anonymous.get(base + "web/panel.css").status_code == 200  # ui.assets.css
    assert anonymous.get(base + "assets/style.css").status_code == 200  # unscoped: its frame
    for refused in (
        "probe.py",
        "plugin.yaml",
        "web/../probe.py",
        "web/%2e%2e/probe.py",
        "../../autoui_probe/probe.py",
        "web/notes.txt",
        "web/.hidden.js",
        "web/out.js",  # a link leading out of the plugin folder
        "ui/summary.html",
        "steps.py",
    ):
        assert anonymous.get(base + refused).status_code == 404, refused


def test_asset_tokens_are_bound_to_plugin_user_and_time(client, project, user):
    base = _asset_base(client)
    token = base.split("/")[4]
    assert token_user(PROBE, token) == user.pk
    assert token_user("other", token) is None
    assert token_user(PROBE, token[:-1] + ("0" if token[-1] != "0" else "1")) is None
    assert token_user(PROBE, asset_token(PROBE, user.pk, now=time.time() - 3 * 3600)) is None
    assert token_user(PROBE, "1.2.3") is None and token_user(PROBE, "x") is None
    anonymous = Client()
    forged = base.replace(token, asset_token("other", user.pk))
    assert anonymous.get(forged + "web/panel.js").status_code == 404
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert anonymous.get(base + "web/panel.js").status_code == 404


def test_nothing_is_served_for_a_plugin_that_is_not_enabled_loaded_or_trusted(
    client, project, user, settings, tmp_path
):
    base = _asset_base(client)
    served = (
        lambda: _frame(client, "panel", "summary").status_code,
        lambda: Client().get(base + "web/panel.js").status_code,
        lambda: client.get(f"/api/plugins/{PROBE}/echo").status_code,
        lambda: client.get(f"/plugins/{PROBE}/bridge/settings/").status_code,
    )
    assert [check() for check in served] == [200, 200, 200, 200]

    # Enabled elsewhere but not in the project the frame is shown for.
    (tmp_path / "beta").mkdir()
    register_project("beta", str(tmp_path / "beta"), actor=user)
    response = _frame(client, "widget", "counter", "?project=beta")
    assert response.status_code == 404 and _policy(response)["sandbox"] == "allow-scripts"
    assert "Not available" in response.content.decode()
    assert "is not enabled in beta" in response.content.decode()
    assert _frame(client, "widget", "counter", "?project=nowhere").status_code == 404

    # Not trusted any more: unsigned plugins refused by the policy.
    settings.JUPITER_ALLOW_UNSIGNED_LOCAL_PLUGINS = False
    assert [check() for check in served] == [404, 404, 404, 404]
    settings.JUPITER_ALLOW_UNSIGNED_LOCAL_PLUGINS = True

    # In error (a failing health check, say).
    set_status(PROBE, PluginStatus.ERROR, "health check failed", source=StatusSource.HEALTH)
    assert [check() for check in served] == [404, 404, 404, 404]
    listing = client.get(f"/plugins/{PROBE}/ui/").content.decode()
    assert "Not shown:" in listing and "health check failed" in listing
    assert "data-plugin-frame" not in listing
    set_status(PROBE, PluginStatus.READY, source=StatusSource.LOAD)
    assert [check() for check in served] == [200, 200, 200, 200]

    # Not loaded in this process.
    registration = get_runtime().bridge.remove(PROBE)
    assert "is not loaded" in _frame(client, "panel", "summary").content.decode()
    get_runtime().bridge.install(registration)

    # Disabled in its only project.
    set_plugin_enabled(project, PROBE, False, actor=user)
    get_runtime().reconcile()
    assert [check() for check in served] == [404, 404, 404, 404]
    assert "is disabled: Not enabled" in client.get(f"/plugins/{PROBE}/ui/").content.decode()


def test_a_viewer_reads_panels_but_changes_nothing_and_an_outsider_sees_none(project):
    people = get_user_model().objects
    viewer, outsider = people.create_user("vic"), people.create_user("olga")
    grant(project, viewer, ProjectRole.VIEWER)
    as_viewer, as_outsider = Client(), Client()
    as_viewer.force_login(viewer)
    as_outsider.force_login(outsider)
    listing = as_viewer.get(f"/plugins/{PROBE}/ui/").content.decode()
    slot = json.loads(re.search(r'data-bridge="([^"]*)"', listing)[1].replace("&quot;", '"'))
    assert slot["rights"] == {"operate": False, "logs": True}
    assert _frame(as_viewer, "panel", "summary").status_code == 200
    assert as_viewer.post(f"/api/plugins/{PROBE}/echo").status_code == 403
    assert "data-plugin-frame" not in as_outsider.get(f"/plugins/{PROBE}/ui/").content.decode()
    assert _frame(as_outsider, "panel", "summary").status_code == 404
    assert as_outsider.get(f"/api/plugins/{PROBE}/echo").status_code == 404


def test_bridge_settings_are_the_effective_values_without_secrets(client, project):
    plugin = InstalledPlugin.objects.get(plugin_id=PROBE)
    PluginConfig.objects.update_or_create(
        plugin=plugin,
        defaults={"values": {"name": "global", "token": "s3cret", "db": {"password": "pw"}}},
    )
    answer = client.get(f"/plugins/{PROBE}/bridge/settings/?project=acme").json()
    assert answer["project"] == "acme" and answer["settings"]["name"] == "global"
    assert "token" not in answer["settings"] and "password" not in answer["settings"]["db"]
    assert client.get(f"/plugins/{PROBE}/bridge/settings/?project=nope").status_code == 404


def test_the_plugin_tab_is_listed_under_views(client, project):
    views = client.get("/views/").content.decode()
    assert f'href="/plugins/{PROBE}/tab/"' in views and "Side" in views
    tab = client.get(f"/plugins/{PROBE}/tab/").content.decode()
    assert 'data-src="/plugins/autoui_probe/frame/panel/side/"' in tab
    assert "jupiter/frames.js" in tab
    control = client.get(f"/plugins/{PROBE}/control/").content.decode()
    assert f'href="/plugins/{PROBE}/tab/"' in control and "Open Side" in control
    bare = Manifest(
        id="bare",
        name="Bare",
        version="1.0.0",
        kind="tool",
        entrypoints={"register": "bare:register"},
        root=Path("/nonexistent"),
        ui=UiContributions(panels=(UiItem("p"),)),
    )
    InstalledPlugin.objects.create(
        plugin_id="bare", name="Bare", status="ready", manifest=bare.to_snapshot()
    )
    assert client.get("/plugins/bare/tab/").status_code == 404


@pytest.fixture
def signed_project(autoui_dirs: Path, user, tmp_path: Path, settings):
    """The probe, signed with a community key, loaded and enabled in acme."""
    folder = autoui_dirs / PROBE
    (folder / "ui" / "link.html").unlink()  # signed plugins hold files only
    (folder / "web" / "out.js").unlink()
    sign_plugin(folder, Ed25519PrivateKey.generate(), PROBE, "2.0.0")
    boot()
    root = tmp_path / "acme"
    root.mkdir()
    project = register_project("acme", str(root), actor=user)
    set_plugin_enabled(project, PROBE, True, actor=user)
    get_runtime().reconcile()
    assert InstalledPlugin.objects.get(plugin_id=PROBE).trust_level == "community"
    return folder


def test_a_signed_plugin_serves_only_the_bytes_it_signed(signed_project: Path, client):
    base = _asset_base(client)
    anonymous = Client()
    assert anonymous.get(base + "web/lib/label.js").status_code == 200
    (signed_project / "web" / "lib" / "label.js").write_text("export const label = 'evil';")
    refused = anonymous.get(base + "web/lib/label.js")
    assert refused.status_code == 404 and b"changed since signing" in refused.content
    (signed_project / "web" / "extra.js").write_text("export default 1;")
    assert b"is not signed" in anonymous.get(base + "web/extra.js").content
    (signed_project / "ui" / "summary.html").write_text("<p>edited</p>")
    html = _frame(client, "panel", "summary").content.decode()
    assert "signature check failed" in html and "<p>edited</p>" not in html


def test_plugin_model_reads_its_translations_from_files():
    manifest = load_manifest(BUNDLED / "plugin_model").manifest
    assert manifest is not None
    assert messages_for(manifest.ui, "fr")["live_title"] == "Salutations en direct"
    assert messages_for(manifest.ui, "en-GB")["say_hello"] == "Say hello"
    live = next(panel for panel in manifest.ui.panels if panel.id == "live")
    assert (live.script, live.location, live.order) == ("assets/live.js", "plugin_page", 10)
