"""Benchmark: the console's pages with 10, 200 and 1,000 plugins installed, on a real Daphne.

Run with `python bench/pages.py` (or `make bench`). For each size: a temporary var dir and
plugin folder (50 plugins enabled in the measured project, or all when fewer), a project
holding a recorded 20,000-file scan and analysis, Daphne on 127.0.0.1, then `wrk` (two
connections, as the issue measured; a bounded Python client loop when wrk is missing)
against `/plugins/`, `/plugins.json`, a plugin page and the project page, each beside a bare
Django view served by the same process in the same run. Printed per page: req/s, p50, p99,
the ratio to the bare view, the response size and the server time of one request alone.
Goals (issue 17): every page >= 50% of the bare view's req/s at 200 plugins; at 1,000
plugins no page over 100 KB nor 50 ms.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
SIZES = (10, 200, 1000)
ENABLED = 50
ANALYSED_FILES = 20_000
SECONDS = 4
CONNECTIONS = 2


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _plugins(folder: Path, count: int) -> None:
    for n in range(count):
        plugin = folder / f"bench_{n:04}"
        plugin.mkdir(parents=True)
        settings = (
            "config_schema:\n  version: 1\n  schema:\n    type: object\n    properties:\n"
            "      level: {type: integer, default: 1}\n"
            if n % 3 == 0
            else ""
        )
        (plugin / "plugin.yaml").write_text(
            f"id: bench_{n:04}\nname: Bench plugin {n}\nversion: 1.0.{n}\n"
            f"type: {'system' if n % 4 == 0 else 'tool'}\nentrypoint: 'main:register'\n"
            f"description: Generated plugin number {n} for the page benchmark.\n"
            "permissions:\n  - fs_read\n  - emit_events\n" + settings
        )
        (plugin / "main.py").write_text("def register(bridge):\n    pass\n")


def _analysed_project(project: Any) -> None:
    """A recorded scan and analysis of a 20,000-file project, as the jobs would store them."""
    from plugins_app.jobs.scan import analysis_overview
    from plugins_app.models import HistoryEntry, HistoryKind, ProjectGraph

    files = [f"src/pkg{n // 100}/m{n}.py" for n in range(ANALYSED_FILES)]
    ProjectGraph.objects.create(
        project=project,
        nodes=[{"path": f, "language": "python"} for f in files],
        edges=[{"source": f, "target": "os", "internal": False} for f in files],
    )
    HistoryEntry.objects.create(
        project=project,
        kind=HistoryKind.SCAN,
        summary=f"{ANALYSED_FILES} files scanned, 0 ignored",
        data={
            "files": ANALYSED_FILES,
            "ignored": 0,
            "by_extension": {".py": ANALYSED_FILES},
            "internal_imports": ANALYSED_FILES,
            "external_modules": [f"lib{n}" for n in range(300)],
            "python_files": ANALYSED_FILES,
            "plugins": {},
        },
    )
    stats = [
        {"path": f, "lines": 60, "classes": 1, "functions": [], "imports": [], "error": ""}
        for f in files
    ]
    findings = [
        {"file": f, "line": 3, "rule": "complexity", "message": f"f has complexity 12 in {f}"}
        for f in files[::4]
    ]
    plugins = {"code_analyzer": {"result": {"files": stats}, "error": "", "findings": findings}}
    HistoryEntry.objects.create(
        project=project,
        kind=HistoryKind.ANALYSIS,
        summary=f"{len(findings)} findings from 1 plugin",
        data={"plugins": plugins, "overview": analysis_overview(plugins)},
    )


def _prepare(work: Path) -> str:
    """Database, plugins, user, project; returns the session cookie."""
    from deployment import prepare, session_cookie

    _analysed_project(prepare(work, "bench_", ENABLED))
    return session_cookie()


def _wait(url: str, cookie: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            _get(url, cookie)
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the server did not answer {url}")


def _get(url: str, cookie: str) -> bytes:
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=30) as response:
        body: bytes = response.read()
        if response.status != 200 or response.url != url:
            raise SystemExit(f"{url} answered {response.status} at {response.url}")
        return body


def _alone(url: str, cookie: str) -> tuple[int, float]:
    """Size and median time of one request at a time (the server time, plus loopback)."""
    times = []
    for _ in range(7):
        started = time.perf_counter()
        body = _get(url, cookie)
        times.append(time.perf_counter() - started)
    return len(body), statistics.median(times)


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise SystemExit(f"unexpected wrk latency {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def _load(url: str, cookie: str) -> tuple[float, float, float]:
    """req/s, p50 and p99 (ms) under two connections for SECONDS."""
    wrk = shutil.which("wrk")
    if wrk:
        out = subprocess.run(
            [
                wrk,
                "-t1",
                f"-c{CONNECTIONS}",
                f"-d{SECONDS}s",
                "--latency",
                *("-H", f"Cookie: {cookie}"),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        if "Latency Distribution" not in out:
            raise SystemExit(f"wrk failed on {url}:\n{out}")
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
        p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
        return rate, p50, p99
    times = []
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        started = time.perf_counter()
        _get(url, cookie)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return len(times) / SECONDS, times[len(times) // 2], times[int(len(times) * 0.99)]


def _size(count: int) -> None:
    work = Path(tempfile.mkdtemp(prefix=f"jupiter-bench-pages-{count}-"))
    plugins = work / "plugins"
    _plugins(plugins, count)
    env = {
        **os.environ,
        "JUPITER_VAR_DIR": str(work / "var"),
        "JUPITER_PLUGIN_DIRS": str(plugins),
        "JUPITER_ALLOW_UNSIGNED_LOCAL_PLUGINS": "1",
        "JUPITER_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "pages_site",
        "PYTHONPATH": os.pathsep.join([str(BENCH), str(ROOT)]),
        "DEBUG": "0",
    }
    prepare = (
        "import sys, pathlib; sys.path[:0] = [sys.argv[1], sys.argv[2]];"
        "import pages; print(pages._prepare(pathlib.Path(sys.argv[3])))"
    )
    cookie = subprocess.run(
        [sys.executable, "-c", prepare, str(BENCH), str(ROOT), str(work)],
        env=env,
        capture_output=True,
        text=True,
    )
    if cookie.returncode:
        raise SystemExit(f"preparing {count} plugins failed:\n{cookie.stderr[-3000:]}")
    cookie = cookie.stdout.strip().splitlines()[-1]
    port = _port()
    daphne = Path(sys.executable).with_name("daphne")
    server = subprocess.Popen(
        [str(daphne), "-b", "127.0.0.1", "-p", str(port), "jupiter_site.asgi:application"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{base}/bench/bare/", cookie)
        print(f"\n{count} plugins installed ({min(ENABLED, count)} enabled in the project)")
        print(f"{'page':22} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7}", end="")
        print(f" {'KB':>8} {'alone ms':>9}")
        bare_rate, p50, p99 = _load(f"{base}/bench/bare/", cookie)
        print(f"{'bare Django view':22} {bare_rate:8.1f} {p50:8.1f} {p99:8.1f}")
        pages = {
            "/plugins/": "/plugins/",
            "/plugins.json": "/plugins.json",
            "a plugin page": "/plugins/bench_0001/",
            "project page": "/projects/bench/",
        }
        for label, path in pages.items():
            size, alone = _alone(base + path, cookie)
            rate, p50, p99 = _load(base + path, cookie)
            print(
                f"{label:22} {rate:8.1f} {p50:8.1f} {p99:8.1f} {rate / bare_rate:6.0%} "
                f"{size / 1024:8.1f} {alone * 1000:9.1f}"
            )
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    print(
        "Goals: at 200 plugins every page >= 50% of the bare view's req/s; "
        "at 1,000 plugins no page over 100 KB nor 50 ms alone."
    )
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk): a Python client loop measures.")
    for count in SIZES:
        _size(count)


if __name__ == "__main__":
    main()
