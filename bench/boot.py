"""Benchmark: start-up with 500 enabled plugins (issue 16, goal: ready in under 2 s).

Run with `python bench/boot.py [COUNT]` (or `make bench`). A throwaway var/ and plugin folder
hold COUNT plugins (500 by default), all enabled in one project. Printed:

- Daphne with no plugin installed: this machine's floor (Django, Daphne, the database);
- Daphne, first start (no registration known yet): seconds from spawn until ``/login/``
  answers, until the plugin list answers with every plugin listed, the statuses at that
  moment, and the seconds until no plugin is still starting;
- Daphne, next start (registrations known): the same figures;
- ``boot()`` alone in a fresh process (Django already set up), plugin processes running when
  it returns, and the first use of one plugin (a public API call: its process starts then).

Each Daphne is stopped, and its plugin processes gone, before the next one starts.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 500
GOAL = 2.0
WORK = Path(tempfile.mkdtemp(prefix="jupiter-bench-boot-"))
ENV = {
    **os.environ,
    "JUPITER_VAR_DIR": str(WORK / "var"),
    "JUPITER_PLUGIN_DIRS": str(WORK / "plugins"),
    "JUPITER_ALLOW_UNSIGNED_LOCAL_PLUGINS": "1",
    "JUPITER_LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "jupiter_site.settings",
    "PYTHONPATH": str(ROOT),
    "DEBUG": "0",
}
os.environ.update(ENV)
sys.path.insert(0, str(ROOT))

PLUGIN = """
def register(bridge):
    bridge.register_job("noop", lambda job: None)
    bridge.expose({"ping": lambda: "pong"})
"""

# Run in a fresh interpreter: Django set up first, then boot() timed alone.
BOOT = """
import json, sys, time
import django
django.setup()
from plugins_app.kernel.runtime import boot, reset_runtime
started = time.perf_counter()
runtime = boot()
took = time.perf_counter() - started
running = sum(1 for p in runtime.manifests if (s := runtime.supervisor.process(p)) and s.alive)
first = time.perf_counter()
answer = runtime.bridge.public_api("bench_boot_0000").ping() if sys.argv[1] == "use" else ""
first = time.perf_counter() - first
print(json.dumps({"boot": took, "running": running, "first_use": first, "answer": answer}))
reset_runtime()
"""


def _plugins() -> None:
    for n in range(COUNT):
        folder = WORK / "plugins" / f"bench_boot_{n:04}"
        folder.mkdir(parents=True)
        (folder / "plugin.yaml").write_text(
            f"id: bench_boot_{n:04}\nname: Bench boot {n}\nversion: 1.0.0\ntype: tool\n"
            "entrypoint: 'main:register'\npermissions: [fs_read]\n"
        )
        (folder / "main.py").write_text(PLUGIN)


def _prepare() -> str:
    """Database, plugins enabled in one project, a user; returns the session cookie."""
    from deployment import prepare, session_cookie

    prepare(WORK, "bench_boot_", superuser=True)
    return session_cookie()


def _statuses() -> Counter[str]:
    from plugins_app.models import InstalledPlugin

    rows = InstalledPlugin.objects.filter(plugin_id__startswith="bench_boot_")
    return Counter(
        f"{status}" + (f" ({reason})" if reason else "")
        for status, reason in rows.values_list("status", "status_reason")
    )


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str, cookie: str = "") -> bytes | None:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read() if response.status == 200 else None
    except OSError:
        return None


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(FileNotFoundError):  # a thread that just ended
            found.update(int(child) for child in (task / "children").read_text().split())
    return found


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, float]:
    """Daphne on a free port; its base URL and the seconds until ``/login/`` answered."""
    port = _port()
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    daphne = str(Path(sys.executable).with_name("daphne"))
    server = subprocess.Popen(
        [daphne, "-b", "127.0.0.1", "-p", str(port), "jupiter_site.asgi:application"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while _answers(f"{base}/login/") is None:
        if time.monotonic() - started > 900:
            server.kill()
            raise SystemExit("Daphne did not answer /login/ within 900 s")
        time.sleep(0.02)
    return server, base, time.monotonic() - started


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Stop Daphne and wait until its plugin processes are gone too (they would take the
    CPU from the next measurement)."""
    children = _children(server.pid)
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    deadline = time.monotonic() + 60
    while any(Path(f"/proc/{pid}").exists() for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)


def _floor() -> None:
    """Daphne with no plugin installed: this machine's start-up time without any."""
    env = {**ENV, "JUPITER_VAR_DIR": str(WORK / "floor"), "JUPITER_PLUGIN_DIRS": str(WORK)}
    manage = [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"]
    subprocess.run(manage, env=env, cwd=ROOT, check=True)
    server, _, ready = _serve(env)
    _stop(server)
    print(f"\nDaphne, no plugin installed (this machine's floor): /login/ after {ready:.2f} s")


def _daphne(label: str, cookie: str) -> None:
    server, base, ready = _serve(ENV)
    started = time.monotonic() - ready
    try:
        body = _answers(f"{base}/plugins.json?per_page=1000", cookie) or b"{}"
        listed = time.monotonic() - started
        count = json.loads(body).get("count", 0)
        statuses = _statuses()
        print(f"\nDaphne, {label}")
        verdict = "meets" if ready < GOAL else "misses"
        print(f"  /login/ answers after        {ready:7.2f} s ({verdict} the {GOAL:g} s goal)")
        print(f"  /plugins.json after          {listed:7.2f} s ({count} plugins counted)")
        print(f"  statuses then: {dict(statuses)}")
        while any(status.startswith("loading") for status in _statuses()):
            if time.monotonic() - started > 900:
                break
            time.sleep(0.5)
        print(f"  no plugin starting after     {time.monotonic() - started:7.2f} s")
        print(f"  statuses then: {dict(_statuses())}")
    finally:
        _stop(server)


def _boot(use: bool) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", BOOT, "use" if use else "-"],
        env=ENV,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SystemExit(f"boot() failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    print(f"{COUNT} enabled plugins; goal: ready in under {GOAL:g} s")
    _plugins()
    cookie = _prepare()
    _floor()
    _daphne("first start (no registration known)", cookie)
    _daphne("next start (registrations known)", cookie)
    cold = _boot(use=False)
    print(f"\nboot() in a fresh process: {cold['boot']:.2f} s, {cold['running']} processes running")
    warm = _boot(use=True)
    print(
        f"boot() again: {warm['boot']:.2f} s, {warm['running']} processes running; "
        f"first use of one plugin {warm['first_use'] * 1000:.0f} ms (answered {warm['answer']!r})"
    )


if __name__ == "__main__":
    main()
