"""Benchmark: what running plugins in processes of their own costs (SPEC X3).

Run with `python bench/isolation.py` (or `make bench`). It uses a throwaway var/ directory
(its own SQLite database in WAL mode) and synthetic plugins, and prints:

- the RPC round trip of a no-op call, host -> plugin process (a public API function that
  returns at once) and plugin process -> host (``bridge.services.get_config()``, which also
  reads the database), p50 and p99;
- the start time of a plugin process (spawn, Landlock, import, ``register``), p50;
- the idle resident memory of a plugin process (goal <= 40 MB);
- the overhead of a no-op job, submit -> completed, with the in-process worker (goal <=
  10 ms median);
- the console's latency, ``GET /plugins.json`` through Django's test client, while a
  plugin burns CPU in a job, against the same with nothing running (goal p99 < 200 ms).

Prints figures; asserts nothing.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="jupiter-bench-isolation-"))
PLUGINS = WORK / "plugins"
os.environ["JUPITER_VAR_DIR"] = str(WORK / "var")
os.environ["JUPITER_PLUGIN_DIRS"] = str(PLUGINS)
os.environ["JUPITER_LOG_LEVEL"] = "WARNING"
os.environ["ALLOWED_HOSTS"] = "testserver"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jupiter_site.settings")

CALLS = 2000
STARTS = 20
JOBS = 300
REQUESTS = 300
RSS_GOAL_MB = 40
JOB_GOAL_MS = 10
CONSOLE_GOAL_MS = 200

BENCH_PLUGIN = """
import time


def burn(job, seconds=60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not job.is_cancelled():
        pass
    return "burnt"


def register(bridge):
    services = bridge.services

    def host_calls(count):
        durations = []
        for _ in range(count):
            started = time.perf_counter()
            services.get_config()
            durations.append(time.perf_counter() - started)
        return durations

    bridge.register_job("noop", lambda job: None)
    bridge.register_job("burn", burn)
    bridge.expose({"noop": lambda: None, "host_calls": host_calls})
"""


def _setup():
    import django
    from django.core.management import call_command

    (PLUGINS / "bench_iso").mkdir(parents=True)
    (PLUGINS / "bench_iso" / "plugin.yaml").write_text(
        "id: bench_iso\nname: Bench isolation\nversion: 1.0.0\ntype: tool\n"
        "entrypoint: 'main:register'\ncapabilities: {jobs: {timeout: 600}}\n"
    )
    (PLUGINS / "bench_iso" / "main.py").write_text(BENCH_PLUGIN)
    django.setup()
    call_command("migrate", verbosity=0)
    from plugins_app.kernel.runtime import boot
    from plugins_app.projects.service import register_project, set_plugin_enabled

    boot()
    (WORK / "project").mkdir()
    project = register_project("bench", WORK / "project")
    set_plugin_enabled(project, "bench_iso", True)
    return project


def quantiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p99, max, in milliseconds."""
    ordered = sorted(values)
    p99 = ordered[max(0, round(0.99 * len(ordered)) - 1)]
    return statistics.median(ordered) * 1e3, p99 * 1e3, ordered[-1] * 1e3


def timed(call: Callable[[], object], count: int) -> list[float]:
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        durations.append(time.perf_counter() - started)
    return durations


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no VmRSS for {pid}")


def rpc() -> None:
    from plugins_app.kernel.runtime import get_runtime

    api = get_runtime().bridge.registration("bench_iso").public_api
    timed(api["noop"], 200)  # warm-up
    p50, p99, worst = quantiles(timed(api["noop"], CALLS))
    print(f"RPC round trip, host -> plugin, no-op public API call ({CALLS} calls):")
    print(f"  p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {worst:.2f} ms")
    p50, p99, worst = quantiles(api["host_calls"](CALLS))
    print(f"RPC round trip, plugin -> host, services.get_config() ({CALLS} calls, DB read):")
    print(f"  p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {worst:.2f} ms")


def starts() -> None:
    from plugins_app.kernel.runtime import get_runtime
    from plugins_app.kernel.supervisor import Supervisor
    from plugins_app.services.provider import ServiceProvider

    manifest = get_runtime().manifests["bench_iso"]
    scratch = Supervisor(ServiceProvider())
    durations, rss = [], []
    try:
        for _ in range(STARTS):
            started = time.perf_counter()
            scratch.load(manifest)
            durations.append(time.perf_counter() - started)
            time.sleep(0.3)  # idle: the log forwarder and the endpoint settle
            process = scratch.process("bench_iso")
            assert process is not None and process.pid is not None
            rss.append(rss_mib(process.pid))
            scratch.stop("bench_iso")
    finally:
        scratch.close()
    p50, p99, worst = quantiles(durations)
    print(f"plugin process start (spawn, confine, import, register; {STARTS} starts):")
    print(f"  p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {worst:.0f} ms")
    idle = statistics.median(rss)
    verdict = "OK" if idle <= RSS_GOAL_MB else "OVER GOAL"
    print(f"idle RSS per plugin process: median {idle:.1f} MiB, max {max(rss):.1f} MiB")
    print(f"  goal <= {RSS_GOAL_MB} MB: {verdict}")


def jobs(project) -> None:
    from plugins_app.jobs.api import executor, submit
    from plugins_app.models import Job

    def one() -> None:
        executor().wait(str(submit("bench_iso", "noop", project=project).pk), 30)

    timed(one, 20)  # warm-up
    Job.objects.all().delete()
    p50, p99, worst = quantiles(timed(one, JOBS))
    verdict = "OK" if p50 <= JOB_GOAL_MS else "OVER GOAL"
    print(f"job overhead, submit -> completed, in-process worker ({JOBS} no-op jobs):")
    print(f"  median {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.2f} ms")
    print(f"  goal <= {JOB_GOAL_MS} ms median: {verdict}")
    Job.objects.all().delete()


def console(project) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connections
    from django.test import Client

    from plugins_app.jobs.api import cancel, executor, submit
    from plugins_app.models import Job, JobState

    client = Client()
    client.force_login(get_user_model().objects.create_user("bench", password="bench-pw-1"))

    def get() -> None:
        response = client.get("/plugins.json")
        assert response.status_code == 200, response.status_code

    def measured() -> list[float]:
        durations: list[float] = []

        def run() -> None:
            durations.extend(timed(get, REQUESTS))
            connections.close_all()

        thread = threading.Thread(target=run)  # a request thread, as under Daphne
        thread.start()
        thread.join()
        return durations

    timed(get, 20)  # warm-up
    quiet = quantiles(measured())
    job = submit("bench_iso", "burn", project=project)
    deadline = time.monotonic() + 10
    while not Job.objects.filter(pk=job.pk, state=JobState.RUNNING).exists():
        assert time.monotonic() < deadline, "the burning job never started"
        time.sleep(0.01)
    time.sleep(0.5)
    busy = quantiles(measured())
    cancel(job)
    executor().wait(str(job.pk), 30)
    print(f"console GET /plugins.json, test client in a request thread ({REQUESTS} requests):")
    print(f"  idle:                       p50 {quiet[0]:.1f} ms, p99 {quiet[1]:.1f} ms")
    print(f"  a plugin burning CPU in a job: p50 {busy[0]:.1f} ms, p99 {busy[1]:.1f} ms")
    verdict = "OK" if busy[1] < CONSOLE_GOAL_MS else "OVER GOAL"
    print(f"  goal p99 < {CONSOLE_GOAL_MS} ms while it burns: {verdict}")


def main() -> None:
    project = _setup()
    from plugins_app.sdk.confinement import landlock_abi

    print(f"isolation benchmark (Landlock ABI {landlock_abi()}, {os.cpu_count()} CPUs)")
    rpc()
    starts()
    jobs(project)
    console(project)
    from plugins_app.kernel.runtime import reset_runtime

    reset_runtime()


if __name__ == "__main__":
    main()
