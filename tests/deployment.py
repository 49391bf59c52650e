"""A real multi-process deployment for the scale-out tests: Daphne web processes and
``jupiter_worker`` processes sharing one PostgreSQL database, one Redis and one var/.

Every wait has a timeout and every process is stopped by ``Deployment.close`` (SIGTERM, then
SIGKILL of its process group), whatever happened.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ADMIN_PASSWORD = "scale-out-admin-pw"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float, what: str, pause: float = 0.05) -> Any:
    """``check()``'s first truthy answer, or AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(pause)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Browser:
    """One person's cookies, used against any web process (they share the session store)."""

    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self, port: int, method: str, path: str, form: dict[str, str] | None = None
    ) -> Response:
        headers = {"Host": f"127.0.0.1:{port}", "Origin": f"http://127.0.0.1:{port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if method == "POST" and "csrftoken" in self.cookies:
            headers["X-CSRFToken"] = self.cookies["csrftoken"]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            raw = connection.getresponse()
            data = raw.read()
            for name, value in raw.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key.strip()] = rest.split(";", 1)[0]
            return Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, data)
        finally:
            connection.close()

    def get(self, port: int, path: str) -> Response:
        return self.request(port, "GET", path)

    def post(self, port: int, path: str, form: dict[str, str] | None = None) -> Response:
        if "csrftoken" not in self.cookies:
            self.get(port, "/login/")
        return self.request(port, "POST", path, form or {})

    def login(self, port: int, username: str, password: str) -> None:
        page = self.get(port, "/login/").text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, "no CSRF token on the login page"
        done = self.request(
            port,
            "POST",
            "/login/",
            {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)},
        )
        assert done.status == 302 and "sessionid" in self.cookies, done.text[:500]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Deployment:
    """Processes of one deployment; ``close`` stops them all."""

    def __init__(self, env: dict[str, str], run_dir: Path) -> None:
        # A process that must be aborted (SIGABRT) prints every thread's stack first.
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}
        self.run_dir = run_dir
        self.webs: list[tuple[Process, int]] = []
        self.workers: list[Process] = []
        self._all: list[Process] = []
        self._count = 0

    def manage(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stderr[-3000:]}"
        return done

    def _spawn(self, name: str, argv: list[str]) -> Process:
        self._count += 1
        log = self.run_dir / f"{self._count:02d}-{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log)
        self._all.append(process)
        return process

    def start_web(self) -> int:
        port = free_port()
        daphne = str(Path(sys.executable).parent / "daphne")
        argv = [daphne, "-b", "127.0.0.1", "-p", str(port), "jupiter_site.asgi:application"]
        process = self._spawn(f"web-{port}", argv)
        self.webs.append((process, port))
        return port

    def start_worker(self) -> Process:
        argv = [sys.executable, "manage.py", "jupiter_worker", "--threads", "2", "--drain", "20"]
        process = self._spawn("worker", argv)
        self.workers.append(process)
        return process

    def wait_ready(self, timeout: float = 90) -> None:
        for process, port in self.webs:
            wait_for(
                lambda port=port, process=process: self._answers(port, process),
                timeout,
                f"web process on {port}",
                pause=0.2,
            )
        for worker in self.workers:
            self.wait_worker(worker, timeout)

    def wait_worker(self, worker: Process, timeout: float = 60) -> None:
        def running() -> bool:
            if worker.popen.poll() is not None:
                raise AssertionError(f"{worker.name} exited:\n{worker.tail()}")
            return "Jupiter worker" in worker.tail(200)

        wait_for(running, timeout, f"{worker.name} {worker.pid}", pause=0.2)

    @staticmethod
    def _answers(port: int, process: Process) -> bool:
        if process.popen.poll() is not None:
            raise AssertionError(f"{process.name} exited:\n{process.tail()}")
        try:
            return Browser().get(port, "/login/").status == 200
        except OSError:
            return False

    def worker_of(self, runner: str) -> Process:
        """The worker process whose id (``host:pid:token``) is ``runner``."""
        pid = int(runner.split(":")[1])
        return next(w for w in self.workers if w.pid == pid)

    def replace(self, worker: Process) -> Process:
        """Stop ``worker`` for good (if not yet) and start another one in its place."""
        if worker.popen.poll() is None:
            self._stop(worker, 30)
        self.workers.remove(worker)
        fresh = self.start_worker()
        self.wait_worker(fresh)
        return fresh

    @staticmethod
    def _stop(process: Process, grace: float) -> None:
        if process.popen.poll() is None:
            process.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.popen.wait(grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.popen.pid, signal.SIGKILL)  # whatever it left in its group
        if process.popen.poll() is None:
            process.popen.kill()
            process.popen.wait(10)

    def close(self) -> None:
        for process in self._all:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self._all:
            self._stop(process, max(0.1, deadline - time.monotonic()))

    def report(self) -> str:
        return "\n\n".join(f"== {p.name} ({p.pid})\n{p.tail()}" for p in self._all)


PROBE_MANIFEST = """\
id: scale_probe
name: Scale probe
version: 1.0.0
type: tool
entrypoints:
  register: "probe:register"
capabilities:
  health: {interval: 1, timeout: 5}
  metrics: {enabled: true, interval: 1}
  jobs: {timeout: 300}
"""

PROBE_CODE = '''\
"""Scale-out test plugin: jobs with progress and log lines, health and metrics counted."""

import os
import time

DATA = {}


def _append(name, text):
    with open(os.path.join(DATA["dir"], name), "a") as handle:
        handle.write(text + "\\n")


def work(job, steps=12, pause=0.25):
    for step in range(steps):
        if job.is_cancelled():
            return {"cancelled_at": step}
        job.log.info("step %d at %.3f", step, time.time())
        job.progress(100 * (step + 1) / steps, f"step {step}")
        time.sleep(pause)
    return {"steps": steps, "pid": os.getpid()}


def long(job):
    return work(job, steps=400, pause=0.25)


def health():
    _append("health.log", f"{time.time():.3f} {os.getpid()}")
    return {"ok": True}


def metrics():
    return {"answer": 42}


def register(bridge):
    DATA["dir"] = str(bridge.services.get_data_dir())
    bridge.register_job("work", work, title="Work")
    bridge.register_job("long", long, title="Long work")
    bridge.register_hook("health", health)
    bridge.register_hook("metrics", metrics)
'''

LIFECYCLE_MANIFEST = """\
id: scale_cycle
name: Scale cycle
version: {version}
type: tool
entrypoints:
  register: "cycle:register"
"""

LIFECYCLE_CODE = """\
VERSION = "{version}"


def register(bridge):
    bridge.register_api_route("version", lambda request: {{"version": VERSION}})
"""


def write_probe(plugin_dir: Path) -> None:
    folder = plugin_dir / "scale_probe"
    folder.mkdir(parents=True)
    (folder / "plugin.yaml").write_text(PROBE_MANIFEST)
    (folder / "probe.py").write_text(PROBE_CODE)


def write_cycle(root: Path, version: str) -> Path:
    folder = root / f"scale_cycle-{version}" / "scale_cycle"
    folder.mkdir(parents=True)
    (folder / "plugin.yaml").write_text(LIFECYCLE_MANIFEST.format(version=version))
    (folder / "cycle.py").write_text(LIFECYCLE_CODE.format(version=version))
    return folder
