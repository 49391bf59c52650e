"""Catalogue indexes (SPEC MK1, MK3): JSON files listing plugins, versions and archives.

An index is a local path or an http(s) URL::

    {"format": "jupiter-catalogue/1", "name": "ACME plugins",
     "plugins": [{"id": "hello", "name": "Hello", "description": "...",
                  "versions": [{"version": "1.1.0", "archive": "hello-1.1.0.tar.gz",
                                "sha256": "<hex>", "signature": "<base64>"}]}]}

``archive`` is resolved against the index's own location. ``sha256`` is checked before the
archive is opened; ``signature`` (optional) is an Ed25519 signature of that hex digest by the
key that signed the plugin, checked once the plugin's own signature file has been read.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urljoin, urlsplit
from urllib.request import urlopen

from jsonschema import Draft202012Validator
from packaging.version import InvalidVersion, Version

from plugins_app.base import patterns
from plugins_app.base.errors import JupiterError
from plugins_app.base.fsutil import atomic_write_text

CATALOGUE_FORMAT = "jupiter-catalogue/1"
MAX_INDEX_BYTES = 2 * 1024 * 1024
MAX_ARCHIVE_BYTES = 20 * 1024 * 1024
FETCH_TIMEOUT = 30

_SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_INDEX_SCHEMA = {
    "type": "object",
    "required": ["format", "plugins"],
    "properties": {
        "format": {"const": CATALOGUE_FORMAT},
        "name": {"type": "string"},
        "plugins": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "versions"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"},
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "versions": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["version", "archive", "sha256"],
                            "properties": {
                                "version": {"type": "string"},
                                "archive": {"type": "string", "minLength": 1},
                                "sha256": _SHA256,
                                "signature": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    },
}
_VALIDATOR = patterns.validator_class(Draft202012Validator)(_INDEX_SCHEMA)


class CatalogueError(JupiterError):
    """An index or archive cannot be fetched, parsed or trusted."""


@dataclass(frozen=True)
class CatalogueEntry:
    """One version of one plugin in an index; ``archive`` is an absolute path or URL."""

    plugin_id: str
    version: str
    archive: str
    sha256: str
    signature: str = ""
    name: str = ""
    description: str = ""
    catalogue: str = ""

    @property
    def parsed_version(self) -> Version:
        return Version(self.version)


def _is_url(location: str) -> bool:
    return urlsplit(location).scheme in {"http", "https"}


def fetch(location: str, max_bytes: int) -> bytes:
    """The bytes at a local path or http(s) URL, refusing more than ``max_bytes``."""
    try:
        if _is_url(location):
            # Only http(s) reaches here; the scheme is checked above (no file:, no ftp:).
            with urlopen(location, timeout=FETCH_TIMEOUT) as response:  # noqa: S310
                data = response.read(max_bytes + 1)
        else:
            with open(Path(location).expanduser(), "rb") as fh:
                data = fh.read(max_bytes + 1)
    except (OSError, URLError, ValueError) as exc:
        raise CatalogueError(f"cannot fetch {location}: {exc}") from exc
    if len(data) > max_bytes:
        raise CatalogueError(f"{location} is larger than {max_bytes} bytes")
    return data


def _resolve(index_location: str, archive: str) -> str:
    if _is_url(archive) or Path(archive).is_absolute():
        return archive
    if _is_url(index_location):
        return urljoin(index_location, archive)
    return str((Path(index_location).expanduser().resolve().parent / archive).resolve())


def read_index(location: str) -> list[CatalogueEntry]:
    """Every (plugin, version) of the index at ``location``; ``CatalogueError`` if invalid."""
    try:
        document = json.loads(fetch(location, MAX_INDEX_BYTES))
    except ValueError as exc:
        raise CatalogueError(f"{location} is not JSON: {exc}") from exc
    errors = sorted(_VALIDATOR.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(index)"
        raise CatalogueError(f"{location} is not a catalogue index: {where}: {errors[0].message}")
    entries = []
    for plugin in document["plugins"]:
        for item in plugin["versions"]:
            try:
                Version(item["version"])
            except InvalidVersion as exc:
                raise CatalogueError(f"{location}: {plugin['id']}: {exc}") from exc
            entries.append(
                CatalogueEntry(
                    plugin_id=plugin["id"],
                    version=item["version"],
                    archive=_resolve(location, item["archive"]),
                    sha256=item["sha256"],
                    signature=item.get("signature", ""),
                    name=plugin.get("name", plugin["id"]),
                    description=plugin.get("description", ""),
                    catalogue=location,
                )
            )
    return entries


def latest_versions(entries: list[CatalogueEntry]) -> dict[str, CatalogueEntry]:
    """The newest entry of each plugin id."""
    best: dict[str, CatalogueEntry] = {}
    for entry in entries:
        current = best.get(entry.plugin_id)
        if current is None or entry.parsed_version > current.parsed_version:
            best[entry.plugin_id] = entry
    return best


def find_entry(entries: list[CatalogueEntry], plugin_id: str, version: str = "") -> CatalogueEntry:
    """The entry for ``plugin_id`` at ``version`` (the newest when empty)."""
    matching = [e for e in entries if e.plugin_id == plugin_id]
    if version:
        matching = [e for e in matching if e.parsed_version == Version(version)]
    if not matching:
        wanted = f"{plugin_id} {version}".strip()
        raise CatalogueError(f"{wanted} is not in the catalogue")
    return max(matching, key=lambda e: e.parsed_version)


def download(entry: CatalogueEntry, target: Path) -> Path:
    """Fetch the entry's archive to ``target`` after checking its SHA-256."""
    data = fetch(entry.archive, MAX_ARCHIVE_BYTES)
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        raise CatalogueError(
            f"{entry.archive}: SHA-256 is {digest}, the catalogue says {entry.sha256}"
        )
    target.write_bytes(data)
    return target


def pack(folder: Path, archive: Path) -> Path:
    """``folder`` as a ``.tar.gz`` with the folder as its single top directory."""

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = Path(info.name).parts
        if "__pycache__" in parts or info.name.endswith(".pyc"):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name, filter=clean)
    return archive


def add_to_index(index: Path, archive: Path, plugin_id: str, version: str, **facts: str) -> None:
    """Add (or replace) one version in a local index, creating the index if needed.

    ``facts`` may carry ``name``, ``description`` and ``signature``; the archive path is
    stored relative to the index when it sits beside or below it.
    """
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    document: dict = {"format": CATALOGUE_FORMAT, "plugins": []}
    if index.exists():
        document = json.loads(index.read_text(encoding="utf-8"))
    try:
        location = archive.resolve().relative_to(index.resolve().parent).as_posix()
    except ValueError:
        location = str(archive.resolve())
    item = {"version": version, "archive": location, "sha256": digest}
    if facts.get("signature"):
        item["signature"] = facts["signature"]
    plugins = document.setdefault("plugins", [])
    plugin = next((p for p in plugins if p.get("id") == plugin_id), None)
    if plugin is None:
        plugin = {"id": plugin_id, "versions": []}
        plugins.append(plugin)
    for key in ("name", "description"):
        if facts.get(key):
            plugin[key] = facts[key]
    plugin["versions"] = [v for v in plugin["versions"] if v.get("version") != version] + [item]
    atomic_write_text(index, json.dumps(document, indent=2) + "\n")
