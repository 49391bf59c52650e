"""Progress a hook reports (issue 15): checked, throttled, and the analysis job's bar."""

from __future__ import annotations

import time
from itertools import pairwise
from pathlib import Path

import pytest

from plugins_app.jobs.events import JOB_PROGRESS, EventPublisher
from plugins_app.kernel.runtime import boot, get_runtime
from plugins_app.projects.service import register_project, set_plugin_enabled
from plugins_app.sdk.progress import (
    Progress,
    ProgressError,
    Throttle,
    progress_from,
    report_progress,
    reporting_to,
)

STEPS = 40
STEPPER = {
    "plugin.yaml": (
        "id: stepper\nname: Stepper\nversion: 1.0.0\ntype: tool\n"
        "description: Reports progress per file from on_analyze.\n"
        "entrypoint: 'stepper:register'\n"
    ),
    "stepper.py": (
        "import time\n\n\n"
        "def register(bridge):\n"
        "    def on_analyze(scan):\n"
        "        try:\n"
        "            bridge.report_progress(5, 3)\n"
        "        except ValueError as exc:\n"
        "            refused = str(exc)\n"
        f"        for n in range(1, {STEPS + 1}):\n"
        f"            bridge.report_progress(n, {STEPS}, f'file {{n}}.py')\n"
        "            time.sleep(0.02)\n"
        "        return {'refused': refused}\n\n"
        "    bridge.register_hook('on_analyze', on_analyze)\n"
    ),
}


@pytest.mark.parametrize(
    "done,total", [(-1, 3), (4, 3), (1, 0), (True, 2), (1.5, 3), ("1", 3), (None, None)]
)
def test_reports_outside_zero_to_total_are_refused(done, total) -> None:
    with pytest.raises(ProgressError):
        progress_from(done, total)


def test_reports_reach_the_sink_set_around_the_call_and_nobody_otherwise() -> None:
    seen: list[Progress] = []
    report_progress(1, 2, "nobody listens")
    with reporting_to(seen.append):
        report_progress(1, 2, "x" * 500)
    report_progress(2, 2)
    assert [(p.done, p.total, len(p.message)) for p in seen] == [(1, 2, 200)]


def test_the_throttle_passes_the_first_and_the_last_and_one_per_interval() -> None:
    seen: list[int] = []
    throttle = Throttle(lambda p: seen.append(p.done), interval=0.05)
    for n in range(1, 101):
        throttle(Progress(n, 100))
        time.sleep(0.001)
    assert seen[0] == 1 and seen[-1] == 100
    assert 2 <= len(seen) < 40
    assert seen == sorted(seen)


@pytest.mark.django_db(transaction=True)
def test_a_hooks_reports_move_the_analysis_bar_in_order_and_rate_limited(
    tmp_path: Path, settings, job_worker, monkeypatch
) -> None:
    from plugins_app.jobs.api import submit
    from plugins_app.models import HistoryEntry, HistoryKind

    plugins = tmp_path / "plugins"
    (plugins / "stepper").mkdir(parents=True)
    for name, text in STEPPER.items():
        (plugins / "stepper" / name).write_text(text, encoding="utf-8")
    settings.JUPITER_PLUGIN_DIRS = [plugins]
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "app.py").write_text("x = 1\n")
    boot()
    project = register_project("proj", tmp_path / "proj")
    set_plugin_enabled(project, "stepper", True)
    events: list[tuple[float, int, str]] = []
    publish = EventPublisher.publish

    def record(self: EventPublisher, event, **kwargs) -> None:
        if event.type == JOB_PROGRESS:
            events.append((time.monotonic(), event.progress, event.message))
        publish(self, event, **kwargs)

    monkeypatch.setattr(EventPublisher, "publish", record)
    job = submit("", "analyze", project=project)
    assert job_worker.wait(str(job.pk), 60)
    entry = HistoryEntry.objects.filter(project=project, kind=HistoryKind.ANALYSIS).first()
    outcome = entry.data["plugins"]["stepper"]
    assert outcome["error"] == ""
    assert "0 <= done <= total" in outcome["result"]["refused"]
    inside = [(at, pct, msg) for at, pct, msg in events if msg.startswith("on_analyze of stepper:")]
    # Several moves within the plugin's share (50-100 %), in order, ending at its end...
    percents = [pct for _, pct, _ in inside]
    assert len(percents) >= 4 and percents == sorted(percents)
    assert 50 < percents[0] < 80 and percents[-1] == 100
    assert inside[-1][2] == f"on_analyze of stepper: file {STEPS}.py"
    # ...and no more than ten a second: 40 reports over ~0.8 s make far fewer events.
    assert len(inside) < STEPS / 2
    gaps = [b[0] - a[0] for a, b in pairwise(inside[:-1])]
    assert all(gap >= 0.09 for gap in gaps)


@pytest.mark.django_db
def test_the_host_ignores_bad_or_unfollowed_reports_from_a_process(settings) -> None:
    boot()
    supervisor = get_runtime().supervisor
    seen: list[Progress] = []
    supervisor.follow_progress("stepper", "t1", seen.append)
    supervisor.hook_progress("stepper", {"token": "t1", "done": 9, "total": 3})
    supervisor.hook_progress("other", {"token": "t1", "done": 1, "total": 3})
    supervisor.hook_progress("stepper", {"token": "t2", "done": 1, "total": 3})
    supervisor.hook_progress("stepper", {"token": "t1", "done": 2, "total": 3, "message": 7})
    supervisor.unfollow_progress("stepper", "t1")
    supervisor.hook_progress("stepper", {"token": "t1", "done": 3, "total": 3})
    assert seen == [Progress(2, 3, "7")]
