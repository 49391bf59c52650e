"""Kernel-enforced confinement (SPEC X3): each test confines a fresh child and tries one thing.

Confinement is irreversible, so every check runs ``tests/fixtures/confinement/child.py`` in
its own process and asserts on what it reports (or on how it died). Tests that need a
Landlock feature skip, saying which, on a kernel whose ABI is too old.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from plugins_app.sdk import linux
from plugins_app.sdk.confinement import Confinement, ConfinementError, landlock_abi

REPO = Path(__file__).resolve().parent.parent
CHILD = Path(__file__).parent / "fixtures" / "confinement" / "child.py"
ABI = landlock_abi()
HOST_SECRETS = {
    "SECRET_KEY": "host-secret-key",
    "DATABASE_URL": "postgres://jupiter:pw@db/jupiter",
    "JUPITER_ADMIN_PASSWORD": "admin-pw",
}

needs_landlock = pytest.mark.skipif(ABI < 1, reason=f"needs Landlock (kernel ABI {ABI})")
needs_net = pytest.mark.skipif(
    ABI < 4, reason=f"TCP rules need Landlock ABI >= 4 (kernel ABI {ABI})"
)
needs_scoping = pytest.mark.skipif(
    ABI < 6, reason=f"signal and abstract-socket scoping need Landlock ABI >= 6 (kernel ABI {ABI})"
)


@dataclass(frozen=True)
class Layout:
    """A plugin, its read-only project, its workspace, the host's var/ beside them, elsewhere."""

    plugin: Path
    project: Path
    workspace: Path
    var: Path
    elsewhere: Path

    def options(self, **extra: Any) -> dict[str, Any]:
        return {
            "plugin_root": str(self.plugin),
            "project_roots_read": [str(self.project)],
            "project_roots_write": [str(self.workspace)],
            **extra,
        }


@dataclass(frozen=True)
class Outcome:
    returncode: int
    result: dict[str, Any] | None
    stderr: str

    @property
    def ok(self) -> bool:
        assert self.result is not None, f"child died ({self.returncode}): {self.stderr}"
        return bool(self.result["ok"])

    @property
    def error(self) -> str | None:
        assert self.result is not None, f"child died ({self.returncode}): {self.stderr}"
        return self.result.get("error")

    @property
    def value(self) -> Any:
        assert self.ok, f"action failed: {self.result}"
        assert self.result is not None
        return self.result["value"]


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    app = tmp_path / "app"
    plugin, var = app / "plugins" / "probe", app / "var"
    project, workspace, elsewhere = tmp_path / "project", tmp_path / "workspace", tmp_path / "else"
    for folder in (plugin, var, project, workspace, elsewhere):
        folder.mkdir(parents=True)
    (plugin / "plugin.py").write_text("def register(bridge): ...\n")
    (project / "main.py").write_text("print('hello')\n")
    (var / "jupiter.sqlite3").write_bytes(b"SQLite format 3\x00")
    (var / "secret_key").write_text("host-secret-key\n")
    (elsewhere / "note.txt").write_text("not granted\n")
    return Layout(plugin, project, workspace, var, elsewhere)


def confined(options: dict[str, Any], action: str, *args: object, timeout: float = 60) -> Outcome:
    """Run the child with the host's secrets in its environment; parse its last line."""
    proc = subprocess.run(
        [sys.executable, str(CHILD), json.dumps(options), action, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, **HOST_SECRETS},
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    result = json.loads(lines[-1]) if proc.returncode == 0 and lines else None
    return Outcome(proc.returncode, result, proc.stderr)


# Filesystem ------------------------------------------------------------------------------


@needs_landlock
@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "/etc/hostname", "/proc/self/environ", str(REPO / "README.md")],
)
def test_files_outside_the_grants_cannot_be_read(layout: Layout, path: str) -> None:
    """/proc/self/environ would still hold the secrets the process was started with."""
    outcome = confined(layout.options(), "read", path)
    assert outcome.error == "PermissionError"
    assert outcome.result is not None and outcome.result["errno"] == 13


@needs_landlock
@pytest.mark.parametrize("folder", ["/root", "/etc", str(REPO)])
def test_folders_outside_the_grants_cannot_be_listed(layout: Layout, folder: str) -> None:
    assert confined(layout.options(), "listdir", folder).error == "PermissionError"


@needs_landlock
def test_the_hosts_var_beside_the_plugin_is_out_of_reach(layout: Layout) -> None:
    for name in ("jupiter.sqlite3", "secret_key"):
        assert confined(layout.options(), "read", layout.var / name).error == "PermissionError"


@needs_landlock
def test_granted_folders_are_readable(layout: Layout) -> None:
    options = layout.options()
    assert confined(options, "read", layout.plugin / "plugin.py").value.startswith("def register")
    assert confined(options, "read", layout.project / "main.py").value == "print('hello')\n"
    assert confined(layout.options(), "listdir", layout.project).value == ["main.py"]


@needs_landlock
def test_writing_only_inside_write_paths(layout: Layout) -> None:
    inside = layout.workspace / "report.txt"
    assert confined(layout.options(), "write", inside).value == 28
    assert (layout.workspace / "report.txt").read_text() == "written by a confined plugin"
    for target in (layout.elsewhere / "x.txt", layout.project / "main.py", layout.plugin / "p"):
        assert confined(layout.options(), "write", target).error == "PermissionError"
    assert (layout.project / "main.py").read_text() == "print('hello')\n"
    assert not (layout.elsewhere / "x.txt").exists()


@needs_landlock
def test_missing_grants_are_skipped_and_reported(layout: Layout) -> None:
    gone = layout.elsewhere / "gone"
    outcome = confined(layout.options(project_roots_read=[str(gone)]), "noop")
    assert outcome.ok
    assert outcome.result is not None and str(gone) in outcome.result["report"]["skipped_paths"]


# Programs, network, signals ------------------------------------------------------------


@needs_landlock
def test_no_program_runs_without_exec_paths(layout: Layout) -> None:
    assert confined(layout.options(), "run", "id").error == "PermissionError"


@needs_landlock
def test_exec_paths_allow_the_named_programs(layout: Layout) -> None:
    """The program and the dynamic loader it names are both executed by the kernel."""
    program = os.path.realpath(shutil.which("true") or "/bin/true")
    loaders = ["/lib64", "/lib", "/usr/lib", "/usr/lib64"]
    options = layout.options(exec_paths=[program, *loaders])
    assert confined(options, "run", program).value == 0
    assert confined(options, "run", os.path.realpath(shutil.which("id") or "/bin/id")).error == (
        "PermissionError"
    )


@pytest.fixture
def listener() -> Any:
    server = socket.create_server(("127.0.0.1", 0))
    yield server.getsockname()[1]
    server.close()


@needs_net
def test_tcp_connect_fails_without_the_network(layout: Layout, listener: int) -> None:
    outcome = confined(layout.options(), "connect", "127.0.0.1", listener)
    assert outcome.error == "PermissionError"


@needs_net
def test_tcp_connect_works_with_the_network(layout: Layout, listener: int) -> None:
    outcome = confined(layout.options(allow_network=True), "connect", "127.0.0.1", listener)
    assert outcome.value == ["127.0.0.1", listener]


@needs_scoping
def test_abstract_unix_sockets_outside_are_unreachable(layout: Layout) -> None:
    name = f"jupiter-confinement-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind("\0" + name)
        server.listen()
        assert confined(layout.options(), "connect_abstract", name).error == "PermissionError"


@needs_scoping
def test_the_host_and_other_processes_cannot_be_signalled(layout: Layout) -> None:
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        outcome = confined(layout.options(), "kill", victim.pid, signal.SIGTERM)
        assert outcome.error == "PermissionError"
        assert victim.poll() is None, "the confined child killed a process outside its domain"
        assert confined(layout.options(), "kill", os.getpid(), 0).error == "PermissionError"
    finally:
        victim.kill()
        victim.wait()


# Environment, interpreter ----------------------------------------------------------------


def test_the_environment_is_exactly_the_policys(layout: Layout) -> None:
    env = {"LANG": "C.UTF-8", "PLUGIN_MODE": "test"}
    outcome = confined(layout.options(env=env), "env")
    assert outcome.value == env
    assert not HOST_SECRETS.keys() & outcome.value.keys()


@needs_landlock
def test_python_still_imports_stdlib_sdk_and_site_packages(layout: Layout) -> None:
    modules = ["json", "decimal", "sqlite3", "yaml", "packaging.version", "plugins_app.sdk.bridge"]
    assert confined(layout.options(), "import", *modules).value == modules


# Resources -------------------------------------------------------------------------------


def test_a_memory_hog_is_stopped(layout: Layout) -> None:
    outcome = confined(layout.options(memory_bytes=256 * 1024 * 1024), "hog")
    if outcome.returncode == 0:
        assert outcome.error == "MemoryError"
    else:
        assert outcome.returncode in (-signal.SIGKILL, -signal.SIGSEGV, -signal.SIGABRT)


def test_a_busy_loop_is_killed_for_cpu(layout: Layout) -> None:
    outcome = confined(layout.options(cpu_seconds=1), "spin", timeout=30)
    assert outcome.returncode in (-signal.SIGXCPU, -signal.SIGKILL)


def test_limits_cannot_be_raised_back(layout: Layout) -> None:
    """Capabilities are dropped, so even a child started as root keeps its limits."""
    outcome = confined(layout.options(cpu_seconds=30), "raise_cpu_limit")
    assert outcome.error == "ValueError"
    assert outcome.result is not None
    assert outcome.result["report"]["capabilities_dropped"] is (os.geteuid() == 0)


def test_process_and_file_limits_are_set(layout: Layout) -> None:
    options = layout.options(max_processes=5, max_open_files=64)
    assert confined(options, "rlimit", "RLIMIT_NPROC").value == [5, 5]
    assert confined(options, "rlimit", "RLIMIT_NOFILE").value == [64, 64]
    assert confined(options, "rlimit", "RLIMIT_CORE").value == [0, 0]


@pytest.mark.skipif(
    os.geteuid() == 0, reason="the kernel never applies RLIMIT_NPROC to UID 0 (tests run as root)"
)
def test_max_processes_stops_forks(layout: Layout) -> None:
    outcome = confined(layout.options(max_processes=1), "run", sys.executable, "-c", "")
    assert outcome.error in ("BlockingIOError", "OSError")


# Without Landlock, and refusals ----------------------------------------------------------


def test_without_landlock_limits_and_environment_still_apply(layout: Layout) -> None:
    outcome = confined(layout.options(no_landlock=True, max_open_files=64), "read", "/etc/hostname")
    assert outcome.ok, "nothing pretends to confine the filesystem without Landlock"
    assert outcome.result is not None
    report = outcome.result["report"]
    assert report["landlock_abi"] == 0 and report["handled_fs"] == 0
    assert ["RLIMIT_NOFILE", 64] in report["rlimits"]
    assert confined(layout.options(no_landlock=True), "env").value == {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
    }


def test_a_policy_requiring_landlock_refuses_without_it(layout: Layout) -> None:
    outcome = confined(layout.options(no_landlock=True, require_landlock=True), "noop")
    assert outcome.result is not None
    assert "requires Landlock" in outcome.result["apply_error"]
    assert outcome.result["env_after_refusal"]["SECRET_KEY"] == "host-secret-key"


def test_apply_refuses_a_threaded_process(layout: Layout) -> None:
    """A thread started before apply() would keep its freedom; refusing is the safe answer."""
    outcome = confined(layout.options(threads=1), "noop")
    assert outcome.result is not None
    assert "single-threaded" in outcome.result["apply_error"]


@needs_landlock
def test_the_report_names_the_kernels_abi(layout: Layout) -> None:
    outcome = confined(layout.options(), "noop")
    assert outcome.result is not None
    report = outcome.result["report"]
    assert report["landlock_abi"] == ABI
    assert report["handled_fs"] == linux.supported_rights(ABI).fs


# The policy itself (no child needed) -------------------------------------------------------


@pytest.mark.parametrize(
    ("abi", "fs", "net", "scoped"),
    [
        (0, 0, 0, 0),
        (1, 0x1FFF, 0, 0),
        (2, 0x3FFF, 0, 0),
        (3, 0x7FFF, 0, 0),
        (4, 0x7FFF, 3, 0),
        (5, 0xFFFF, 3, 0),
        (6, 0xFFFF, 3, 3),
        (7, 0xFFFF, 3, 3),
        (99, 0xFFFF, 3, 3),
    ],
)
def test_rights_are_masked_to_the_abi(abi: int, fs: int, net: int, scoped: int) -> None:
    """The kernel refuses a ruleset naming a right it does not know."""
    assert linux.supported_rights(abi) == linux.Rights(fs=fs, net=net, scoped=scoped)


def test_for_plugin_grants_python_but_not_the_host(layout: Layout) -> None:
    policy = Confinement.for_plugin(layout.plugin, [layout.project], [layout.workspace])
    granted = [Path(p) for p in policy.read_paths + policy.write_paths + policy.exec_paths]
    assert str(layout.plugin) in policy.read_paths
    assert sys.base_prefix in policy.read_paths
    assert str(REPO / "plugins_app") in policy.read_paths
    assert policy.write_paths == (str(layout.workspace), "/dev/null")
    assert policy.exec_paths == () and not policy.allow_tcp_connect
    for secret in (REPO / "var", REPO / "README.md", Path("/etc/passwd"), Path("/root/.ssh")):
        assert not any(secret == g or g in secret.parents for g in granted), secret
    assert "/etc/resolv.conf" not in policy.read_paths
    networked = Confinement.for_plugin(layout.plugin, allow_network=True)
    assert "/etc/resolv.conf" in networked.read_paths and networked.allow_tcp_connect


def test_a_policy_is_frozen_and_refuses_relative_paths() -> None:
    policy = Confinement(env={"A": "1"})
    with pytest.raises(TypeError):
        policy.env["B"] = "2"  # type: ignore[index]
    with pytest.raises(ConfinementError, match="absolute"):
        Confinement(read_paths=("relative/dir",))
