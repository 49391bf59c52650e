"""Lazy plugin processes (issue 16): a boot with many enabled plugins starts none of them.

A plugin's registration is remembered with the key of its code (``kernel.registrations``);
the next boot installs it from memory, shows the plugin ``ready`` ("not started"), and its
process starts on first use. A boot that must start processes (nothing remembered) can do
it in the background, so the web server answers first. Statuses stay truthful: a first use
that fails, or a crash loop while running, shows ``error`` with the reason.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from plugins_app.kernel.processes import PluginProcessError
from plugins_app.kernel.registrations import code_key, recall
from plugins_app.kernel.runtime import NOT_STARTED, STARTING, boot, get_runtime, reset_runtime
from plugins_app.models import InstalledPlugin, PluginStatus, Project, ProjectPlugin
from plugins_app.projects.service import register_project
from plugins_app.services.provider import plugin_data_dir
from tests.plugin_factory import write_plugin

pytestmark = pytest.mark.django_db(transaction=True)

COUNT = 6
BODY = """
def register(bridge):
    if (bridge.services.get_data_dir() / "fail").exists():
        raise RuntimeError("told to fail")
    bridge.register_job("noop", lambda job: "done")
    bridge.expose({"ping": lambda: "pong"})
"""


@pytest.fixture
def plugins(tmp_path: Path, settings) -> Path:
    root = tmp_path / "plugins"
    for n in range(COUNT):
        write_plugin(root, f"lazy_{n}", body=BODY)
    settings.JUPITER_PLUGIN_DIRS = [root]
    settings.JUPITER_PLUGIN_DATA_DIR = tmp_path / "plugin-data"
    return root


@pytest.fixture
def project(tmp_path: Path, plugins: Path) -> Project:
    """Every plugin enabled, as rows (no enable signal: nothing loads before the boot)."""
    (tmp_path / "proj").mkdir()
    boot()
    project = register_project("proj", tmp_path / "proj")
    ProjectPlugin.objects.bulk_create(
        ProjectPlugin(project=project, plugin=plugin, enabled=True)
        for plugin in InstalledPlugin.objects.filter(plugin_id__startswith="lazy_")
    )
    reset_runtime()
    return project


def started_in_background() -> None:
    runtime = boot(background=True)
    runtime.starts.serving()
    assert runtime.starts.wait(60)


def statuses() -> dict[str, tuple[str, str]]:
    rows = InstalledPlugin.objects.filter(plugin_id__startswith="lazy_")
    return {r.plugin_id: (r.status, r.status_reason) for r in rows}


def running() -> list[str]:
    supervisor = get_runtime().supervisor
    return [
        f"lazy_{n}"
        for n in range(COUNT)
        if (process := supervisor.process(f"lazy_{n}")) is not None and process.alive
    ]


def test_a_background_boot_returns_before_the_processes_start_then_they_all_do(project):
    runtime = boot(background=True)
    assert (PluginStatus.LOADING, STARTING) in statuses().values()
    time.sleep(0.5)
    assert running() == []  # they wait for the server's first answer
    runtime.starts.serving()
    assert runtime.starts.wait(60)
    assert set(statuses().values()) == {(PluginStatus.READY, "")}
    assert len(running()) == COUNT
    assert runtime.bridge.public_api("lazy_3").ping() == "pong"


def test_the_next_boot_starts_no_process_and_the_first_use_starts_one(project):
    started_in_background()
    reset_runtime()

    runtime = boot()
    assert running() == []
    assert set(statuses().values()) == {(PluginStatus.READY, NOT_STARTED)}
    registration = runtime.bridge.registration("lazy_2")
    assert registration is not None and set(registration.jobs) == {"noop"}

    assert registration.jobs["noop"].func(None) == "done"  # first use
    assert running() == ["lazy_2"]
    assert statuses()["lazy_2"] == (PluginStatus.READY, "")
    assert statuses()["lazy_1"] == (PluginStatus.READY, NOT_STARTED)


def test_a_changed_plugin_is_not_taken_from_memory(project, plugins):
    started_in_background()
    manifests = get_runtime().manifests
    assert set(recall(manifests.values())) == set(manifests) & {f"lazy_{n}" for n in range(COUNT)}
    before = code_key(manifests["lazy_0"])
    time.sleep(0.01)
    (plugins / "lazy_0" / "main.py").write_text(BODY + "\n# edited\n")
    assert code_key(manifests["lazy_0"]) != before
    reset_runtime()

    boot()
    assert running() == ["lazy_0"]  # started at once to learn what it registers now
    assert statuses()["lazy_1"] == (PluginStatus.READY, NOT_STARTED)


def test_a_first_use_that_fails_shows_the_error(project):
    started_in_background()
    reset_runtime()
    runtime = boot()
    data = plugin_data_dir("lazy_4")
    data.mkdir(parents=True, exist_ok=True)
    (data / "fail").write_text("")

    with pytest.raises(PluginProcessError, match="told to fail"):
        runtime.bridge.public_api("lazy_4").ping()
    status, reason = statuses()["lazy_4"]
    assert status == PluginStatus.ERROR and "told to fail" in reason


def test_a_crash_loop_while_running_turns_the_plugin_to_error(project):
    runtime = boot()
    api = runtime.bridge.public_api("lazy_5")
    for _ in range(3):
        assert api.ping() == "pong"
        runtime.supervisor.kill("lazy_5", "killed by the test")
        time.sleep(1.05)  # the pause before a restart
    assert statuses()["lazy_5"] == (
        PluginStatus.ERROR,
        "crashed 3 times in 60 s; not restarted",
    )
    with pytest.raises(PluginProcessError, match="not restarted"):
        api.ping()
