"""Notifications, per-plugin debug mode and the problem report (SPEC U8)."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from pathlib import Path

import pytest

from plugins_app.config.store import set_plugin_overrides
from plugins_app.jobs.api import executor, submit
from plugins_app.kernel.runtime import boot, get_runtime
from plugins_app.logs.hub import plugin_logger
from plugins_app.models import (
    AuditEvent,
    InstalledPlugin,
    Notification,
    PluginConfig,
    PluginDebugMode,
)
from plugins_app.observability import health, notifications
from plugins_app.projects.service import register_project, set_plugin_enabled
from tests.plugin_factory import write_plugin

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("job_worker")]

SECRET_SCHEMA = """
config_schema:
  version: 1
  schema:
    type: object
    properties:
      api_token: {type: string, default: ""}
      passphrase: {type: string, format: password, default: ""}
      hidden: {type: string, writeOnly: true, default: ""}
      nested:
        type: object
        properties:
          db_password: {type: string, default: ""}
          host: {type: string, default: localhost}
      level: {type: integer, default: 1}
"""
NOTIFIER = (
    "def register(bridge):\n"
    "    bus = bridge.services.get_event_bus()\n"
    "    bridge.register_job('shout', lambda job: bus.publish(\n"
    "        'notify', {'title': 'Deploy done', 'body': 'all green', 'level': 'success'}))\n"
    "    bridge.register_job('fail', lambda job: 1 / 0, title='Always fails')\n"
    "    bridge.services.get_logger().info('secret value tok-123456 in a log line')\n"
)


@pytest.fixture
def project(tmp_path: Path, settings):
    settings.JUPITER_PLUGIN_DIRS = [tmp_path / "plugins"]
    settings.JUPITER_LOG_DIR = tmp_path / "logs"
    write_plugin(tmp_path / "plugins", "notifier", extra_yaml=SECRET_SCHEMA, body=NOTIFIER)
    write_plugin(tmp_path / "plugins", "crashy", body="raise RuntimeError('broken at import')\n")
    (tmp_path / "proj").mkdir()
    boot()
    project = register_project("proj", tmp_path / "proj")
    set_plugin_enabled(project, "notifier", True)
    return project


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user("sam", password="pw", is_staff=True)
    client.force_login(user)
    return client


def _run(project, name: str, actor=None) -> None:
    job = submit("notifier", name, project=project, actor=actor)
    assert executor().wait(str(job.pk), 20)


def test_jobs_plugin_errors_and_plugin_messages_become_notifications(project, django_user_model):
    _run(project, "shout")  # started by no one (a script): only its message is recorded
    assert Notification.objects.filter(topic__startswith="jupiter.job.").count() == 0
    _run(project, "shout", actor=django_user_model.objects.create_user("ann"))
    _run(project, "fail")
    set_plugin_enabled(project, "crashy", True)
    set_plugin_enabled(project, "crashy", False)
    set_plugin_enabled(project, "crashy", True)  # the same error again: announced once
    rows = {(n.topic, n.level, n.title) for n in Notification.objects.all()}
    assert ("plugin.notifier.notify", "success", "Deploy done") in rows
    assert ("jupiter.job.completed", "success", "shout completed in proj") in rows
    assert ("jupiter.job.failed", "error", "Always fails failed in proj") in rows
    errors = Notification.objects.filter(topic="jupiter.plugin.error")
    assert [(n.plugin_id, n.level) for n in errors] == [("crashy", "error")]
    assert "broken at import" in errors[0].body
    assert errors[0].link == "/plugins/crashy/"


def test_a_failing_health_check_is_announced(project):
    health.apply(health.HealthResult("notifier", False, "database unreachable"))
    assert Notification.objects.get(topic="jupiter.plugin.error").title == "notifier is in error"


def test_bell_counts_unread_per_user_and_mark_read(project, client, django_user_model):
    ann = django_user_model.objects.create_user("ann", password="pw")
    bob = django_user_model.objects.create_user("bob", password="pw")
    _run(project, "shout", actor=ann)
    client.force_login(ann)
    page = client.get("/plugins/")
    assert b'data-unread="2"' in page.content  # the job and the plugin's message
    listing = client.get("/notifications/")
    assert b"Deploy done" in listing.content and b"is-unread" in listing.content
    first = Notification.objects.get(topic="plugin.notifier.notify")
    response = client.post("/notifications/read/", {"id": first.pk}, HTTP_HX_REQUEST="true")
    assert b'hx-swap-oob="true"' in response.content and b'data-unread="1"' in response.content
    client.post("/notifications/read/")
    assert b'data-unread="0"' in client.get("/notifications/bell/").content
    assert notifications.unread_count(bob) == 2
    client.logout()
    assert client.get("/notifications/").status_code == 302


def test_debug_mode_sets_the_plugin_logger_level_and_is_audited(project, staff_client):
    logger = logging.getLogger("jupiter.plugin.notifier")
    assert not logger.isEnabledFor(logging.DEBUG)
    page = staff_client.get("/plugins/notifier/")
    assert b"Turn debug mode on" in page.content
    response = staff_client.post(
        "/plugins/notifier/debug/", {"enabled": "1"}, HTTP_HX_REQUEST="true"
    )
    assert b"Turn debug mode off" in response.content
    assert logger.isEnabledFor(logging.DEBUG)
    assert PluginDebugMode.objects.get(plugin__plugin_id="notifier").enabled
    assert AuditEvent.objects.filter(plugin_id="notifier", detail="debug mode on").exists()
    logger.setLevel(logging.NOTSET)
    get_runtime().rescan()  # another process applies the stored choice at its next sync
    assert logger.isEnabledFor(logging.DEBUG)
    staff_client.post("/plugins/notifier/debug/", {"enabled": "0"})
    assert not logger.isEnabledFor(logging.DEBUG)


def test_debug_mode_and_problem_report_are_staff_only(project, client, django_user_model):
    client.force_login(django_user_model.objects.create_user("ann", password="pw"))
    assert b"Debugging and support" not in client.get("/plugins/notifier/").content
    assert client.post("/plugins/notifier/debug/", {"enabled": "1"}).status_code == 403
    assert client.get("/plugins/notifier/problem-report/").status_code == 403


def test_problem_report_redacts_secrets_everywhere(project, staff_client, settings):
    plugin = InstalledPlugin.objects.get(plugin_id="notifier")
    config = PluginConfig.objects.get(plugin=plugin)
    config.values = {
        "api_token": "tok-123456",
        "passphrase": "pass-abcdef",
        "hidden": "hid-987654",
        "nested": {"db_password": "dbpw-555", "host": "db.local"},
        "level": 3,
    }
    config.save()
    set_plugin_overrides(project, "notifier", {"api_token": "tok-project-42"})
    plugin_logger("notifier").info("using tok-123456 and dbpw-555")
    plugin_logger("other").info("unrelated")
    _run(project, "fail")
    response = staff_client.get("/plugins/notifier/problem-report/")
    assert response["Content-Type"] == "application/zip"
    assert "notifier-1.0.0-problem-report.zip" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert set(archive.namelist()) == {"report.json", "manifest.json", "logs.txt", "README.txt"}
    everything = "".join(archive.read(name).decode() for name in archive.namelist())
    for secret in ("tok-123456", "pass-abcdef", "hid-987654", "dbpw-555", "tok-project-42"):
        assert secret not in everything
    report = json.loads(archive.read("report.json"))
    assert report["settings"]["global"]["nested"] == {
        "db_password": "[redacted]",
        "host": "db.local",
    }
    assert report["settings"]["global"]["level"] == 3
    assert report["settings"]["projects"]["proj"]["overrides"] == {"api_token": "[redacted]"}
    assert report["plugin"]["status"] == "ready"
    assert report["recent_jobs"][0]["state"] == "failed"
    assert "ZeroDivisionError" in report["recent_jobs"][0]["error"]
    assert report["versions"]["jupiter"]
    logged = archive.read("logs.txt").decode()
    assert "[notifier] using [redacted] and [redacted]" in logged
    assert "unrelated" not in logged
