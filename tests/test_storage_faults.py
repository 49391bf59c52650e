"""Issue 16 parts 2 and 3: clear answers when storage fails, and crash hygiene.

The tmpfs tests run ``tests/storage_fault_run.py`` in a child process whose var/ (database,
logs, sessions) is a small tmpfs, filled to the last byte or remounted read-only: every
request answers 507 or 503 naming the problem, never 500, and after recovery, without a
restart, saves work again and the enable that failed does not come back.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import OperationalError
from django.test import RequestFactory

from plugins_app.base.fsutil import atomic_write_text
from plugins_app.base.storage import storage_problem
from plugins_app.logs import feed
from plugins_app.logs import files as log_files
from plugins_app.logs import hub as logs
from plugins_app.models import InstalledPlugin, ProjectPlugin
from plugins_app.projects import service
from plugins_app.projects.service import project_file_path, register_project, set_plugin_enabled
from plugins_app.web.server import sweep_interrupted_writes
from plugins_app.web.storage_errors import StorageErrorMiddleware, server_error

RUN = Path(__file__).with_name("storage_fault_run.py")


@pytest.fixture
def tmpfs(tmp_path: Path):
    """A 16 MB tmpfs, or a skip saying why one cannot be mounted here."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (mount -t tmpfs); run as root to test this")
    mount = tmp_path / "var"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode:
        pytest.skip(f"this system refuses tmpfs mounts: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize(("fault", "status"), [("full", 507), ("readonly", 503)])
def test_a_full_or_read_only_var_answers_clearly_and_recovers(tmpfs, fault, status):
    done = subprocess.run(
        [sys.executable, str(RUN), str(tmpfs), fault], capture_output=True, timeout=300
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    outcome = json.loads(done.stdout)
    assert outcome["requests"], outcome
    for request in outcome["requests"]:
        assert request["status"] == status and request["explained"], request
    assert outcome["save_after_recovery"] == 200
    assert outcome["stored_after_recovery"] == {"counter": 7}
    assert outcome["failed_enable_came_back"] is False
    assert outcome["status_page_after_recovery"] == 200


@pytest.mark.parametrize(
    ("exc", "status", "what"),
    [
        (OperationalError("database or disk is full"), 507, "disk is full"),
        (OperationalError("database is locked"), 503, "busy"),
        (OSError(errno.ENOSPC, "No space left on device", "/srv/p/x.yaml"), 507, "disk is full"),
        (OSError(errno.EROFS, "Read-only file system", "/srv/p"), 503, "read-only"),
        (OSError(errno.EACCES, "Permission denied", "/srv/p"), 503, "may not write"),
    ],
)
def test_storage_failures_in_views_become_clear_answers(exc, status, what):
    problem = storage_problem(exc)
    assert problem is not None and problem.status == status
    middleware = StorageErrorMiddleware(lambda request: None)  # type: ignore[arg-type,return-value]
    page = middleware.process_exception(RequestFactory().post("/x"), exc)
    assert page is not None and page.status_code == status
    assert what in page.content.decode() and "<html" in page.content.decode()
    inline = middleware.process_exception(RequestFactory().post("/x", HTTP_HX_REQUEST="true"), exc)
    assert inline is not None and inline["HX-Retarget"] == "#storage-alert"
    assert "<html" not in inline.content.decode()


def test_other_errors_stay_errors():
    assert storage_problem(ValueError("no")) is None
    assert storage_problem(OperationalError("no such table: x")) is None
    request = RequestFactory().get("/x")
    try:
        raise OperationalError("database or disk is full")
    except OperationalError:
        assert server_error(request).status_code == 507  # outside views: handler500
    try:
        raise KeyError("x")
    except KeyError:
        assert server_error(request).status_code == 500


@pytest.fixture
def acme(db, tmp_path: Path):
    root = tmp_path / "acme"
    root.mkdir()
    InstalledPlugin.objects.create(plugin_id="tool_a", name="Tool A", manifest={})
    return register_project("acme", root)


def test_a_commit_failing_after_the_file_write_puts_the_file_back(acme, monkeypatch):
    path = project_file_path(acme)
    before = path.read_bytes()

    def failing_commit(*args, **kwargs):
        raise OperationalError("database or disk is full")

    monkeypatch.setattr(service.audit, "record", failing_commit)
    with pytest.raises(OperationalError):
        set_plugin_enabled(acme, "tool_a", True)
    assert path.read_bytes() == before  # the failed enable cannot come back on import
    assert not ProjectPlugin.objects.filter(project=acme, enabled=True).exists()
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_failed_atomic_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "acme.jupiter.yaml"
    target.write_text("old\n")

    def full_disk(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError):
        atomic_write_text(target, "new\n")
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    assert target.read_text() == "old\n"


def test_start_up_sweeps_interrupted_writes_from_var_and_project_roots(acme, settings, tmp_path):
    settings.JUPITER_VAR_DIR = tmp_path / "var"
    (tmp_path / "var" / "exports").mkdir(parents=True)
    root = Path(acme.root_path)
    old = time.time() - 3600
    stray = [
        root / ".acme.jupiter.yaml.k2j4h6g8.tmp",
        tmp_path / "var/exports/.i.json.ab_c1234.tmp",
    ]
    young = root / ".acme.jupiter.yaml.zzzzzzzz.tmp"  # a write in flight in another process
    unrelated = root / ".notes.tmp"  # not a name atomic writes create
    for path in [*stray, young, unrelated]:
        path.write_text("partial")
    for path in [*stray, unrelated]:
        os.utime(path, (old, old))
    assert sweep_interrupted_writes() == 2
    assert not any(path.exists() for path in stray)
    assert young.exists() and unrelated.exists()


def test_log_files_that_cannot_be_written_are_counted_and_retried(settings, tmp_path, monkeypatch):
    settings.JUPITER_LOG_DIR = tmp_path / "logs"
    monkeypatch.setattr(log_files, "FILE_RETRY_SECONDS", 0.0)
    hub = logs.LogHub(tmp_path / "logs")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "plugins").write_text("a file where the folder should be")
    hub.emit("p", 20, "lost in the files, shown live")
    error, unwritten = hub.file_health()
    assert error and unwritten == 1
    assert [b.lines[-1][2] for b in hub.drain()] == ["lost in the files, shown live"]
    (tmp_path / "logs" / "plugins").unlink()
    hub.emit("p", 20, "written again")
    assert hub.file_health() == ("", 1)
    hub.drain()  # flushes the files
    assert hub.plugin_file("p").read_text() == "written again\n"
    hub.close()


async def test_the_publisher_survives_a_failing_tick_and_reports_it(
    settings, tmp_path, monkeypatch
):
    settings.JUPITER_LOG_DIR = tmp_path / "logs"
    monkeypatch.setattr(feed, "_publisher", feed._PublisherState())
    sent: list[dict] = []

    class FlakyLayer:
        failures = 2

        async def group_send(self, group: str, message: dict) -> None:
            if self.failures:
                self.failures -= 1
                raise OSError(errno.ENOSPC, "No space left on device")
            sent.append(message)

    plugin = f"p{uuid.uuid4().hex[:6]}"
    task = asyncio.get_running_loop().create_task(feed._flush_forever(FlakyLayer()))
    try:
        logs.plugin_logger(plugin).info("one")
        await asyncio.sleep(0.15)
        assert feed.log_health().publish_error.startswith("OSError")
        async with asyncio.timeout(5):
            while not sent:  # a failed tick's lines are lost to the live feed, not the file
                logs.plugin_logger(plugin).info("two")
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
    health = feed.log_health()
    assert health.publish_error == "" and health.publish_failures == 2
    assert json.loads(sent[-1]["lines"])[-1][1].endswith("two")
