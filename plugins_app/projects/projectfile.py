"""The ``<project>.jupiter.yaml`` file: its format, reading, rendering and atomic writing.

No Django here: the file is a document people edit by hand, so this module only turns it into
values and back, with errors that name the field and the line. ``projects.service`` decides what the
values mean for the database. Format::

    # Managed by Jupiter; hand edits are picked up.
    project: demo
    plugins:
      code_analyzer:
        enabled: true
        config:            # per-project overrides, optional
          max_complexity: 12

Anything Jupiter does not understand is kept, not dropped: unknown top-level keys, unknown
keys inside a plugin entry, and entries for plugins that are not installed here (the file may
be shared between machines with different plugins). Comments are not kept when Jupiter saves.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml

from plugins_app.base.errors import JupiterError
from plugins_app.base.fsutil import atomic_write_text
from plugins_app.manifest import safe_yaml

HEADER = (
    "# Managed by Jupiter; hand edits are picked up.\n"
    "# Comments other than these two lines are not kept when Jupiter saves this file.\n"
)
_ENTRY_KEYS = ("enabled", "config")
_TOP_KEYS = ("project", "plugins")


class ProjectFileError(JupiterError, ValueError):
    """The project file cannot be read or written, or does not have the expected shape."""

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.message = message
        self.line = line
        super().__init__(f"{path}: {self.detail}")

    @property
    def detail(self) -> str:
        """The message with its line, without the path (for a page that already shows it)."""
        return f"{self.message} (line {self.line})" if self.line else self.message


@dataclass(frozen=True)
class PluginEntry:
    """One plugin's state in a project: enabled flag, config overrides, unknown keys kept."""

    enabled: bool = False
    overrides: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectFileData:
    """The file's content; ``sha256`` is the hash of the bytes it was read from ("" if built)."""

    project: str = ""
    plugins: Mapping[str, PluginEntry] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    sha256: str = ""


def read_project_file(path: Path) -> ProjectFileData:
    """Read and check the file; raise ``ProjectFileError`` naming the field and line.

    The hash is taken from the very bytes that are parsed, so a concurrent hand edit can never
    pair one version's hash with another version's content. Like manifests, the file is read
    through the hardened loader (size cap, regular files only, no anchors or aliases).
    """
    path = Path(path)
    max_bytes = safe_yaml.DEFAULT_MAX_BYTES
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise ProjectFileError(path, "is not a regular file")
        with open(path, "rb") as stream:
            raw = stream.read(max_bytes + 1)
    except OSError as exc:
        raise ProjectFileError(path, f"cannot be read: {exc.strerror or exc}") from exc
    if len(raw) > max_bytes:
        raise ProjectFileError(path, f"is larger than {max_bytes} bytes")
    try:
        document = safe_yaml.parse_yaml(raw.decode("utf-8-sig"), max_bytes=max_bytes)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ProjectFileError(path, "is not UTF-8 text", line) from exc
    except safe_yaml.YamlError as exc:
        raise ProjectFileError(path, exc.message, exc.line) from exc
    return _Parser(path, document).parse(hashlib.sha256(raw).hexdigest())


def render_project_file(data: ProjectFileData) -> str:
    """Render ``data`` as the file's text: header, ``project``, sorted plugins, then the rest.

    Keys are sorted everywhere so saving the same state twice gives the same bytes (and the
    same hash), and diffs of the file under version control stay small.
    """
    document: dict[str, Any] = {}
    if data.project:
        document["project"] = data.project
    plugins: dict[str, Any] = {}
    for plugin_id in sorted(data.plugins):
        entry = data.plugins[plugin_id]
        body: dict[str, Any] = {"enabled": entry.enabled}
        if entry.overrides:
            body["config"] = _sorted(entry.overrides)
        for key in sorted(entry.extra, key=str):
            body.setdefault(key, _sorted(entry.extra[key]))
        plugins[plugin_id] = body
    document["plugins"] = plugins
    for key in sorted(data.extra, key=str):
        document.setdefault(key, _sorted(data.extra[key]))
    return HEADER + yaml.safe_dump(
        document, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100
    )


def write_project_file(path: Path, data: ProjectFileData) -> str:
    """Write ``data`` atomically and return the SHA-256 of the bytes written.

    An ``OSError`` becomes ``ProjectFileError`` so callers handle one error type for the file.
    """
    text = render_project_file(data)
    try:
        atomic_write_text(Path(path), text)
    except OSError as exc:
        raise ProjectFileError(path, f"cannot be written: {exc.strerror or exc}") from exc
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Parser:
    """Checks the document's shape, pointing errors at the offending line."""

    def __init__(self, path: Path, document: safe_yaml.YamlDocument) -> None:
        self.path = path
        self.document = document

    def parse(self, sha256: str) -> ProjectFileData:
        data = self.document.data
        project = data.get("project", "")
        if not isinstance(project, str):
            self.fail(("project",), "project must be a string")
        plugins = data.get("plugins")
        if plugins is None:
            plugins = {}
        if not isinstance(plugins, dict):
            self.fail(("plugins",), "plugins must be a mapping of plugin id to settings")
        return ProjectFileData(
            project=project,
            plugins={pid: self.entry(pid, entry) for pid, entry in plugins.items()},
            extra={k: v for k, v in data.items() if k not in _TOP_KEYS},
            sha256=sha256,
        )

    def entry(self, plugin_id: str, entry: Any) -> PluginEntry:
        where = ("plugins", plugin_id)
        if not plugin_id:
            self.fail(where, "plugin ids must not be empty")
        if not isinstance(entry, dict):
            self.fail(where, f"plugins.{plugin_id} must be a mapping such as `enabled: true`")
        enabled = entry.get("enabled", False)
        if not isinstance(enabled, bool):
            self.fail((*where, "enabled"), f"plugins.{plugin_id}.enabled must be true or false")
        overrides = entry.get("config")
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, dict):
            self.fail((*where, "config"), f"plugins.{plugin_id}.config must be a mapping")
        return PluginEntry(
            enabled=enabled,
            overrides=overrides,
            extra={k: v for k, v in entry.items() if k not in _ENTRY_KEYS},
        )

    def fail(self, keys: tuple[str, ...], message: str) -> NoReturn:
        raise ProjectFileError(self.path, message, self.document.line_of(keys))


def _sorted(value: Any) -> Any:
    """Copy with mapping keys sorted at every depth (lists keep their order: it is meaningful)."""
    if isinstance(value, Mapping):
        return {k: _sorted(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value
