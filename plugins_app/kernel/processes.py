"""Plugin processes, host side: start, watch, call with a time limit, kill, restart.

Each loaded plugin runs in a child process of its own (``sdk.child``), in its own process
group, started with a scrubbed environment and confined by the kernel before its code is
imported. The host talks to it over a socket pair (``sdk.protocol``). Every call has a time
limit; a call that outlives it, a process that grows past its memory limit, or one that
dies, is killed with its whole group and the reason is kept in words a person understands
("register() did not return within 10 s", "stopped: used more than 512 MB"). A process that
crashed is started again on next use, after a pause that doubles; one that crashed three
times in a minute is left stopped (the plugin shows ``error``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connections

from plugins_app.base.errors import JupiterError
from plugins_app.manifest.model import Manifest
from plugins_app.sdk.child import confinement_to_json
from plugins_app.sdk.confinement import Confinement
from plugins_app.sdk.protocol import (
    CallTimeout,
    ConnectionClosed,
    Endpoint,
    Handler,
    ProtocolError,
    read_frame,
    write_frame,
)

__all__ = [
    "CRASH_LIMIT",
    "CRASH_WINDOW",
    "PluginProcess",
    "PluginProcessError",
    "ProcessEvent",
    "ProcessLimits",
]

log = logging.getLogger("jupiter.processes")
CRASH_LIMIT, CRASH_WINDOW = 3, 60.0
WATCH_INTERVAL = 0.25
PACKAGE_DIR = Path(__file__).resolve().parents[1]


class PluginProcessError(JupiterError):
    """A plugin process could not do what was asked; ``reason`` is for people."""

    def __init__(self, plugin_id: str, reason: str) -> None:
        super().__init__(f"plugin '{plugin_id}': {reason}")
        self.plugin_id, self.reason = plugin_id, reason


@dataclass(frozen=True)
class ProcessLimits:
    """Time and memory a plugin process gets (defaults: settings; manifest may lower them)."""

    register_timeout: float = 10.0
    memory_mb: int = 512
    stop_grace: float = 2.0


@dataclass(frozen=True)
class ProcessEvent:
    """Something that happened to a plugin process, for its page and the audit trail."""

    plugin_id: str
    kind: str  # started, stopped, crashed, killed
    reason: str = ""
    pid: int | None = None
    at: float = field(default_factory=time.time)


def _import_root() -> Path:
    """A folder holding only a link to the ``plugins_app`` package: the child's import path.

    The repository root would also expose ``var/`` (the database, the secret key) to the
    child's directory listings; this folder exposes nothing else.
    """
    root = Path(tempfile.gettempdir()) / f"jupiter-sdk-{os.getuid()}-{os.getpid()}"
    link = root / "plugins_app"
    if not link.exists():
        root.mkdir(mode=0o755, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # made meanwhile by a parallel start
            link.symlink_to(PACKAGE_DIR, target_is_directory=True)
    return root


def child_environment() -> dict[str, str]:
    """All a plugin process gets of the environment: nothing secret, nothing of the host's."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONPATH": str(_import_root()),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "HOME": "/nonexistent",
    }


class PluginProcess:
    """One running plugin process and the connection to it."""

    def __init__(
        self,
        manifest: Manifest,
        handler: Handler,
        confinement: Confinement,
        limits: ProcessLimits,
        on_event: Callable[[ProcessEvent], None],
        on_output: Callable[[str], None],
        data_dir: Path,
    ) -> None:
        self.manifest = manifest
        self.data_dir = data_dir
        self.confinement = confinement
        self.limits = limits
        self._handler = handler
        self._on_event = on_event
        self._on_output = on_output
        self._popen: subprocess.Popen[bytes] | None = None
        self._endpoint: Endpoint | None = None
        self._exit_reason = ""
        self._stopping = False
        self._kill_lock = threading.Lock()
        self.started_at = 0.0
        self.description: dict[str, Any] = {}
        self.confinement_report: dict[str, Any] = {}

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    @property
    def alive(self) -> bool:
        return (
            self._popen is not None
            and self._popen.poll() is None
            and self._endpoint is not None
            and not self._endpoint.closed
        )

    @property
    def exit_reason(self) -> str:
        return self._exit_reason

    def start(self) -> None:
        """Start the process and wait until it confined itself (no plugin code ran yet).

        Raises ``PluginProcessError`` with the reason when it cannot: the process is gone.
        """
        host_sock, child_sock = socket.socketpair()
        command = [sys.executable, "-B", "-m", "plugins_app.sdk.child", "--fd"]
        try:
            self._popen = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [*command, str(child_sock.fileno())],
                pass_fds=(child_sock.fileno(),),
                env=child_environment(),
                cwd=str(self.manifest.root),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            child_sock.close()
        self.started_at = time.monotonic()
        threading.Thread(
            target=self._pump_output, name="jupiter-plugin-output", daemon=True
        ).start()
        threading.Thread(target=self._watch, name="jupiter-plugin-watch", daemon=True).start()
        timeout = self.limits.register_timeout
        self.confinement_report = self._bootstrap(host_sock, timeout)
        self._endpoint = Endpoint(host_sock, self._handler).start()
        self._on_event(ProcessEvent(self.manifest.id, "started", pid=self.pid))

    def register(self, log_level: int) -> dict[str, Any]:
        """Import the plugin and run its ``register``; what it registered, as data."""
        timeout = self.limits.register_timeout
        late = f"register() did not return within {timeout:g} s"
        self.description = dict(self.call("init", {"log_level": log_level}, timeout, late))
        return self.description

    def _bootstrap(self, sock: socket.socket, timeout: float) -> dict[str, Any]:
        """Hand the policy over and wait until the process has confined itself."""
        sock.settimeout(timeout)
        try:
            bootstrap = {
                "manifest": self.manifest.to_snapshot(),
                "confinement": confinement_to_json(self.confinement),
                "data_dir": str(self.data_dir),
            }
            write_frame(sock, bootstrap)
            answer = read_frame(sock)
        except (OSError, ConnectionClosed, ProtocolError) as exc:
            self.kill(f"did not start within {timeout:g} s")
            self._wait_exit()
            raise PluginProcessError(
                self.manifest.id, self._exit_reason or f"could not start: {exc}"
            ) from None
        finally:
            sock.settimeout(None)
        return dict(answer.get("confinement") or {})

    def call(self, method: str, params: Mapping[str, Any], timeout: float | None, late: str) -> Any:
        """Call the plugin; on a timeout kill it (``late`` says why), on death say why."""
        endpoint = self._endpoint
        if endpoint is None or not self.alive:
            raise PluginProcessError(self.manifest.id, self._exit_reason or "it is not running")
        try:
            return endpoint.call(method, params, timeout)
        except CallTimeout:
            self.kill(late)
            raise PluginProcessError(self.manifest.id, late) from None
        except ConnectionClosed:
            self._wait_exit()
            raise PluginProcessError(
                self.manifest.id, self._exit_reason or "its process stopped"
            ) from None

    def notify(self, method: str, params: Mapping[str, Any]) -> None:
        if self._endpoint is not None:
            self._endpoint.notify(method, params)

    def stop(self) -> None:
        """Ask the plugin to exit; kill its group if it has not within the grace period."""
        if self._popen is None or self._popen.poll() is not None:
            self._close()
            return
        self._stopping = True  # its exit from now on is no crash
        try:
            if self._endpoint is not None and not self._endpoint.closed:
                self._endpoint.call("shutdown", {}, self.limits.stop_grace)
            self._popen.wait(self.limits.stop_grace)
        except (CallTimeout, ConnectionClosed, subprocess.TimeoutExpired):
            pass
        if self._popen.poll() is None:
            self.kill("did not stop when asked")
            return
        self._exit_reason = self._exit_reason or "stopped"
        self._on_event(ProcessEvent(self.manifest.id, "stopped", pid=self.pid))
        self._close()

    def kill(self, reason: str) -> None:
        """Kill the whole process group (the plugin and anything it started)."""
        with self._kill_lock:
            popen = self._popen
            if popen is None or popen.poll() is not None:
                return
            self._exit_reason = reason
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()
        log.warning("plugin %s process killed: %s", self.manifest.id, reason)
        self._on_event(ProcessEvent(self.manifest.id, "killed", reason, popen.pid))
        self._close()

    def _close(self) -> None:
        if self._endpoint is not None:
            self._endpoint.close()

    def _wait_exit(self) -> None:
        if self._popen is None:
            return
        try:
            code = self._popen.wait(2)
        except subprocess.TimeoutExpired:
            return
        self._ended(code)

    def _ended(self, code: int) -> None:
        """The process exited by itself: its reason, and one ``crashed`` event.

        Whichever notices first (the watcher, or a call whose connection closed) says why;
        the other finds the reason set. An exit after ``stop`` asked for it is no crash.
        """
        with self._kill_lock:
            if self._exit_reason:
                return
            self._exit_reason = "stopped" if self._stopping else _describe_exit(code)
            crashed = not self._stopping
        if crashed:
            pid = self._popen.pid if self._popen is not None else None
            self._on_event(ProcessEvent(self.manifest.id, "crashed", self._exit_reason, pid))

    def _pump_output(self) -> None:
        """What the plugin prints goes to its log, line by line, never to the protocol."""
        popen = self._popen
        if popen is None or popen.stdout is None:
            return
        for raw in popen.stdout:
            self._on_output(raw.decode("utf-8", errors="replace").rstrip("\n"))

    def _watch(self) -> None:
        """Memory and liveness: kill past the limit, record a crash when it dies by itself.

        Events are persisted by their receivers: this thread's database connection, if one
        was opened for them, is closed when it ends.
        """
        try:
            self._watch_until_exit()
        finally:
            connections.close_all()

    def _watch_until_exit(self) -> None:
        popen = self._popen
        if popen is None:
            return
        limit = self.limits.memory_mb * 1024 * 1024
        while popen.poll() is None:
            rss = _rss_bytes(popen.pid)
            if rss is not None and rss > limit:
                self.kill(f"stopped: used more than {self.limits.memory_mb} MB")
                return
            time.sleep(WATCH_INTERVAL)
        self._ended(popen.returncode)
        self._close()


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"its process was killed by {name}"
    return f"its process exited with status {code}"


def _rss_bytes(pid: int) -> int | None:
    """Resident memory of ``pid`` and its children in the group (Linux ``/proc``)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


class CrashHistory:
    """When a plugin's process died, to pace restarts and to stop after a crash loop."""

    def __init__(self) -> None:
        self._times: deque[float] = deque(maxlen=CRASH_LIMIT)
        self.failures = 0

    def record(self, now: float | None = None) -> None:
        self._times.append(time.monotonic() if now is None else now)
        self.failures += 1

    def reset(self) -> None:
        self.failures = 0

    def looping(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return len(self._times) == CRASH_LIMIT and now - self._times[0] <= CRASH_WINDOW

    def backoff(self) -> float:
        """Seconds to wait before the next start: 0, then 1, 2, 4... up to 30."""
        return 0.0 if self.failures == 0 else min(30.0, 2.0 ** (self.failures - 1))
