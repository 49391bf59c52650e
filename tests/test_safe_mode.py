"""Safe mode and the plugin process history (SPEC X3): recovering from a bad plugin.

Safe mode starts Jupiter with no plugin loaded (no plugin process at all), from the
environment (``JUPITER_SAFE_MODE=1``) or the persistent switch (``jupiter_plugins
safe-mode``, the console); from there an operator reads each plugin's crash and timeout
history, disables the culprit and leaves.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from plugins_app.jobs.api import JobRefused, submit
from plugins_app.kernel.processes import PluginProcessError
from plugins_app.kernel.runtime import NOT_STARTED, boot, get_runtime
from plugins_app.lifecycle.recovery import set_safe_mode
from plugins_app.models import (
    AuditAction,
    AuditEvent,
    ChangeEvent,
    InstalledPlugin,
    PluginProcessEvent,
    PluginStatus,
    ProcessEventKind,
    Project,
    SafeMode,
)
from plugins_app.projects.service import register_project, set_plugin_enabled
from tests.plugin_factory import write_plugin

pytestmark = pytest.mark.django_db(transaction=True)

HELLO = "def register(bridge):\n    bridge.register_job('say', lambda job: 'hi')\n"
DIES = "import os\nos._exit(3)\n\n\ndef register(bridge):\n    pass\n"


@pytest.fixture
def plugins(tmp_path: Path, settings) -> Path:
    root = tmp_path / "plugins"
    write_plugin(root, "greeter", body=HELLO)
    settings.JUPITER_PLUGIN_DIRS = [root]
    return root


@pytest.fixture
def project(tmp_path: Path, plugins: Path) -> Project:
    (tmp_path / "proj").mkdir()
    boot()
    project = register_project("proj", tmp_path / "proj")
    set_plugin_enabled(project, "greeter", True)
    return project


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_user("op", password="pw", is_staff=True))
    return client


@pytest.fixture
def viewer(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def status(plugin_id: str = "greeter") -> InstalledPlugin:
    return InstalledPlugin.objects.get(plugin_id=plugin_id)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_environment_switch_loads_no_plugin(plugins, tmp_path, settings):
    settings.JUPITER_SAFE_MODE = True
    (tmp_path / "proj").mkdir()
    boot()
    project = register_project("proj", tmp_path / "proj")
    set_plugin_enabled(project, "greeter", True)
    plugin = status()
    assert plugin.status == PluginStatus.DISABLED
    assert plugin.status_reason == "safe mode (JUPITER_SAFE_MODE=1): no plugin is loaded"
    runtime = get_runtime()
    assert runtime.bridge.registration("greeter") is None
    assert runtime.supervisor.events == []  # no plugin process was ever started
    with pytest.raises(JobRefused, match="safe mode"):
        submit("greeter", "say", project=project)


def test_the_command_stops_every_plugin_process_and_leaving_loads_them_again(project, capsys):
    runtime = get_runtime()
    pid = runtime.supervisor.process("greeter").pid
    call_command("jupiter_plugins", "safe-mode", "on", "--note", "greeter misbehaves")
    assert "Safe mode is on" in capsys.readouterr().out
    assert gone(pid)
    assert runtime.supervisor.process("greeter") is None
    plugin = status()
    assert (plugin.status, plugin.status_source) == (PluginStatus.DISABLED, "safe_mode")
    assert plugin.status_reason.startswith("safe mode: no plugin is loaded")
    assert SafeMode.objects.get(pk=1).note == "greeter misbehaves"
    assert ChangeEvent.objects.filter(topic="plugins").exists()  # the other processes follow
    call_command("jupiter_plugins", "safe-mode", "status")
    assert "Safe mode: on (jupiter_plugins safe-mode on)" in capsys.readouterr().out

    call_command("jupiter_plugins", "safe-mode", "off")
    assert "Safe mode is off" in capsys.readouterr().out
    runtime.rescan()  # what a server or worker does when the feed says plugins changed
    assert (status().status, status().status_reason) == (PluginStatus.READY, NOT_STARTED)
    assert runtime.supervisor.process("greeter") is None  # it registered before: lazy now
    assert runtime.bridge.registration("greeter").jobs["say"].func(None) == "hi"
    assert runtime.supervisor.process("greeter").pid != pid
    assert (status().status, status().status_reason) == (PluginStatus.READY, "")
    details = list(
        AuditEvent.objects.filter(action=AuditAction.SAFE_MODE).values_list("detail", flat=True)
    )
    assert details == ["safe mode turned off", "safe mode turned on: greeter misbehaves"]


def test_no_plugin_code_runs_in_safe_mode_not_even_a_settings_migration(project):
    manifest = get_runtime().manifests["greeter"]
    set_safe_mode(True)
    get_runtime().reconcile()
    with pytest.raises(PluginProcessError, match="safe mode"):
        get_runtime().code_of(manifest)("main:register")(None)
    assert not PluginProcessEvent.objects.filter(
        plugin_id="greeter", kind=ProcessEventKind.STARTED, at__gt=SafeMode.objects.get().changed_at
    ).exists()


def test_staff_turn_safe_mode_on_and_off_from_the_console(project, staff, viewer):
    assert viewer.post("/safe-mode/", {"on": "1"}).status_code == 403
    assert staff.get("/plugins/").content.count(b"Start safe mode") == 1
    response = staff.post("/safe-mode/", {"on": "1", "note": "bisecting"})
    assert response.status_code == 302
    assert status().status_reason.startswith("safe mode")
    assert get_runtime().supervisor.process("greeter") is None
    for client in (staff, viewer):  # the banner is on every page, for everyone
        for url in ("/plugins/", "/projects/", "/jobs/", "/plugins/greeter/"):
            page = client.get(url).content.decode()
            assert 'id="safe-mode-banner"' in page, url
            assert ("Leave safe mode" in page) is (client is staff), url
    assert viewer.get("/plugins.json").json()["safe_mode"] is True
    response = staff.post("/safe-mode/", {"on": "0", "next": "/plugins/greeter/"})
    assert response["Location"] == "/plugins/greeter/"
    assert status().status == PluginStatus.READY
    assert 'id="safe-mode-banner"' not in staff.get("/plugins/").content.decode()


def test_the_switch_needs_a_csrf_token(project, user):
    staff_user = get_user_model().objects.create_user("op2", password="pw", is_staff=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    assert client.post("/safe-mode/", {"on": "1"}).status_code == 403
    assert not SafeMode.objects.filter(enabled=True).exists()


def test_leaving_from_the_console_says_when_the_environment_still_holds(project, staff, settings):
    set_safe_mode(True)
    settings.JUPITER_SAFE_MODE = True
    page = staff.get("/plugins/").content.decode()
    assert "started with <code>JUPITER_SAFE_MODE=1</code>" in page
    staff.post("/safe-mode/", {"on": "0"})
    assert not SafeMode.objects.filter(enabled=True).exists()
    assert status().status == PluginStatus.DISABLED  # this process still is in safe mode
    assert "restart it without the variable" in staff.get("/plugins/").content.decode()


def test_the_banner_names_the_plugins_that_crashed_lately(project, staff):
    now = timezone.now()
    for kind, count in ((ProcessEventKind.CRASHED, 3), (ProcessEventKind.KILLED, 1)):
        for _ in range(count):
            PluginProcessEvent.objects.create(plugin_id="greeter", kind=kind, at=now, pid=1)
    PluginProcessEvent.objects.create(
        plugin_id="old", kind=ProcessEventKind.CRASHED, at=now - timezone.timedelta(days=2)
    )
    set_safe_mode(True)
    page = staff.get("/jobs/").content.decode()
    banner = page.split('id="safe-mode-banner"', 1)[1].split("</div>", 1)[0]
    assert re.search(r"greeter</a>: 3 crashes, 1 kill in the last 24 hours", banner)
    assert "old" not in banner


def test_a_plugin_that_crashes_at_every_start_is_in_error_and_not_started_a_fourth_time(
    plugins, project, viewer
):
    write_plugin(plugins, "dies", body=DIES)
    get_runtime().rescan()
    set_plugin_enabled(project, "dies", True)
    plugin = status("dies")
    assert (plugin.status, plugin.status_reason) == (
        PluginStatus.ERROR,
        "its process exited with status 3",
    )
    for _ in range(2):  # every reconcile tries again (the feed, a sync, an enable)
        get_runtime().reconcile()
    crashes = PluginProcessEvent.objects.filter(plugin_id="dies", kind=ProcessEventKind.CRASHED)
    assert crashes.count() == 3
    assert (
        AuditEvent.objects.filter(action=AuditAction.PROCESS_CRASHED, plugin_id="dies").count() == 3
    )
    get_runtime().reconcile()
    assert status("dies").status_reason == "crashed 3 times in 60 s; not restarted"
    assert crashes.count() == 3  # refused before starting anything
    page = viewer.get("/plugins/dies/").content.decode()
    assert "3 crashes, 0 kills" in page
    assert page.count('data-process-event="crashed"') == 3
    assert status().status == PluginStatus.READY  # the other plugin never noticed


def test_the_plugin_page_lists_process_events_newest_first(project, viewer):
    ancient = timezone.now() - timezone.timedelta(days=31)
    PluginProcessEvent.objects.create(plugin_id="greeter", kind=ProcessEventKind.KILLED, at=ancient)
    runtime = get_runtime()
    runtime.reconcile(reload=["greeter"])  # stop, then start again (older rows are dropped)
    partial = viewer.get("/plugins/greeter/processes/").content.decode()
    kinds = re.findall(r'data-process-event="(\w+)"', partial)
    assert kinds == ["started", "stopped", "started"]
    assert f"pid {runtime.supervisor.process('greeter').pid}," in partial
    assert 'hx-trigger="every 3s"' in partial
    assert "No crash or kill in the last 24 hours." in partial
