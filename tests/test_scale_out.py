"""Scale-out mode (SPEC T3): the same code on PostgreSQL and the Redis channel layer.

These tests need the local PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379). Where they
are missing the tests skip and say so; with JUPITER_REQUIRE_SERVICES=1 (CI) they fail instead.

The deployment tests run a real one (``tests/deployment.py``): two Daphne web processes (A
and B) and two ``jupiter_worker`` processes on a fresh PostgreSQL database, a Redis database
and one shared var/, with the same SECRET_KEY, set up once for the module. Tests that stop a
worker start another in its place, so they hold in any order.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from .deployment import ADMIN_PASSWORD, Browser, Deployment, wait_for, write_cycle, write_probe

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "JUPITER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("JUPITER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
DEPLOYMENT_REDIS_URL = os.environ.get(
    "JUPITER_TEST_DEPLOYMENT_REDIS_URL", "redis://127.0.0.1:6379/13"
)
IDLE_SECONDS = 60


def _unavailable(reason: str) -> None:
    if os.environ.get("JUPITER_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (JUPITER_REQUIRE_SERVICES=1 requires it)")
    pytest.skip(reason)


@pytest.fixture
def postgres_url():
    psycopg = pytest.importorskip("psycopg")
    name = f"jupiter_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _unavailable(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_postgres_migrates_syncs_and_enables(postgres_url, tmp_path):
    env = {
        "DATABASE_URL": postgres_url,
        "JUPITER_VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": "test-scale-out-key",
        "JUPITER_PROJECT_ROOTS": str(tmp_path),
    }
    demo = tmp_path / "demo"
    demo.mkdir()
    for args in (
        ("migrate", "--noinput"),
        ("jupiter_bootstrap", "--demo-root", str(demo), "--demo-name", "pgdemo"),
        ("jupiter_plugins", "enable", "code_analyzer", "--project", "pgdemo"),
    ):
        done = _manage(env, *args)
        assert done.returncode == 0, done.stderr
    listing = _manage(env, "jupiter_plugins", "list", "--json")
    rows = {row["id"]: row for row in json.loads(listing.stdout)}
    assert rows["code_analyzer"]["status"] == "ready"
    assert "code_analyzer:\n    enabled: true" in (demo / "pgdemo.jupiter.yaml").read_text()


def _redis_reachable(url: str) -> None:
    """Skip (or, with JUPITER_REQUIRE_SERVICES=1, fail) unless Redis answers at ``url``.

    Asked before the test talks to Redis: the channel layer connects lazily and raises
    redis' own errors (not ``OSError``) mid-test, which would be an error, not a skip.
    """
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
    except (OSError, redis.RedisError) as exc:
        _unavailable(f"Redis is not reachable at {url}: {exc}")


async def test_redis_channel_layer_delivers_group_messages():
    channels_redis = pytest.importorskip("channels_redis.core")
    _redis_reachable(REDIS_URL)
    layer = channels_redis.RedisChannelLayer(hosts=[REDIS_URL])
    channel = await layer.new_channel()
    await layer.group_add("jupiter-test", channel)
    await layer.group_send("jupiter-test", {"type": "plugin.status", "seq": 1})
    message = await layer.receive(channel)
    assert message == {"type": "plugin.status", "seq": 1}
    await layer.group_discard("jupiter-test", channel)
    await layer.flush()


# -- a real deployment: 2 web processes, 2 workers ------------------------------------------


class Scale:
    """The deployment and what the tests need to drive it."""

    def __init__(self, deployment: Deployment, db_url: str, var: Path) -> None:
        self.deployment = deployment
        self.db_url = db_url
        self.var = var
        (_, self.a), (_, self.b) = deployment.webs
        self.browser = Browser()
        self.idle: dict[str, Any] = {}

    def job(self, job_id: str) -> dict[str, Any]:
        import psycopg

        with psycopg.connect(self.db_url, autocommit=True) as db:
            row = db.execute(
                "SELECT state, runner, attempts, lost_worker, message, progress "
                "FROM plugins_app_job WHERE id = %s",
                [uuid.UUID(job_id)],
            ).fetchone()
        assert row is not None
        keys = ("state", "runner", "attempts", "lost_worker", "message", "progress")
        return dict(zip(keys, row, strict=True))

    def submit(self, port: int, job: str, plugin: str = "scale_probe") -> str:
        answer = self.browser.post(port, f"/plugins/{plugin}/jobs/{job}/run/", {"project": "demo"})
        location = answer.headers.get("location", "")
        found = re.search(r"/jobs/([0-9a-f-]{36})/", location)
        assert answer.status == 302 and found, f"{answer.status} {location} {answer.text[:300]}"
        return found.group(1)

    def running(self, job_id: str, timeout: float = 20) -> dict[str, Any]:
        return wait_for(
            lambda: (row := self.job(job_id))["state"] == "running" and row["runner"] and row,
            timeout,
            f"job {job_id} to run",
        )

    def websocket(self, port: int, path: str) -> Any:
        from websockets.sync.client import connect

        cookie = f"sessionid={self.browser.cookies['sessionid']}"
        return connect(
            f"ws://127.0.0.1:{port}{path}",
            origin=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie},
            open_timeout=10,
            proxy=None,
        )


def _idle_websocket(scale: Scale) -> None:
    """Hold a WebSocket on B through the Redis layer with nothing to say, for IDLE_SECONDS.

    It follows a job that has finished (one the admin may see, so the stream is accepted, and
    that will never send another event).
    """
    state = scale.idle
    try:
        job_id = scale.submit(scale.a, "work")
        wait_for(lambda: scale.job(job_id)["state"] == "completed", 90, f"job {job_id} to end")
        with scale.websocket(scale.b, f"/ws/jobs/job/{job_id}/") as ws:
            state["opened"] = time.monotonic()
            deadline = state["opened"] + IDLE_SECONDS
            while (left := deadline - time.monotonic()) > 0:
                try:
                    ws.recv(timeout=left)
                    state["outcome"] = "a message arrived on an idle stream"
                    return
                except TimeoutError:
                    continue
            ws.ping().wait(5)
            state["outcome"] = "open"
    except Exception as exc:  # the outcome says what closed it
        state["outcome"] = f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="module")
def scale(tmp_path_factory) -> Iterator[Scale]:
    psycopg = pytest.importorskip("psycopg")
    redis = pytest.importorskip("redis")
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _unavailable(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    _redis_reachable(DEPLOYMENT_REDIS_URL)
    redis.Redis.from_url(DEPLOYMENT_REDIS_URL, socket_timeout=3).flushdb()
    name = f"jupiter_scale_{uuid.uuid4().hex[:10]}"
    root = tmp_path_factory.mktemp("scale")
    var, plugins, demo, runs = (
        root / "var",
        root / "var" / "test-plugins",
        root / "demo",
        root / "run",
    )
    for folder in (demo, runs):
        folder.mkdir()
    write_probe(plugins)
    db_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    deployment = Deployment(
        {
            "DATABASE_URL": db_url,
            "REDIS_URL": DEPLOYMENT_REDIS_URL,
            "SECRET_KEY": f"scale-out-{uuid.uuid4().hex}",
            "JUPITER_VAR_DIR": str(var),
            "JUPITER_PROJECT_ROOTS": str(root),
            "JUPITER_PLUGIN_DIRS": str(plugins),
            "JUPITER_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "JUPITER_JOB_WORKERS": "4",
            "JUPITER_WORKER_DRAIN": "20",
            "JUPITER_CATALOGUES": str(var / "catalogue" / "index.json"),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
        },
        runs,
    )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            deployment.manage("migrate", "--noinput")
            deployment.manage("jupiter_bootstrap", "--demo-root", str(demo), "--demo-name", "demo")
            deployment.manage("jupiter_plugins", "enable", "scale_probe", "--project", "demo")
            for _ in range(2):
                deployment.start_web()
            for _ in range(2):
                deployment.start_worker()
            deployment.wait_ready()
            scale = Scale(deployment, db_url, var)
            scale.browser.login(scale.a, "admin", ADMIN_PASSWORD)
            idle = threading.Thread(target=_idle_websocket, args=(scale,), daemon=True)
            idle.start()
            scale.idle["thread"] = idle
            yield scale
        except BaseException:
            print(deployment.report())
            raise
        finally:
            deployment.close()
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.services
def test_a_job_submitted_on_a_runs_on_a_worker_and_is_seen_live_on_b(scale):
    job_id = scale.submit(scale.a, "work")
    events: list[dict[str, Any]] = []
    with scale.websocket(scale.b, f"/ws/jobs/job/{job_id}/") as ws:
        deadline = time.monotonic() + 30
        while not events or events[-1]["type"] not in {"JOB_COMPLETED", "JOB_FAILED"}:
            events.append(json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic()))))
    kinds = [event["type"] for event in events]
    assert "JOB_PROGRESS" in kinds and kinds[-1] == "JOB_COMPLETED", kinds
    seqs = [event["seq"] for event in events]
    assert seqs == sorted(seqs)
    row = scale.job(job_id)
    assert row["state"] == "completed" and row["attempts"] == 1
    assert any(w.pid == int(row["runner"].split(":")[1]) for w in scale.deployment.workers)


@pytest.mark.services
def test_kill_9_of_a_worker_mid_job_retries_it_within_30_s_without_the_breaker(scale):
    job_id = scale.submit(scale.a, "long")
    row = scale.running(job_id)
    victim = scale.deployment.worker_of(row["runner"])
    victim.popen.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    try:
        moved = wait_for(
            lambda: (now := scale.job(job_id))["runner"] != row["runner"] and now,
            30,
            "the job of the killed worker to be retried or failed",
            pause=0.2,
        )
        assert time.monotonic() - killed < 30
        assert moved["state"] in {"pending", "running", "failed"}, moved
        if moved["state"] == "failed":
            assert moved["lost_worker"], moved
        else:
            assert "queued again" in moved["message"] or moved["attempts"] == 2, moved
        # a lost worker is not the plugin's fault: its jobs are still accepted
        other = scale.submit(scale.b, "work")
        scale.browser.post(scale.a, f"/jobs/{other}/cancel/")
    finally:
        scale.browser.post(scale.a, f"/jobs/{job_id}/cancel/")
        scale.deployment.replace(victim)


@pytest.mark.services
def test_sigterm_lets_the_running_job_finish(scale):
    job_id = scale.submit(scale.a, "work")
    row = scale.running(job_id)
    worker = scale.deployment.worker_of(row["runner"])
    worker.popen.send_signal(signal.SIGTERM)
    try:
        try:
            worker.popen.wait(30)
        except subprocess.TimeoutExpired:  # show where it hangs (PYTHONFAULTHANDLER)
            worker.popen.send_signal(signal.SIGABRT)
            time.sleep(2)
            raise AssertionError(f"the worker did not stop:\n{worker.tail(400)}") from None
        assert worker.popen.returncode == 0
        done = scale.job(job_id)
        assert done["state"] == "completed" and done["runner"] == row["runner"], done
        assert "Stopped." in worker.tail()
    finally:
        scale.deployment.replace(worker)


@pytest.mark.services
def test_enable_update_and_uninstall_on_a_are_followed_by_b_within_2_s(scale, tmp_path):
    browser, a, b = scale.browser, scale.a, scale.b

    def version_on_b() -> str | None:
        answer = browser.get(b, "/api/plugins/scale_cycle/version")
        return answer.json()["version"] if answer.status == 200 else None

    catalogue = scale.var / "catalogue"
    key = tmp_path / "keys" / "me"
    key.parent.mkdir()
    call_command("jupiter_plugins", "keygen", str(key), stdout=io.StringIO())
    for version in ("1.0.0", "2.0.0"):
        folder = write_cycle(tmp_path, version)
        call_command(
            "jupiter_plugins",
            "pack",
            str(folder),
            "--key",
            f"{key}.key",
            "--out",
            str(catalogue),
            "--index",
            str(catalogue / "index.json"),
            stdout=io.StringIO(),
        )

    def install(version: str) -> None:
        """The console's way: stage from the catalogue on A, review, confirm (an update when
        a version is installed)."""
        form = {"source": "catalogue", "plugin_id": "scale_cycle", "version": version}
        staged = browser.post(a, "/catalogue/stage/", form)
        review = staged.headers.get("location", "")
        assert staged.status == 302 and "/catalogue/review/" in review, staged.text[:300]
        done = browser.post(a, f"{review}confirm/", {"decision": "install"})
        assert done.status == 302 and "/plugins/scale_cycle/" in done.headers["location"]

    install("1.0.0")
    assert version_on_b() is None
    enabled = browser.post(a, "/projects/demo/plugins/scale_cycle/", {"enabled": "true"})
    assert enabled.status in {200, 302}, enabled.text[:300]
    started = time.monotonic()
    assert wait_for(version_on_b, 2, "B to serve scale_cycle", pause=0.2) == "1.0.0"
    assert time.monotonic() - started < 2

    install("2.0.0")
    started = time.monotonic()
    wait_for(lambda: version_on_b() == "2.0.0", 2, "B to serve scale_cycle 2.0.0", pause=0.2)
    assert time.monotonic() - started < 2

    gone = browser.post(
        a, "/plugins/scale_cycle/uninstall/", {"settings": "purge", "confirm": "uninstall"}
    )
    assert gone.status == 302, gone.text[:300]
    wait_for(lambda: version_on_b() is None, 2, "B to stop serving scale_cycle", pause=0.2)


@pytest.mark.services
def test_a_line_logged_by_a_plugin_in_a_worker_reaches_a_viewer_on_b_within_1_s(scale):
    with scale.websocket(scale.b, "/ws/plugins/scale_probe/logs/") as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "snapshot"
        job_id = scale.submit(scale.a, "work")
        delays: list[float] = []
        deadline = time.monotonic() + 20
        while len(delays) < 5 and time.monotonic() < deadline:
            message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            arrived = time.time()
            for _, text in message.get("lines", []):
                if found := re.search(r"step \d+ at (\d+\.\d+)", text):
                    delays.append(arrived - float(found.group(1)))
    assert len(delays) >= 5, delays
    assert max(delays) < 1.0, delays
    row = scale.job(job_id)
    worker_pids = {w.pid for w in scale.deployment.workers}
    assert int(row["runner"].split(":")[1]) in worker_pids  # logged in a worker, not in B


@pytest.mark.services
def test_health_of_a_plugin_runs_once_per_interval_across_the_deployment(scale):
    log = scale.var / "plugin-data" / "scale_probe" / "health.log"
    wait_for(log.exists, 15, "a first health check")
    start = time.time()
    time.sleep(6)
    stamps = [float(line.split()[0]) for line in log.read_text().splitlines() if line]
    window = [t for t in stamps if start <= t < start + 6]
    # interval 1 s: about 6 checks; 4 host processes each checking would make about 24
    assert 3 <= len(window) <= 8, window


@pytest.mark.services
def test_metrics_are_collected_once_and_read_the_same_from_every_process(scale):
    def same() -> str | None:
        a = scale.browser.get(scale.a, "/metrics").text
        b = scale.browser.get(scale.b, "/metrics").text
        return a if a == b and 'jupiter_plugin_answer{plugin="scale_probe"} 42.0' in a else None

    text = wait_for(same, 15, "/metrics to agree on A and B", pause=0.1)
    assert 'jupiter_plugin_metrics_up{plugin="scale_probe"} 1.0' in text
    card = scale.browser.get(scale.b, "/api/plugins/scale_probe/metrics").json()
    assert card["values"] == {"answer": 42.0} and card["error"] == ""


@pytest.mark.services
def test_an_idle_websocket_through_redis_stays_open_for_60_s(scale):
    """redis-py 8's 5 s read timeout closed idle sockets every few seconds with 1011
    (channels_redis #422): settings give reads more time than the layer's blocking pop."""
    scale.idle["thread"].join(IDLE_SECONDS + 120)
    assert scale.idle.get("outcome") == "open", scale.idle
    assert datetime.now().year >= 2025  # the clock the delays above rely on is sane
