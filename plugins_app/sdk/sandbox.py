"""Mediated access to the outside world for plugins (SPEC B3, X1, X3).

Everything a plugin does beyond computing goes through these objects, which check the
permissions its manifest declares before acting:

- ``ProjectFiles``: read (``fs_read``) and write (``fs_write``) files of one project; a path
  that resolves outside the project's root (``..``, an absolute path, a symlink out) is
  refused whatever the permissions;
- ``Runner``: run a command (``run_commands``) as an argument list, never through a shell,
  in the project's root, with a timeout that kills the whole process group, a scrubbed
  environment (never the server's secrets) and no argument naming a path outside the root;
- ``HttpClient``: outbound HTTP(S) (``network_outbound``) with a timeout.

Each takes the two policies that make it a host's or a test's: ``require`` (check a
permission, raise ``PermissionRefused``) and ``refuse`` (record a refusal, then raise). The
host passes ones that log and audit (``services.permissions``); the Bridge double, ones that
keep a list. This is logical isolation inside one Python process: a plugin that imports
``subprocess`` or ``open`` itself is not stopped (see README, "Isolation").
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugins_app.manifest.model import Manifest
from plugins_app.sdk.errors import CommandRefused, OutsideProjectRoot, PermissionRefused

__all__ = [
    "CommandResult",
    "HttpClient",
    "HttpResponse",
    "ProjectFiles",
    "Refuse",
    "Require",
    "Runner",
    "contained_path",
]

log = logging.getLogger("jupiter.permissions")

OUTPUT_CAP = 1024 * 1024  # bytes of stdout/stderr kept per command

Require = Callable[[Manifest, str, str], None]

Refuse = Callable[[Manifest, PermissionRefused], None]


def contained_path(
    manifest: Manifest,
    root: Path,
    relative: str | os.PathLike[str],
    refuse: Refuse,
) -> Path:
    """``root / relative`` fully resolved (symlinks followed), or ``OutsideProjectRoot``."""
    root = Path(root).resolve()
    candidate = (root / relative).resolve()
    if candidate != root and root not in candidate.parents:
        error = OutsideProjectRoot(manifest.id, os.fspath(relative), root)
        refuse(manifest, error)
        raise error
    return candidate


def _through_link(root: Path, relative: Path) -> bool:
    """Whether any component of ``root / relative`` (the last included) is a symlink."""
    current = root
    for part in relative.parts:
        current = current / part
        if current.is_symlink():
            return True
    return False


# The only variables of the server's environment a command sees: never its secrets
# (JUPITER_ADMIN_PASSWORD, SECRET_KEY, DATABASE_URL...).
INHERITED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")


def command_environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    """A scrubbed environment: the few neutral variables above, then the plugin's own."""
    base = {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}
    base.setdefault("PATH", os.defpath)
    return {**base, **(extra or {})}


class ProjectFiles:
    """One project's files, as one plugin may use them."""

    def __init__(
        self,
        manifest: Manifest,
        root: Path,
        require: Require,
        refuse: Refuse,
    ) -> None:
        self._manifest = manifest
        self._require, self._refuse = require, refuse
        self.root = Path(root).resolve()

    def path(self, relative: str | os.PathLike[str]) -> Path:
        """The absolute path inside the project root; refused if it would leave it."""
        return contained_path(self._manifest, self.root, relative, self._refuse)

    def read_text(self, relative: str | os.PathLike[str], encoding: str = "utf-8") -> str:
        self._require(self._manifest, "fs_read", f"read {relative}")
        return self.path(relative).read_text(encoding=encoding, errors="replace")

    def read_bytes(self, relative: str | os.PathLike[str]) -> bytes:
        self._require(self._manifest, "fs_read", f"read {relative}")
        return self.path(relative).read_bytes()

    def list(self, pattern: str = "**/*") -> list[str]:
        """Files under the root matching a glob, as root-relative POSIX paths.

        A link is never followed, to a file or a directory (``glob`` would walk ``link/*``
        into wherever ``link`` points); ``..`` in the pattern cannot leave the root either.
        """
        self._require(self._manifest, "fs_read", f"list {pattern}")
        found = []
        for path in self.root.glob(pattern):
            relative = path.relative_to(self.root)
            if ".." in relative.parts or _through_link(self.root, relative):
                continue
            if path.is_file():
                found.append(relative.as_posix())
        return sorted(found)

    def write_text(
        self, relative: str | os.PathLike[str], text: str, encoding: str = "utf-8"
    ) -> Path:
        self._require(self._manifest, "fs_write", f"write {relative}")
        target = self.path(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding=encoding)
        return target


@dataclass(frozen=True)
class CommandResult:
    args: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


class Runner:
    """``bridge.services.get_runner()``: commands in a project's root, without a shell.

    A project is named, never given as a path: ``project_root`` resolves the name among the
    projects that enabled the plugin, so a plugin cannot pick a directory of its own.
    """

    def __init__(
        self,
        manifest: Manifest,
        project_root: Callable[[str], Path],
        require: Require,
        refuse: Refuse,
        max_timeout: float = 60.0,
        data_dir: Path | None = None,
    ) -> None:
        self._manifest = manifest
        self._project_root = project_root
        self._require, self._refuse = require, refuse
        self._max_timeout = max_timeout
        self._data_dir = data_dir.resolve() if data_dir is not None else None

    def _confine(self, root: Path, workdir: Path, argument: str) -> None:
        """Refuse an argument naming a path outside the project: absolute, with a ``..``
        segment, or an existing entry that resolves elsewhere (a link out); ``--opt=value``
        is checked on its value. Other arguments (flags, words) pass as they are. An absolute
        path inside the plugin's own data folder passes too: it is where a tool's output file
        goes (``--output-file``) without writing into the project."""
        _, equals, option_value = argument.partition("=")
        value = option_value if argument.startswith("-") and equals else argument
        if not value:
            return
        path = Path(value)
        inside_data = self._data_dir is not None and path.is_absolute() and ".." not in path.parts
        if inside_data and self._data_dir and path.resolve().is_relative_to(self._data_dir):
            return
        if path.is_absolute() or ".." in path.parts or os.path.lexists(workdir / path):
            contained_path(self._manifest, root, workdir / path, self._refuse)

    def run(
        self,
        project: str | Any,
        args: Sequence[str],
        *,
        cwd: str = ".",
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        input: str | None = None,
    ) -> CommandResult:
        """Run ``args`` in the project's root (or ``cwd`` inside it); a non-zero exit is a
        result, not an error. ``project`` is a name or a ``ProjectInfo``.

        ``timeout`` defaults to, and is capped by, ``max_timeout`` (the host passes
        ``JUPITER_RUNNER_TIMEOUT``); on expiry the command's whole process group is killed
        and ``timed_out`` is set.
        """
        if isinstance(args, str | bytes) or not args:
            raise CommandRefused("pass the command as a non-empty list of arguments, no shell")
        argv = tuple(args)
        if not all(isinstance(a, str) for a in argv):
            raise CommandRefused("every command argument must be a string")
        self._require(self._manifest, "run_commands", f"run {argv[0]!r}")
        root = self._project_root(getattr(project, "name", project))
        workdir = contained_path(self._manifest, root, cwd, self._refuse)
        for argument in argv[1:]:
            self._confine(root, workdir, argument)
        limit = self._max_timeout
        timeout = min(timeout, limit) if timeout else limit
        started = time.monotonic()
        log.info("plugin %s runs %s in %s", self._manifest.id, argv, workdir)
        process = subprocess.Popen(  # noqa: S603 - argument list, shell=False, checked above
            argv,
            cwd=workdir,
            env=command_environment(env),
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            text=True,
            errors="replace",
        )
        try:
            out, err = process.communicate(input=input, timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            timed_out = True
        return CommandResult(
            argv,
            None if timed_out else process.returncode,
            out[:OUTPUT_CAP],
            err[:OUTPUT_CAP],
            time.monotonic() - started,
            timed_out,
        )


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def text(self, encoding: str = "utf-8") -> str:
        return self.body.decode(encoding, errors="replace")


class HttpClient:
    """``bridge.services.get_http_client()``: handed out only with ``network_outbound``."""

    def __init__(self, manifest: Manifest, require: Require, timeout: float = 10.0) -> None:
        require(manifest, "network_outbound", "open outbound network connections")
        self._manifest = manifest
        self.timeout = timeout

    def request(
        self,
        method: str,
        url: str,
        *,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        max_bytes: int = 10 * 1024 * 1024,
    ) -> HttpResponse:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"only http(s) URLs may be fetched, not {url!r}")
        request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))  # noqa: S310
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            body = response.read(max_bytes)
            return HttpResponse(response.status, dict(response.headers), body)

    def get(self, url: str, **kwargs: Any) -> HttpResponse:
        return self.request("GET", url, **kwargs)
