"""Benchmark: job throughput with 1, 2 and 4 worker processes, and submit -> completed latency.

Run with `python bench/scale.py` (or `make bench`). Embedded mode (SQLite in WAL mode, a
throwaway var/): real `manage.py jupiter_worker` processes (one job thread each) claim jobs
that this process submits, as a web process would. A job spins the CPU for `SPIN_MS` in its
plugin's process, so throughput should grow about linearly with the workers up to the
machine's cores, then flatten. The latency figure is one idle worker woken by the doorbell:
a no-op job from submit to its `completed` row. Goals: near-linear scaling up to the core
count, median latency <= 10 ms.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="jupiter-bench-scale-"))
PLUGINS = WORK / "plugins"
ENV = {
    "JUPITER_VAR_DIR": str(WORK / "var"),
    "JUPITER_PLUGIN_DIRS": str(PLUGINS),
    "JUPITER_LOG_LEVEL": "WARNING",
    "JUPITER_JOB_WORKERS": "16",
    "JUPITER_WORKER_DRAIN": "10",
}
os.environ.update(ENV)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jupiter_site.settings")

SPIN_MS = 50
JOBS = 120
LATENCY_JOBS = 100
TARGET_MS = 10.0

PLUGIN = """\
import time


def spin(job, ms=50):
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass


def register(bridge):
    bridge.register_job("spin", spin)
    bridge.register_job("noop", lambda job: None)
"""


def _setup():
    import django
    from django.core.management import call_command

    folder = PLUGINS / "bench_scale"
    folder.mkdir(parents=True)
    (folder / "plugin.yaml").write_text(
        "id: bench_scale\nname: Bench scale\nversion: 1.0.0\ntype: tool\n"
        "entrypoint: 'spin:register'\n"
    )
    (folder / "spin.py").write_text(PLUGIN)
    django.setup()
    call_command("migrate", verbosity=0)
    from plugins_app.kernel.runtime import boot
    from plugins_app.projects.service import register_project, set_plugin_enabled

    boot()  # discovers and syncs the plugin
    (WORK / "project").mkdir()
    project = register_project("bench", WORK / "project")
    set_plugin_enabled(project, "bench_scale", True)
    return project


def _workers(count: int) -> list[subprocess.Popen[bytes]]:
    argv = [sys.executable, "manage.py", "jupiter_worker", "--threads", "1"]
    started = []
    for n in range(count):
        log = (WORK / f"worker-{count}-{n}.log").open("wb")
        started.append(
            subprocess.Popen(
                argv, cwd=ROOT, env={**os.environ, **ENV}, stdout=log, stderr=subprocess.STDOUT
            )
        )
    deadline = time.monotonic() + 60
    for n in range(count):
        log_path = WORK / f"worker-{count}-{n}.log"
        while "Jupiter worker" not in log_path.read_text(errors="replace"):
            if time.monotonic() > deadline:
                raise SystemExit(f"worker {n} did not start:\n{log_path.read_text()}")
            time.sleep(0.05)
    return started


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _settled(ids: list[str]) -> int:
    from plugins_app.models import FINAL_JOB_STATES, Job

    return Job.objects.filter(pk__in=ids, state__in=list(FINAL_JOB_STATES)).count()


def throughput(project, count: int) -> float:
    from plugins_app.jobs.api import submit
    from plugins_app.models import Job

    workers = _workers(count)
    try:
        for _ in range(count * 2):  # warm-up: every worker's plugin process answers once
            job = submit("bench_scale", "noop", project=project)
            while not _settled([str(job.pk)]):
                time.sleep(0.005)
        started = time.perf_counter()
        ids = [
            str(submit("bench_scale", "spin", project=project, params={"ms": SPIN_MS}).pk)
            for _ in range(JOBS)
        ]
        deadline = time.monotonic() + 300
        while _settled(ids) < JOBS and time.monotonic() < deadline:
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        completed = Job.objects.filter(pk__in=ids, state="completed").count()
    finally:
        _stop(workers)
    rate = completed / elapsed
    ideal = min(count, os.cpu_count() or 1) * 1000 / SPIN_MS
    print(
        f"  {count} worker(s): {rate:6.1f} jobs/s ({completed}/{JOBS} completed in "
        f"{elapsed:.2f} s; CPU-bound ideal {ideal:.0f}/s)"
    )
    return rate


def latency(project) -> None:
    from plugins_app.jobs.api import submit
    from plugins_app.models import Job

    workers = _workers(1)
    try:
        for _ in range(10):
            job = submit("bench_scale", "noop", project=project)
            while not _settled([str(job.pk)]):
                time.sleep(0.001)
        durations, ids = [], []
        for _ in range(LATENCY_JOBS):
            time.sleep(0.02)  # the worker is idle, waiting on its doorbell
            started = time.perf_counter()
            job = submit("bench_scale", "noop", project=project)
            key = str(job.pk)
            ids.append(key)
            while not Job.objects.filter(pk=key, state="completed").exists():
                time.sleep(0.0005)
            durations.append((time.perf_counter() - started) * 1000)
    finally:
        _stop(workers)
    durations.sort()
    median = statistics.median(durations)
    p95 = durations[int(len(durations) * 0.95) - 1]
    verdict = "OK" if median <= TARGET_MS else "OVER TARGET"
    rows = Job.objects.filter(pk__in=ids).values_list("created_at", "started_at", "finished_at")
    claim = statistics.median((s - c).total_seconds() * 1000 for c, s, _ in rows)
    run = statistics.median((f - s).total_seconds() * 1000 for _, s, f in rows)
    print(f"submit -> completed, no-op job, one idle worker process ({LATENCY_JOBS} jobs):")
    print(f"  median {median:.2f} ms, p95 {p95:.2f} ms; target <= {TARGET_MS:g} ms: {verdict}")
    print(f"  medians: row created -> running {claim:.2f} ms, running -> finished {run:.2f} ms")


def main() -> None:
    project = _setup()
    cores = os.cpu_count() or 1
    print(f"throughput, jobs spinning {SPIN_MS} ms of CPU each ({JOBS} jobs, {cores} cores):")
    if "--latency" not in sys.argv:
        rates = {count: throughput(project, count) for count in (1, 2, 4)}
        for count in (2, 4):
            print(f"  speed-up x{rates[count] / rates[1]:.2f} with {count} workers")
    latency(project)


if __name__ == "__main__":
    main()
