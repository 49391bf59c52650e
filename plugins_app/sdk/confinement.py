"""Kernel-enforced confinement of a plugin process, applied by the child to itself (SPEC X3).

A plugin's child process calls ``apply(policy)`` once, single-threaded, after the host
hands it its policy and before any plugin code is imported. From then on the kernel, not
Python, says no: Linux Landlock confines the filesystem to the granted paths (reading
recursively, writing, executing), TCP connect and bind, signals and abstract Unix sockets
outside the process; rlimits bound memory, CPU, open files and processes; capabilities are
dropped so a child started as root cannot lift its own limits; the environment is cut down
to the policy's. Landlock cannot be undone, only narrowed further.

Where the kernel has no Landlock, ``apply`` still sets the rlimits, capabilities and
environment and reports ABI 0, so the console can say "process isolation only"; a policy
with ``require_landlock`` refuses instead.

Two things the supervisor must do itself, because no code in the child can:
- start the child with ``env=policy.env``: scrubbing ``os.environ`` removes the variables
  from what plugin code and its subprocesses see, but the strings the process was started
  with stay in its memory;
- run the child under a dedicated unprivileged UID if ``max_processes`` should mean
  anything: ``RLIMIT_NPROC`` counts every process of the real UID (the host's too under a
  shared account) and the kernel never applies it to UID 0.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from plugins_app.base.errors import JupiterError
from plugins_app.sdk import linux

__all__ = ["Confinement", "ConfinementError", "ConfinementReport", "apply", "landlock_abi"]

# The plugins_app package directory, which plugin code imports the SDK from: the repository
# root above it holds var/ (database, secret key, logs) and is never granted.
_PACKAGE_DIR = Path(__file__).resolve().parent.parent

# What any Python interpreter reads beyond its prefix: shared libraries, time zones. A fixed
# list rather than a glob of /lib*: the policy may be built inside an already confined child.
_SYSTEM_READ = (
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/usr/lib",
    "/usr/lib64",
    "/usr/share/zoneinfo",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/dev/null",
    "/dev/urandom",
)
# What name resolution and TLS read, granted with the network only.
_NETWORK_READ = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/host.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
)
_DEFAULT_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
_RLIMIT_NAMES = {
    resource.RLIMIT_AS: "RLIMIT_AS",
    resource.RLIMIT_CPU: "RLIMIT_CPU",
    resource.RLIMIT_NOFILE: "RLIMIT_NOFILE",
    resource.RLIMIT_NPROC: "RLIMIT_NPROC",
    resource.RLIMIT_CORE: "RLIMIT_CORE",
}


class ConfinementError(JupiterError):
    """A confinement could not be applied as the policy demands; the child must not go on."""


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when unavailable (the console shows it)."""
    return linux.landlock_abi()


@dataclass(frozen=True)
class Confinement:
    """What a plugin process may do, all of it enforced by the kernel once applied.

    Paths are absolute and granted recursively; a path granted for writing is readable too,
    one granted for execution is readable and its files may be run (with none, a plugin
    cannot start any program). ``memory_bytes`` bounds the address space (``RLIMIT_AS``:
    reserved, not resident, so leave room for thread stacks and mapped libraries);
    ``cpu_seconds`` sends SIGXCPU, then SIGKILL a second later; ``max_processes`` is
    ``RLIMIT_NPROC``, per real UID and ignored for root (see the module docstring).
    ``env`` is the complete environment the process keeps.
    """

    read_paths: tuple[str, ...] = ()
    write_paths: tuple[str, ...] = ()
    exec_paths: tuple[str, ...] = ()
    allow_tcp_connect: bool = False
    memory_bytes: int | None = None
    cpu_seconds: int | None = None
    max_open_files: int | None = None
    max_processes: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    require_landlock: bool = False

    def __post_init__(self) -> None:
        for name in ("read_paths", "write_paths", "exec_paths"):
            paths = tuple(os.fspath(p) for p in getattr(self, name))
            if relative := [p for p in paths if not os.path.isabs(p)]:
                raise ConfinementError(f"{name} must be absolute paths, got {relative}")
            object.__setattr__(self, name, paths)
        object.__setattr__(self, "env", MappingProxyType(dict(self.env)))

    @classmethod
    def for_plugin(
        cls,
        plugin_root: str | os.PathLike[str],
        project_roots_read: Iterable[str | os.PathLike[str]] = (),
        project_roots_write: Iterable[str | os.PathLike[str]] = (),
        allow_network: bool = False,
        *,
        env: Mapping[str, str] | None = None,
        memory_bytes: int | None = None,
        cpu_seconds: int | None = None,
        max_open_files: int | None = None,
        max_processes: int | None = None,
        require_landlock: bool = False,
    ) -> Confinement:
        """The common policy: the plugin's own folder and its projects, plus what Python needs.

        Python needs its prefixes, the stdlib and site-packages directories on ``sys.path``
        (never the working directory or the repository root, which holds ``var/``), the
        ``plugins_app`` package, system libraries and time zones; with the network, the
        resolver's and TLS files. Nothing else: no database, secret key, other plugins,
        ``/etc/passwd`` or home directories.
        """
        read = [os.fspath(plugin_root), *(os.fspath(p) for p in project_roots_read)]
        read += _python_paths()
        read += _SYSTEM_READ
        if allow_network:
            read += _NETWORK_READ
        return cls(
            read_paths=_unique(read),
            write_paths=_unique([*(os.fspath(p) for p in project_roots_write), "/dev/null"]),
            allow_tcp_connect=allow_network,
            memory_bytes=memory_bytes,
            cpu_seconds=cpu_seconds,
            max_open_files=max_open_files,
            max_processes=max_processes,
            env=_DEFAULT_ENV if env is None else env,
            require_landlock=require_landlock,
        )


@dataclass(frozen=True)
class ConfinementReport:
    """What ``apply`` did, for the host to log and show beside the plugin."""

    landlock_abi: int
    handled_fs: int
    handled_net: int
    scoped: int
    skipped_paths: tuple[str, ...]
    rlimits: tuple[tuple[str, int], ...]
    capabilities_dropped: bool

    @property
    def kernel_enforced(self) -> bool:
        """Whether Landlock confines the process, rather than rlimits alone."""
        return self.landlock_abi > 0

    @property
    def summary(self) -> str:
        if not self.kernel_enforced:
            return "process isolation only (no Landlock in this kernel)"
        return f"Landlock ABI {self.landlock_abi}"


def apply(confinement: Confinement) -> ConfinementReport:
    """Confine the calling process for good; call it before any thread or plugin import.

    Landlock and capabilities belong to a thread, so a second thread would stay free:
    ``apply`` refuses to run with more than one. Raises ``ConfinementError`` when Landlock
    fails, or is missing while ``require_landlock`` is set (then before changing anything).
    """
    if (threads := _thread_count()) > 1:
        raise ConfinementError(f"apply() needs a single-threaded process; this one has {threads}")
    abi = linux.landlock_abi()
    if abi == 0 and confinement.require_landlock:
        raise ConfinementError("the policy requires Landlock, which this kernel does not offer")
    rlimits = _apply_rlimits(confinement)
    os.environ.clear()
    os.environ.update(confinement.env)
    try:
        dropped = linux.drop_capabilities()
    except linux.SyscallError as error:
        raise ConfinementError(f"could not drop capabilities: {error}") from error
    if abi == 0:
        return ConfinementReport(0, 0, 0, 0, (), rlimits, dropped)
    supported = linux.supported_rights(abi)
    handled_net = supported.net
    if confinement.allow_tcp_connect:
        handled_net &= ~linux.NET_CONNECT_TCP
    rights = linux.Rights(fs=supported.fs, net=handled_net, scoped=supported.scoped)
    rules = [(p, linux.FS_READ) for p in confinement.read_paths]
    rules += [(p, linux.FS_WRITE) for p in confinement.write_paths]
    rules += [(p, linux.FS_READ | linux.FS_EXECUTE) for p in confinement.exec_paths]
    try:
        skipped = linux.restrict_self(abi, rights, rules)
    except linux.SyscallError as error:
        raise ConfinementError(f"Landlock could not be applied: {error}") from error
    return ConfinementReport(abi, rights.fs, rights.net, rights.scoped, skipped, rlimits, dropped)


def _apply_rlimits(confinement: Confinement) -> tuple[tuple[str, int], ...]:
    """Lower (never raise) each limit the policy sets; soft and hard alike, so it sticks."""
    wanted = {resource.RLIMIT_CORE: 0}
    if confinement.memory_bytes is not None:
        wanted[resource.RLIMIT_AS] = confinement.memory_bytes
    if confinement.max_open_files is not None:
        wanted[resource.RLIMIT_NOFILE] = confinement.max_open_files
    if confinement.max_processes is not None:
        wanted[resource.RLIMIT_NPROC] = confinement.max_processes
    applied = []
    for limit, value in wanted.items():
        _, hard = resource.getrlimit(limit)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, value))
        applied.append((_RLIMIT_NAMES[limit], value))
    if confinement.cpu_seconds is not None:
        # The soft limit sends SIGXCPU (fatal unless handled); the hard one SIGKILL after.
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        ceiling = confinement.cpu_seconds + 1
        ceiling = ceiling if hard == resource.RLIM_INFINITY else min(ceiling, hard)
        soft = min(confinement.cpu_seconds, ceiling)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, ceiling))
        applied.append((_RLIMIT_NAMES[resource.RLIMIT_CPU], soft))
    return tuple(applied)


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # no /proc mounted: Python's own threads are the ones that matter
        return threading.active_count()


def _python_paths() -> list[str]:
    """The interpreter's own directories, minus the working directory and the repository."""
    cwd = Path.cwd().resolve()
    forbidden = {cwd, *cwd.parents, _PACKAGE_DIR.parent, *_PACKAGE_DIR.parent.parents}
    candidates = [sys.base_prefix, sys.prefix, str(_PACKAGE_DIR), *filter(None, sys.path)]
    return [p for p in candidates if Path(p).resolve() not in forbidden | {Path("/")}]


def _unique(paths: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(paths))
