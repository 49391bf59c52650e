"""Settings pages (SPEC U2, S3, S4, X7): save, inline errors, conflicts, secrets, overrides."""

from __future__ import annotations

import json
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from plugins_app.config.errors import StaleConfigError
from plugins_app.config.scope import SettingsScope
from plugins_app.config.transfer import EXPORT_FORMAT
from plugins_app.models import AuditEvent, InstalledPlugin, PluginConfig, ProjectPlugin
from plugins_app.projects.projectfile import read_project_file
from plugins_app.projects.service import project_file_path

from .conftest import PROBE

HTMX = {"HTTP_HX_REQUEST": "true"}
URL = reverse("plugins_app:plugin-settings", args=[PROBE])


@pytest.fixture(autouse=True)
def _staff(user):
    """Global settings are administered by staff (SPEC X4); project overrides need only a
    maintainer, which ``user`` is as the project's registrant (owner)."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])


def _form(client: Client, url: str = URL) -> str:
    return client.get(url, **HTMX).content.decode()


def _token(html: str) -> str:
    marker = 'name="token" value="'
    return html.split(marker, 1)[1].split('"', 1)[0]


def _post(client: Client, data: dict, url: str = URL, token: str | None = None):
    html = _form(client, url)
    payload = {
        "token": _token(html) if token is None else token,
        "cfg.name": "probe",
        "cfg.tags.__list": "1",
        "cfg.tags.0": "a",
        "cfg.servers.__list": "1",
        "cfg.enabled": "true",
        **data,
    }
    return client.post(url, payload, **HTMX)


def _stored() -> dict:
    return PluginConfig.objects.get(plugin__plugin_id=PROBE).values


def test_form_renders_every_field_with_plugin_text_escaped(client, project):
    html = _form(client)
    assert 'name="cfg.db.port"' in html and 'name="cfg.servers.__list"' in html
    assert "<script>" not in html.split('id="settings-autoui_probe"', 1)[1]
    assert "Name &lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt;" in html
    assert "Shown &lt;script&gt;alert(&#x27;help&#x27;)&lt;/script&gt; as text" in html
    assert "&lt;script&gt;alert(&#x27;enum&#x27;)&lt;/script&gt;</option>" in html


def test_save_stores_only_changes_and_rerenders_the_value(client, project):
    response = _post(
        client,
        {
            "cfg.retries": "4",
            "cfg.db.host": "db.internal",
            "cfg.tags.0": "x",
            "cfg.tags.3": "y",
            "cfg.servers.0.__row": "1",
            "cfg.servers.0.host": "s1",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200 and "Settings saved." in html
    assert _stored() == {
        "retries": 4,
        "db": {"host": "db.internal"},
        "tags": ["x", "y"],
        "servers": [{"host": "s1", "tls": False}],
    }
    assert 'value="db.internal"' in html and 'name="cfg.tags.1" value="y"' in html
    assert "set globally" in html


def test_invalid_value_comes_back_inline_and_nothing_is_saved(client, project):
    before = _stored()
    response = _post(client, {"cfg.retries": "9", "cfg.name": "UPPER"})
    html = response.content.decode()
    assert response.status_code == 422
    assert 'id="cfg-retries-error">Enter 5 or less.' in html
    assert 'id="cfg-name-error">Enter a value in the expected form' in html
    assert 'value="9"' in html  # shown as typed
    assert _stored() == before


def test_stale_save_is_a_conflict_not_a_lost_update(client, project):
    html = _form(client)
    _post(client, {"cfg.retries": "2"})
    response = _post(client, {"cfg.retries": "3"}, token=_token(html))
    assert response.status_code == 409
    assert "Someone else saved these settings" in response.content.decode()
    assert _stored()["retries"] == 2


def test_secret_is_stored_never_echoed_and_kept_when_left_empty(client, project):
    response = _post(client, {"cfg.token": "s3cret-value", "cfg.db.password": "pw-hidden"})
    html = response.content.decode()
    assert "s3cret-value" not in html and "pw-hidden" not in html
    assert "Saved (hidden); leave empty to keep it" in html
    assert _stored()["token"] == "s3cret-value"
    _post(client, {"cfg.retries": "3"})
    assert _stored()["token"] == "s3cret-value" and _stored()["db"]["password"] == "pw-hidden"
    audit = AuditEvent.objects.filter(plugin_id=PROBE, action="config_change")
    assert audit.exists() and all("s3cret" not in json.dumps(e.after) for e in audit)


def test_reset_to_default_drops_the_global_value(client, project):
    _post(client, {"cfg.retries": "4"})
    html = _form(client)
    response = client.post(
        reverse("plugins_app:plugin-settings-reset", args=[PROBE]),
        {"token": _token(html), "reset_path": "retries"},
        **HTMX,
    )
    assert (
        response.status_code == 200 and "retries reset to the default." in response.content.decode()
    )
    assert "retries" not in _stored()


def test_project_override_and_reset_to_global(client, project):
    url = reverse("plugins_app:project-plugin-settings", args=["acme", PROBE])
    page = client.get(url).content.decode()
    assert "inherited from global" in page or "default" in page
    response = _post(client, {"cfg.retries": "5"}, url=url)
    assert response.status_code == 200, response.content.decode()
    row = ProjectPlugin.objects.get(project=project, plugin__plugin_id=PROBE)
    assert row.overrides == {"retries": 5}
    assert read_project_file(project_file_path(project)).plugins[PROBE].overrides == {"retries": 5}
    assert "overridden here" in response.content.decode()
    html = client.get(url).content.decode()
    response = client.post(
        reverse("plugins_app:project-plugin-settings-reset", args=["acme", PROBE]),
        {"token": _token(html), "reset_path": "retries"},
        **HTMX,
    )
    assert response.status_code == 200
    row.refresh_from_db()
    assert row.overrides == {}


def test_project_save_with_a_stale_token_is_refused(client, project):
    url = reverse("plugins_app:project-plugin-settings", args=["acme", PROBE])
    stale = _token(client.get(url).content.decode())
    _post(client, {"cfg.retries": "5"}, url=url)
    response = _post(client, {"cfg.retries": "3"}, url=url, token=stale)
    assert response.status_code == 409
    assert ProjectPlugin.objects.get(project=project, plugin__plugin_id=PROBE).overrides == {
        "retries": 5
    }


def test_export_leaves_secrets_out_and_import_applies_whole(client, project):
    _post(client, {"cfg.retries": "4", "cfg.token": "tok-123"})
    exported = client.get(reverse("plugins_app:plugin-settings-export", args=[PROBE]))
    assert exported["Content-Disposition"] == 'attachment; filename="autoui_probe-settings.json"'
    data = json.loads(exported.content)
    assert data["values"]["retries"] == 4 and "token" not in data["values"]
    data["values"]["retries"] = 2
    upload = SimpleUploadedFile("s.json", json.dumps(data).encode(), "application/json")
    url = reverse("plugins_app:plugin-settings-import", args=[PROBE])
    response = client.post(url, {"token": _token(_form(client)), "settings_file": upload}, **HTMX)
    assert (
        response.status_code == 200
        and "Settings imported from s.json." in response.content.decode()
    )
    assert _stored()["retries"] == 2 and _stored()["token"] == "tok-123"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"values": {"retries": 99}}, "retries: Enter 5 or less."),
        ({"plugin": "other"}, "this export is for &#x27;other&#x27;"),
        ({"schema_version": 3}, "schema version 3, newer than the installed"),
        ({"format": "something-else"}, "not a Jupiter settings export"),
    ],
)
def test_a_bad_import_changes_nothing(client, project, change, message):
    data = {
        "format": EXPORT_FORMAT,
        "plugin": PROBE,
        "schema_version": 2,
        "values": {"retries": 3},
        **change,
    }
    upload = SimpleUploadedFile("bad.json", json.dumps(data).encode())
    url = reverse("plugins_app:plugin-settings-import", args=[PROBE])
    before = _stored()
    response = client.post(url, {"token": _token(_form(client)), "settings_file": upload}, **HTMX)
    assert response.status_code == 422 and message in response.content.decode()
    assert _stored() == before


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_never_lock_and_never_lose_an_update(autoui_dirs):
    """SPEC X7: two saves of one revision from two connections: one wins, one is stale."""
    plugin = InstalledPlugin.objects.create(plugin_id="race", name="Race", manifest={})
    PluginConfig.objects.create(plugin=plugin)
    barrier, outcomes = threading.Barrier(2), []

    def save(value: int) -> None:
        try:
            barrier.wait()
            SettingsScope(plugin).save({"n": value}, "0", actor=None)
            outcomes.append("saved")
        except StaleConfigError:
            outcomes.append("stale")
        except Exception as exc:  # "database is locked" would land here
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["saved", "stale"]
    assert PluginConfig.objects.get(plugin=plugin).revision == 1


def test_emptying_a_required_field_is_an_error_not_a_silent_revert(client, project):
    _post(client, {"cfg.name": "custom"})
    response = _post(client, {"cfg.name": ""})
    html = response.content.decode()
    assert response.status_code == 422
    assert 'id="cfg-name-error">This field is required.' in html
    assert "Settings saved." not in html
    assert _stored()["name"] == "custom"


def test_validator_errors_read_as_what_to_enter(client, project):
    html = _post(client, {"cfg.contact": "not-an-email"}).content.decode()
    assert 'id="cfg-contact-error">Enter a valid email address, such as name@example.com.' in html
    assert "is not a" not in html


def test_a_bad_import_says_what_is_wrong_in_words(client, project):
    data = {
        "format": EXPORT_FORMAT,
        "plugin": PROBE,
        "schema_version": 2,
        "values": {"contact": "nope", "name": ""},
    }
    upload = SimpleUploadedFile("bad.json", json.dumps(data).encode())
    url = reverse("plugins_app:plugin-settings-import", args=[PROBE])
    response = client.post(url, {"token": _token(_form(client)), "settings_file": upload}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 422
    assert "contact: Enter a valid email address" in html
    assert "ConfigError(" not in html and "is not a &#x27;email&#x27;" not in html


def test_a_save_tells_the_page_so_the_control_panel_reloads(client, project):
    response = _post(client, {"cfg.retries": "3"})
    assert response.headers["HX-Trigger"] == '{"jupiter:settings-saved": {}}' or (
        "jupiter:settings-saved" in response.headers["HX-Trigger"]
    )
    panel = client.get(reverse("plugins_app:plugin-control", args=[PROBE]), **HTMX)
    revision = PluginConfig.objects.get(plugin__plugin_id=PROBE).revision
    assert f"revision {revision}," in panel.content.decode()
    failed = _post(client, {"cfg.retries": "99"})
    assert "HX-Trigger" not in failed.headers


def test_the_help_panel_describes_every_setting(client, project):
    panel = client.get(reverse("plugins_app:plugin-control", args=[PROBE]), **HTMX)
    html = panel.content.decode()
    assert "No description." not in html
    assert "A whole number (from 0 to 5); default: 1." in html  # from the schema
