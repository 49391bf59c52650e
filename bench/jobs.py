"""Benchmark: job overhead from submit to completed, and throughput with 1,000 queued jobs.

Run with `python bench/jobs.py` (or `make bench`). It uses a throwaway var/ directory (its own
SQLite database in WAL mode) and a synthetic plugin whose job does nothing, so what is timed
is the host: the breaker check and INSERT at submit, the queue, the claim, the job thread,
the final UPDATE and the events. Target (embedded mode): under 5 ms per job.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="jupiter-bench-jobs-"))
PLUGINS = WORK / "plugins"
os.environ["JUPITER_VAR_DIR"] = str(WORK / "var")
os.environ["JUPITER_PLUGIN_DIRS"] = str(PLUGINS)
os.environ["JUPITER_LOG_LEVEL"] = "WARNING"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jupiter_site.settings")

SEQUENTIAL = 300
QUEUED = 1000
TARGET_MS = 5.0
_tasks: list = []  # keeps the drain task alive


def _setup():
    import django
    from django.core.management import call_command

    (PLUGINS / "bench_noop").mkdir(parents=True)
    (PLUGINS / "bench_noop" / "plugin.yaml").write_text(
        "id: bench_noop\nname: Bench no-op\nversion: 1.0.0\ntype: tool\n"
        "entrypoint: 'noop:register'\n"
    )
    (PLUGINS / "bench_noop" / "noop.py").write_text(
        "def register(bridge):\n    bridge.register_job('noop', lambda job: None)\n"
    )
    django.setup()
    call_command("migrate", verbosity=0)
    from plugins_app.kernel.runtime import boot
    from plugins_app.projects.service import register_project, set_plugin_enabled

    boot()
    (WORK / "project").mkdir()
    project = register_project("bench", WORK / "project")
    set_plugin_enabled(project, "bench_noop", True)
    return project


def _listen(project: str) -> None:
    """What a connected page does: a consumer's loop attached, its channel in the group."""
    import asyncio
    import threading

    from channels.layers import get_channel_layer

    from plugins_app.jobs.events import project_group, publisher

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    layer = get_channel_layer()

    async def join() -> None:
        channel = await layer.new_channel()
        await layer.group_add(project_group(project), channel)

        async def drain() -> None:
            while True:
                await layer.receive(channel)

        _tasks.append(asyncio.ensure_future(drain()))

    asyncio.run_coroutine_threadsafe(join(), loop).result()
    publisher().attach_loop(loop)


def main() -> None:
    project = _setup()
    from plugins_app.base import conf
    from plugins_app.jobs.api import executor, submit
    from plugins_app.models import Job, JobState

    workers = conf.get().job_workers
    for _ in range(20):  # warm-up: threads, connections, caches
        executor().wait(str(submit("bench_noop", "noop", project=project).pk), 30)
    Job.objects.all().delete()

    def overhead(label: str) -> None:
        durations = []
        for _ in range(SEQUENTIAL):
            started = time.perf_counter()
            job = submit("bench_noop", "noop", project=project)
            executor().wait(str(job.pk), 30)
            durations.append((time.perf_counter() - started) * 1000)
        durations.sort()
        median = statistics.median(durations)
        p95 = durations[int(len(durations) * 0.95) - 1]
        print(f"overhead per no-op job, submit -> completed, {label} ({SEQUENTIAL} jobs):")
        mean = statistics.mean(durations)
        print(f"  median {median:.2f} ms, mean {mean:.2f} ms, p95 {p95:.2f} ms")
        verdict = "OK" if median < TARGET_MS else "OVER TARGET"
        print(f"  target < {TARGET_MS:g} ms: {verdict}")
        Job.objects.all().delete()

    overhead("nobody watching")
    _listen(project.name)
    overhead("a page listening on the project's WebSocket group")

    started = time.perf_counter()
    ids = [str(submit("bench_noop", "noop", project=project).pk) for _ in range(QUEUED)]
    submitted = time.perf_counter() - started
    for job_id in ids:
        executor().wait(job_id, 120)
    elapsed = time.perf_counter() - started
    completed = Job.objects.filter(state=JobState.COMPLETED).count()
    print(f"throughput with {QUEUED} queued jobs ({workers} workers):")
    print(f"  submitted in {submitted:.2f} s ({QUEUED / submitted:.0f}/s)")
    print(f"  all settled in {elapsed:.2f} s: {QUEUED / elapsed:.0f} jobs/s, {completed} completed")


if __name__ == "__main__":
    main()
