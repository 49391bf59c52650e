"""Benchmark: plugin log lines to a connected WebSocket client, rate cap on (SPEC O2, X8).

A plugin thread logs through its Bridge logger (files + live feed) while a client is
connected to the log consumer through the channel layer, in one process as with Daphne.

0. Host-side cost of the lines a plugin process ships (batches of 2,000 every 50 ms, its
   forwarder's most): CPU per line when each is logged through the plugin's logger, as the
   host did, against ``log_lines`` (one pass, one write per file): the time the host takes
   from its event loop (the GIL) while a plugin floods.
1. Unthrottled: how many lines/s the logger ingests (written to both files and queued).
2. Steady 20,000 lines/s for a few seconds: lines delivered to the client, lines counted as
   dropped by the cap, p95 latency from the log call to the client receiving the line, and
   the process's resident memory growth (bounded buffers: it must not grow with the load).

Run: .venv/bin/python bench/logs.py   (prints figures, asserts nothing)
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jupiter_site.settings")
os.environ.setdefault("JUPITER_VAR_DIR", tempfile.mkdtemp(prefix="jupiter-bench-logs-"))

import django

django.setup()

from channels.routing import URLRouter  # noqa: E402
from channels.testing import WebsocketCommunicator  # noqa: E402

from plugins_app.logs.hub import log_lines, plugin_logger  # noqa: E402
from plugins_app.web.consumers import logs as consumers  # noqa: E402
from plugins_app.web.routing import websocket_urlpatterns  # noqa: E402

PLUGIN = "bench_plugin"
RATE = 20_000
SECONDS = 5.0


class _User:
    is_authenticated = True


def _with_user(app):
    async def wrapped(scope, receive, send):
        return await app({**scope, "user": _User()}, receive, send)

    return wrapped


async def _allowed(user: object, plugin_id: str) -> bool:
    return True


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def produce(count: int, rate: float | None) -> float:
    """Log ``count`` lines carrying their send time; returns the elapsed seconds."""
    log = plugin_logger(PLUGIN)
    start = time.perf_counter()
    for i in range(count):
        if rate and i % 200 == 0:
            ahead = start + i / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
        log.info("t=%d line %d", time.perf_counter_ns(), i)
    return time.perf_counter() - start


def shipped_cost() -> None:
    """CPU per shipped line: logger per line against one ``log_lines`` pass per batch."""
    batch = [(20, f"flood line {n} with some words in it") for n in range(2000)]
    log = plugin_logger("shipped")

    def per_line() -> None:
        for level, message in batch:
            log.log(level, "%s", message)

    def batched() -> None:
        log_lines("shipped", batch)

    for label, ingest in (("logger per line", per_line), ("log_lines per batch", batched)):
        ingest()  # open the files
        started = time.thread_time()
        for _ in range(25):
            ingest()
        per = (time.thread_time() - started) / (25 * len(batch))
        print(
            f"host cost of shipped lines, {label}: {per * 1e6:.2f} us/line "
            f"({per * 40_000 * 1000:.0f} ms of CPU per second at 40,000 lines/s)"
        )


async def run() -> None:
    consumers._may_read_logs = _allowed  # no database needed for the benchmark
    app = _with_user(URLRouter(websocket_urlpatterns))
    client = WebsocketCommunicator(app, f"/ws/plugins/{PLUGIN}/logs/")
    connected, _ = await client.connect()
    assert connected
    await client.receive_json_from(timeout=5)  # the snapshot

    async def drain(until: float) -> tuple[list[float], int, int]:
        latencies, delivered, dropped = [], 0, 0
        while time.perf_counter() < until:
            try:  # read the queue directly: a communicator timeout would cancel the consumer
                wait = max(0.05, until - time.perf_counter())
                event = await asyncio.wait_for(client.output_queue.get(), wait)
            except TimeoutError:
                break
            message = json.loads(event["text"])
            now = time.perf_counter_ns()
            dropped += message.get("dropped", 0)
            for _, text in message.get("lines", []):
                stamp = text.split("t=", 1)[1].split(" ", 1)[0]
                latencies.append((now - int(stamp)) / 1e6)
                delivered += 1
        return latencies, delivered, dropped

    loop = asyncio.get_running_loop()
    count = 200_000
    elapsed = await loop.run_in_executor(None, produce, count, None)
    await drain(time.perf_counter() + 1.0)
    print(
        f"unthrottled ingest: {count / elapsed:,.0f} lines/s ({count:,} lines in {elapsed:.2f} s)"
    )

    rss_before = _rss_mb()
    total = int(RATE * SECONDS)
    done = threading.Event()
    producer = loop.run_in_executor(None, lambda: (produce(total, RATE), done.set()))
    latencies, delivered, dropped = await drain(time.perf_counter() + SECONDS + 1.5)
    await producer
    rss_after = _rss_mb()
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95)] if latencies else float("nan")
    print(f"steady load: {total:,} lines at {RATE:,} lines/s for {SECONDS:g} s")
    print(
        f"  delivered to the client: {delivered:,} ({delivered / SECONDS:,.0f} lines/s, cap "
        f"{consumers.MESSAGES_PER_SECOND * consumers.LINES_PER_MESSAGE:,} lines/s)"
    )
    print(f"  counted as dropped by the cap: {dropped:,}")
    print(
        f"  latency log call -> client: p50 {statistics.median(latencies):.0f} ms, "
        f"p95 {p95:.0f} ms, max {latencies[-1]:.0f} ms"
    )
    print(f"  resident memory: {rss_before:.0f} MB -> {rss_after:.0f} MB")
    await client.disconnect()


if __name__ == "__main__":
    shipped_cost()
    asyncio.run(run())
