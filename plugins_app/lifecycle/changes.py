"""What an update changes, shown before it is confirmed (SPEC MK3, U7, issue 15).

The permissions the new version adds or drops, whether it is a downgrade, and the changelog
between the two versions: the manifest's ``changelog`` when it has one, else the plugin's
``CHANGELOG.md`` (headings naming versions, as most projects write it). Added permissions
need the installer's consent, and in each project a maintainer's (``lifecycle.consent``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from plugins_app.manifest.model import ChangelogEntry, Manifest
from plugins_app.models import InstalledPlugin

__all__ = ["UpdateChanges", "changelog_between", "changes_of"]

CHANGELOG_FILE = "CHANGELOG.md"
CHANGELOG_MAX_BYTES = 256 * 1024
_HEADING = re.compile(r"^#{1,4}\s*\[?v?(?P<version>\d+(?:\.\d+)*[^\]\s]*)\]?")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+")


@dataclass(frozen=True)
class UpdateChanges:
    """From the installed version to the offered one."""

    installed: str
    offered: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changelog: tuple[ChangelogEntry, ...]

    @property
    def downgrade(self) -> bool:
        return _version(self.offered) < _version(self.installed)

    @property
    def needs_consent(self) -> bool:
        return bool(self.added)


def _version(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        return Version("0")


def _markdown_entries(path: Path) -> tuple[ChangelogEntry, ...]:
    """``CHANGELOG.md`` as entries: one per heading naming a version, its lines as notes."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read(CHANGELOG_MAX_BYTES)
    except OSError:
        return ()
    entries: list[ChangelogEntry] = []
    version, notes = "", list[str]()
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            if version:
                entries.append(ChangelogEntry(version, tuple(notes)))
            match = _HEADING.match(line.strip())
            version, notes = (match["version"] if match else ""), []
        elif version and line.strip():
            notes.append(_BULLET.sub("", line).strip())
    if version:
        entries.append(ChangelogEntry(version, tuple(notes)))
    return tuple(entries)


def changelog_between(manifest: Manifest, installed: str) -> tuple[ChangelogEntry, ...]:
    """The entries between ``installed`` and ``manifest.version`` (both ways, for a downgrade:
    then they are what the older version lacks). Entries naming no version are kept."""
    entries = manifest.changelog_entries or _markdown_entries(manifest.root / CHANGELOG_FILE)
    low, high = sorted((_version(installed), _version(manifest.version)))
    return tuple(
        entry for entry in entries if not entry.version or low < _version(entry.version) <= high
    )


def changes_of(replacing: InstalledPlugin, manifest: Manifest) -> UpdateChanges:
    """What replacing the installed plugin by ``manifest``'s version changes."""
    before = replacing.permissions
    return UpdateChanges(
        installed=replacing.version,
        offered=manifest.version,
        added=tuple(p for p in manifest.permissions if p not in before),
        removed=tuple(p for p in before if p not in manifest.permissions),
        changelog=changelog_between(manifest, replacing.version),
    )
