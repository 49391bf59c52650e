"""Hostile plugins (SPEC X3, X2): each attack ends contained, with a reason in the console,
and the console answers while it is under way.

Every hostile plugin is written by its test into a temporary folder; each tries one thing.
Attacks made from a job keep trying for a second, as a determined plugin would, so that a
request to the console from another thread lands while the attack is in progress
(``ConsoleProbe``). Tests of what only the kernel refuses skip, saying why, on a kernel
whose Landlock ABI is too old.
"""

from __future__ import annotations

import os
import py_compile
import socket
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings as django_settings
from django.db import connections
from django.test import Client

from plugins_app.jobs.api import cancel, executor, submit
from plugins_app.kernel.runtime import boot, get_runtime
from plugins_app.lifecycle.installer import install, stage_archive, stage_directory
from plugins_app.models import (
    InstalledPlugin,
    Job,
    JobState,
    PluginProcessEvent,
    PluginStatus,
    ProcessEventKind,
    Project,
)
from plugins_app.projects.service import register_project, set_plugin_enabled
from plugins_app.sdk.confinement import landlock_abi
from plugins_app.trust.archives import ArchiveError
from plugins_app.trust.signing import SIGNATURE_FILENAME
from tests.plugin_factory import signed_plugin, tar_of, write_plugin

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("job_worker")]

ABI = landlock_abi()
needs_landlock = pytest.mark.skipif(
    ABI < 1, reason=f"the kernel refuses this only with Landlock (kernel ABI {ABI})"
)
needs_net = pytest.mark.skipif(
    ABI < 4, reason=f"TCP rules need Landlock ABI >= 4 (kernel ABI {ABI})"
)
WAIT = 20  # generous: a slow machine never fails a test, a hang still ends it
REGISTER_TIMEOUT = 1.5
ANSWER_WITHIN = 1.0

# A job that keeps trying its attack for ``seconds``: the console is asked meanwhile.
PERSISTENT_JOB = """
import time


def _persist(attack, seconds):
    deadline = time.monotonic() + seconds
    while True:
        try:
            return attack()
        except OSError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def register(bridge):
    def attack(job, seconds=1.0, **params):
        return _persist(lambda: ATTACK(**params), seconds)

    bridge.register_job("attack", attack)
"""


class ConsoleProbe:
    """Asks the console for ``/plugins.json`` from another thread once an attack is under
    way, and records how it answered and whether the attack was still going on after."""

    def __init__(self, client: Client, under_way: Callable[[], bool]) -> None:
        self._client, self._under_way = client, under_way
        self.status: int | None = None
        self.elapsed = float("inf")
        self.overlapped = False
        self.error = ""
        self._thread = threading.Thread(target=self._run, name="console-probe", daemon=True)

    def __enter__(self) -> ConsoleProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(WAIT)

    def _run(self) -> None:
        try:
            deadline = time.monotonic() + WAIT
            while not self._under_way():
                if time.monotonic() > deadline:
                    self.error = "the attack never got under way"
                    return
                time.sleep(0.01)
            started = time.monotonic()
            response = self._client.get("/plugins.json")
            self.elapsed = time.monotonic() - started
            self.status = response.status_code
            self.overlapped = self._under_way()
        except Exception as exc:  # reported by assert_answered, in the test's thread
            self.error = repr(exc)
        finally:
            connections.close_all()

    def assert_answered(self, *, overlap: bool = True) -> None:
        assert not self.error, self.error
        assert self.status == 200
        assert self.elapsed < ANSWER_WITHIN, f"the console took {self.elapsed:.2f} s"
        if overlap:
            assert self.overlapped, "the attack was over before the console answered"


@pytest.fixture
def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def plugins(tmp_path: Path, settings) -> Path:
    root = tmp_path / "plugins"
    root.mkdir()
    settings.JUPITER_PLUGIN_DIRS = [root]
    settings.JUPITER_PLUGIN_REGISTER_TIMEOUT = REGISTER_TIMEOUT
    return root


@pytest.fixture
def project(tmp_path: Path, plugins: Path) -> Project:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "app.py").write_text("print('hi')\n")
    boot()
    return register_project("proj", root)


def hostile(root: Path, plugin_id: str, code: str, *, permissions: str = "[]") -> Path:
    return write_plugin(
        root,
        plugin_id,
        body=textwrap.dedent(code),
        extra_yaml=f"permissions: {permissions}\ncapabilities: {{jobs: {{timeout: 30}}}}\n",
    )


def attacker(root: Path, plugin_id: str, attack: str, **kwargs: str) -> Path:
    """A plugin whose ``attack`` job keeps calling ``ATTACK(**params)``."""
    return hostile(root, plugin_id, textwrap.dedent(attack) + PERSISTENT_JOB, **kwargs)


def status(plugin_id: str) -> InstalledPlugin:
    return InstalledPlugin.objects.get(plugin_id=plugin_id)


def enable(project: Project, plugin_id: str) -> None:
    get_runtime().rescan()
    set_plugin_enabled(project, plugin_id, True)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def events(plugin_id: str, kind: ProcessEventKind) -> list[PluginProcessEvent]:
    """The plugin's events of ``kind``, waiting up to 5 s for the first: the supervisor's
    watcher thread records an event just after the job or call that saw it failed."""
    rows = PluginProcessEvent.objects.filter(plugin_id=plugin_id, kind=kind)
    deadline = time.monotonic() + 5
    while not rows.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(rows)


def running(job: Job) -> Callable[[], bool]:
    return lambda: Job.objects.filter(pk=job.pk, state=JobState.RUNNING).exists()


def loading(plugin_id: str) -> Callable[[], bool]:
    rows = InstalledPlugin.objects.filter(plugin_id=plugin_id, status=PluginStatus.LOADING)
    return rows.exists


def settle(job: Job) -> Job:
    assert executor().wait(str(job.pk), WAIT), "the job never settled"
    job.refresh_from_db()
    return job


def attack_in_job(console: Client, project: Project, plugin_id: str, **params: object) -> Job:
    """Run the plugin's attack job while the console is asked; the settled job."""
    enable(project, plugin_id)
    assert status(plugin_id).status == PluginStatus.READY, status(plugin_id).status_reason
    job = submit(plugin_id, "attack", project=project, params=params)
    with ConsoleProbe(console, running(job)) as probe:
        job = settle(job)
    probe.assert_answered()
    return job


# Hangs, loops and leaks: the host kills the process and says why -------------------------


@pytest.mark.parametrize(
    ("plugin_id", "code"),
    [
        (
            "hangs_at_import",
            "import time\n\ntime.sleep(600)\n\n\ndef register(bridge):\n    pass\n",
        ),
        ("hangs_in_register", "import time\n\n\ndef register(bridge):\n    time.sleep(600)\n"),
        ("spins_at_import", "while True:\n    pass\n\n\ndef register(bridge):\n    pass\n"),
    ],
)
def test_a_plugin_that_never_registers_is_killed_at_the_time_limit(
    console, project, plugins, plugin_id, code
):
    hostile(plugins, plugin_id, code)
    with ConsoleProbe(console, loading(plugin_id)) as probe:
        enable(project, plugin_id)
    probe.assert_answered()
    plugin = status(plugin_id)
    assert plugin.status == PluginStatus.ERROR
    assert plugin.status_reason == f"register() did not return within {REGISTER_TIMEOUT:g} s"
    assert get_runtime().bridge.registration(plugin_id) is None
    [killed] = events(plugin_id, ProcessEventKind.KILLED)
    assert killed.reason == plugin.status_reason
    assert killed.pid is not None and not alive(killed.pid)


def test_a_job_leaking_memory_is_stopped_at_the_memory_limit(console, project, plugins, settings):
    settings.JUPITER_PLUGIN_MEMORY_MB = 150
    attacker(
        plugins,
        "leaks_memory",
        """
        import time

        HOARD = []


        def ATTACK():
            while True:  # 10 MB every 100 ms, touched so that it is really resident
                HOARD.append(b"\\x01" * (10 * 1024 * 1024))
                time.sleep(0.1)
        """,
    )
    job = attack_in_job(console, project, "leaks_memory")
    assert job.state == JobState.FAILED
    assert "stopped: used more than 150 MB" in job.error
    [killed] = events("leaks_memory", ProcessEventKind.KILLED)
    assert killed.reason == "stopped: used more than 150 MB"
    assert not alive(killed.pid)


def test_a_cpu_bound_job_ignoring_its_cancellation_has_its_process_killed(
    console, project, plugins, settings
):
    settings.JUPITER_JOB_CANCEL_GRACE = 0.3
    hostile(
        plugins,
        "spins_in_job",
        """
        def register(bridge):
            def spin(job):
                while True:  # never asks job.is_cancelled()
                    pass

            bridge.register_job("spin", spin)
        """,
    )
    enable(project, "spins_in_job")
    pid = get_runtime().supervisor.process("spins_in_job").pid
    job = submit("spins_in_job", "spin", project=project)
    with ConsoleProbe(console, running(job)) as probe:
        time.sleep(0.5)  # let it burn
        cancel(job)
        job = settle(job)
    probe.assert_answered()
    assert job.state == JobState.CANCELLED
    assert "did not stop within 0.3 s" in job.error
    assert "its plugin process was stopped" in job.error
    assert not alive(pid)
    [killed] = events("spins_in_job", ProcessEventKind.KILLED)
    assert killed.pid == pid
    assert killed.reason.endswith("ignored its cancellation for 0.3 s")


# What the kernel refuses (Landlock) -------------------------------------------------------


@needs_landlock
def test_reading_etc_passwd_is_refused(console, project, plugins):
    attacker(plugins, "reads_passwd", "def ATTACK():\n    return open('/etc/passwd').read()\n")
    job = attack_in_job(console, project, "reads_passwd")
    assert job.state == JobState.FAILED
    assert job.error.startswith("PermissionError: [Errno 13] Permission denied: '/etc/passwd'")


@needs_landlock
def test_writing_outside_the_project_is_refused(console, project, plugins, tmp_path):
    attacker(
        plugins,
        "writes_outside",
        """
        def ATTACK(target):
            with open(target, "w") as out:
                out.write("pwned")
            return target
        """,
        permissions="[fs_read, fs_write]",
    )
    target = tmp_path / "outside.txt"
    job = attack_in_job(console, project, "writes_outside", target=str(target))
    assert job.state == JobState.FAILED
    assert job.error.startswith(f"PermissionError: [Errno 13] Permission denied: '{target}'")
    assert not target.exists()


@needs_landlock
def test_running_a_program_without_run_commands_is_refused(console, project, plugins):
    attacker(
        plugins,
        "runs_id",
        """
        import subprocess


        def ATTACK():
            return subprocess.run(["id"], capture_output=True, text=True).stdout
        """,
    )
    job = attack_in_job(console, project, "runs_id")
    assert job.state == JobState.FAILED
    assert job.error.startswith("PermissionError: [Errno 13] Permission denied: 'id'")


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    server.setblocking(False)
    yield server
    server.close()


@needs_net
def test_a_tcp_connection_without_network_outbound_is_refused(console, project, plugins, listener):
    attacker(
        plugins,
        "connects_out",
        """
        import socket


        def ATTACK(port):
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return "connected"
        """,
    )
    port = listener.getsockname()[1]
    job = attack_in_job(console, project, "connects_out", port=port)
    assert job.state == JobState.FAILED
    assert job.error.startswith("PermissionError: [Errno 13] Permission denied")
    with pytest.raises(BlockingIOError):
        listener.accept()  # nothing ever connected


@needs_landlock
@pytest.mark.parametrize("secret", ["secret_key", "database"])
def test_the_hosts_var_files_are_out_of_reach(console, project, plugins, secret):
    var = Path(django_settings.JUPITER_VAR_DIR)
    database = Path(connections["default"].settings_dict["NAME"])
    path = var / "secret_key" if secret == "secret_key" else database
    assert path.is_file() and path.is_relative_to(var), path  # the real files, not stand-ins
    attacker(
        plugins,
        "reads_var",
        "def ATTACK(path):\n    with open(path, 'rb') as f:\n        return f.read(16).hex()\n",
        permissions="[fs_read, fs_write]",
    )
    job = attack_in_job(console, project, "reads_var", path=str(path))
    assert job.state == JobState.FAILED
    assert job.error.startswith(f"PermissionError: [Errno 13] Permission denied: '{path}'")


# The signed code is the code that runs ----------------------------------------------------

SOURCE_AND_BAIT = """
import time

VALUE = "source"


def register(bridge):
    def which(job):
        time.sleep(0.5)  # held a moment: the console is asked meanwhile
        try:
            from . import extra
        except ImportError:
            extra = None
        return {"main": VALUE, "extra": getattr(extra, "VALUE", None)}

    bridge.register_job("which", which)
"""


def plant_bytecode(folder: Path, tmp_path: Path) -> None:
    """Bytecode an ordinary import would run: ``__pycache__/main.*.pyc`` compiled from other
    source (unchecked-hash, so Python would not even compare it with ``main.py``), and a
    sourceless ``extra.pyc`` beside the sources."""
    evil = tmp_path / "evil.py"
    evil.write_text('VALUE = "bytecode"\n')
    tag = sys.implementation.cache_tag
    mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
    (folder / "__pycache__").mkdir()
    py_compile.compile(
        str(evil), cfile=str(folder / "__pycache__" / f"main.{tag}.pyc"), invalidation_mode=mode
    )
    py_compile.compile(str(evil), cfile=str(folder / "extra.pyc"), invalidation_mode=mode)


def test_bytecode_dropped_into_an_installed_plugin_never_runs(console, project, plugins, tmp_path):
    key = Ed25519PrivateKey.generate()
    source = signed_plugin(tmp_path / "src", "bytecode_bait", key, body=SOURCE_AND_BAIT)
    install(stage_directory(source).token)
    folder = Path(django_settings.JUPITER_INSTALL_DIR) / "bytecode_bait"
    plant_bytecode(folder, tmp_path)
    bait = subprocess.run(
        [sys.executable, "-c", "import main, extra; print(main.VALUE, extra.VALUE)"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    assert bait.stdout.split() == ["bytecode", "bytecode"]  # Python itself would run it
    enable(project, "bytecode_bait")
    assert status("bytecode_bait").status == PluginStatus.READY
    job = submit("bytecode_bait", "which", project=project)
    with ConsoleProbe(console, running(job)) as probe:
        job = settle(job)
    probe.assert_answered()
    assert job.state == JobState.COMPLETED, job.error
    assert job.result == {"main": "source", "extra": None}


def test_an_archive_carrying_bytecode_is_refused_naming_the_file(console, project, tmp_path):
    key = Ed25519PrivateKey.generate()
    folder = signed_plugin(tmp_path / "src", "ships_pyc", key)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0" * 16)
    archive = tar_of(folder, tmp_path / "ships_pyc.tar.gz")
    under_way = threading.Event()
    with ConsoleProbe(console, under_way.is_set) as probe, pytest.raises(ArchiveError) as refused:
        under_way.set()
        stage_archive(archive)
    probe.assert_answered(overlap=False)  # refused in milliseconds; asked meanwhile
    assert "ships_pyc/__pycache__" in str(refused.value)
    assert "compiled Python is refused" in str(refused.value)
    assert not InstalledPlugin.objects.filter(plugin_id="ships_pyc").exists()
    with tarfile.open(archive) as tar:  # the signature alone would not have noticed
        assert "ships_pyc/__pycache__/main.cpython-311.pyc" in tar.getnames()


def test_a_signed_plugin_that_loses_its_signature_is_refused(console, project, tmp_path):
    key = Ed25519PrivateKey.generate()
    source = signed_plugin(tmp_path / "src", "was_signed", key)
    plugin = install(stage_archive(tar_of(source, tmp_path / "was_signed.tar.gz")).token)
    assert plugin.signed
    enable(project, "was_signed")
    assert status("was_signed").status == PluginStatus.READY
    folder = Path(plugin.source_path)
    (folder / SIGNATURE_FILENAME).unlink()
    (folder / "main.py").write_text("def register(bridge):\n    print('edited, unsigned')\n")
    under_way = threading.Event()
    with ConsoleProbe(console, under_way.is_set) as probe:
        under_way.set()
        get_runtime().rescan()  # what every process does when the feed says plugins changed
    probe.assert_answered(overlap=False)  # a refusal takes milliseconds; asked meanwhile
    refused = status("was_signed")
    assert refused.status == PluginStatus.ERROR
    assert f"{SIGNATURE_FILENAME} is missing" in refused.status_reason
    assert "was signed when it was installed" in refused.status_reason
    assert get_runtime().bridge.registration("was_signed") is None
    assert get_runtime().supervisor.process("was_signed") is None
