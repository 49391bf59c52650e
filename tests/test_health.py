"""Health checks (SPEC L2): failures and hangs move a plugin to error, success restores it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from plugins_app.kernel.runtime import boot, get_runtime
from plugins_app.kernel.scheduler import Scheduler
from plugins_app.models import InstalledPlugin, PluginStatus
from plugins_app.observability.health import HEALTH_PREFIX, HealthMonitor, interpret
from plugins_app.projects.service import register_project, set_plugin_enabled
from tests.plugin_control import PluginControl

pytestmark = pytest.mark.django_db(transaction=True)
RESTART_PAUSE = 1.1  # the first restart after a kill waits 1 s


@pytest.fixture
def probe(tmp_path: Path, runtime_dirs):
    (tmp_path / "proj").mkdir()
    boot()
    set_plugin_enabled(register_project("proj", tmp_path / "proj"), "health_probe", True)
    module = PluginControl("health_probe")
    yield module
    module.RELEASE.set()


def status() -> InstalledPlugin:
    return InstalledPlugin.objects.get(plugin_id="health_probe")


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("fail", "database unreachable"),
        ("raise", "ConnectionError: backend down (at main.py:12 in health)"),
        ("hang", "health() did not return within 0.3 s"),
    ],
)
def test_a_failing_check_moves_the_plugin_to_error_and_success_restores_it(probe, mode, reason):
    monitor = HealthMonitor(get_runtime())
    probe.STATE["mode"] = mode
    [result] = monitor.check(["health_probe"])
    assert not result.ok
    assert (status().status, status().status_reason) == (PluginStatus.ERROR, HEALTH_PREFIX + reason)
    if mode == "hang":  # the hung process was killed; a fresh one starts after a pause
        time.sleep(RESTART_PAUSE)
    else:
        probe.STATE["mode"] = "ok"
    [result] = monitor.check(["health_probe"])
    assert result.ok
    assert (status().status, status().status_reason) == (PluginStatus.READY, "")


def test_a_hung_check_kills_the_plugin_process_and_a_new_one_answers(probe):
    supervisor = get_runtime().supervisor
    hung = supervisor.process("health_probe").pid
    monitor = HealthMonitor(get_runtime())
    probe.STATE["mode"] = "hang"
    [result] = monitor.check(["health_probe"])
    assert not result.ok
    assert not process_alive(hung)
    kinds = [e.kind for e in supervisor.events if e.plugin_id == "health_probe"]
    assert kinds[-1] == "killed"
    time.sleep(RESTART_PAUSE)
    [again] = monitor.check(["health_probe"])
    assert again.ok
    assert supervisor.process("health_probe").pid != hung


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ticks_follow_each_plugins_interval(probe):
    now = [1000.0]
    monitor = HealthMonitor(get_runtime(), clock=lambda: now[0])
    assert {r.plugin_id for r in monitor.tick()} == {"health_probe"}
    assert monitor.tick() == []  # interval: 1 s, none elapsed
    now[0] += 1.0
    assert [r.plugin_id for r in monitor.tick()] == ["health_probe"]


def test_load_errors_are_not_cleared_by_a_healthy_check(probe):
    InstalledPlugin.objects.filter(plugin_id="health_probe").update(
        status=PluginStatus.ERROR, status_reason="something else"
    )
    HealthMonitor(get_runtime()).check(["health_probe"])
    assert status().status_reason == "something else"


def test_interpretation_of_answers():
    assert interpret(None) == (True, "")
    assert interpret({"ok": True, "greetings": 3}) == (True, "")
    assert interpret(False) == (False, "the health hook answered False")
    assert interpret({"healthy": False, "message": "disk full"}) == (False, "disk full")


def test_the_scheduler_runs_due_tasks_and_survives_a_failing_one():
    now = [0.0]
    scheduler = Scheduler(clock=lambda: now[0])
    calls = []
    scheduler.every("boom", 5, lambda: 1 / 0)
    scheduler.every("count", 2, lambda: calls.append(now[0]))
    assert sorted(scheduler.run_pending()) == ["boom", "count"]
    now[0] = 2.0
    assert scheduler.run_pending() == ["count"]
    assert calls == [0.0, 2.0]
