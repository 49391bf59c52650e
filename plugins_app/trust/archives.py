"""Safe extraction of plugin archives, ``.zip`` and ``.tar(.gz)`` (SPEC MK1, X6).

Every member is checked before anything is written: no absolute path, no ``..``, no link, no
device or other special file, no duplicate name, no compiled Python (``__pycache__``,
``.pyc``: a signature covers sources, and the sources are what runs), and caps on the number
of files, the total uncompressed size and the compression ratio (zip bombs). Tar members are
then extracted with ``tarfile``'s ``filter="data"`` as a second line of defence; zip members
are copied one by one after an explicit containment check, counting the bytes really
produced, because a zip header may lie about a member's size.

The caller extracts into a fresh temporary folder and moves the result into place, so a
refused archive leaves nothing behind.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from plugins_app.base.errors import JupiterError
from plugins_app.manifest.model import MANIFEST_FILENAME

_CHUNK = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_BYTECODE_SUFFIXES = (".pyc", ".pyo")


class ArchiveError(JupiterError):
    """The archive is refused; ``member`` names the offending entry when there is one."""

    def __init__(self, message: str, *, member: str = "") -> None:
        super().__init__(f"{member}: {message}" if member else message)
        self.member = member


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps applied to one archive; the defaults are generous for a plugin."""

    max_files: int = 2000
    max_total_bytes: int = 50 * 1024 * 1024
    max_ratio: float = 100.0


def _check_name(name: str, seen: set[str]) -> str:
    """The member's normalised relative path, or ``ArchiveError`` saying what is wrong."""
    if "\x00" in name or "\\" in name:
        raise ArchiveError("unsafe characters in the path", member=name)
    if name.startswith("/") or _DRIVE.match(name):
        raise ArchiveError("absolute path refused", member=name)
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError("path escapes the archive with '..'", member=name)
    if "__pycache__" in parts or (parts and parts[-1].lower().endswith(_BYTECODE_SUFFIXES)):
        raise ArchiveError(
            "compiled Python is refused: plugins run from their signed sources only "
            "(remove __pycache__ folders and .pyc files from the archive)",
            member=name,
        )
    normal = "/".join(parts)
    if normal in seen:
        raise ArchiveError("duplicate entry", member=name)
    seen.add(normal)
    return normal


class _Budget:
    """Counts files and bytes against the limits while members are checked or written."""

    def __init__(self, limits: ArchiveLimits, archive_bytes: int) -> None:
        self.limits = limits
        self.archive_bytes = max(archive_bytes, 1)
        self.files = 0
        self.total = 0

    def add_file(self, name: str) -> None:
        self.files += 1
        if self.files > self.limits.max_files:
            raise ArchiveError(f"more than {self.limits.max_files} files", member=name)

    def add_bytes(self, name: str, size: int) -> None:
        self.total += size
        if self.total > self.limits.max_total_bytes:
            raise ArchiveError(
                f"uncompressed content exceeds the {self.limits.max_total_bytes}-byte limit",
                member=name,
            )
        if self.total / self.archive_bytes > self.limits.max_ratio:
            raise ArchiveError(
                f"compression ratio above {self.limits.max_ratio:g}:1 (zip bomb?)", member=name
            )


def _check_tar(tar: tarfile.TarFile, budget: _Budget) -> list[tarfile.TarInfo]:
    seen: set[str] = set()
    members = []
    for member in tar:
        budget.add_file(member.name)
        _check_name(member.name, seen)
        if member.issym() or member.islnk():
            raise ArchiveError("links are not allowed in a plugin archive", member=member.name)
        if not (member.isreg() or member.isdir()):
            raise ArchiveError("special files are not allowed", member=member.name)
        budget.add_bytes(member.name, member.size)
        members.append(member)
    return members


def _extract_tar(archive: Path, dest: Path, limits: ArchiveLimits) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = _check_tar(tar, _Budget(limits, archive.stat().st_size))
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(f"unreadable tar archive: {exc}") from exc


def _zip_member_is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _extract_zip(archive: Path, dest: Path, limits: ArchiveLimits) -> None:
    base = dest.resolve()
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            budget = _Budget(limits, archive.stat().st_size)
            seen: set[str] = set()
            checked = []
            for info in infos:
                budget.add_file(info.filename)
                name = _check_name(info.filename, seen)
                if _zip_member_is_link(info):
                    raise ArchiveError("links are not allowed in a plugin archive", member=name)
                budget.add_bytes(name, info.file_size)
                checked.append((info, name))
            written = _Budget(limits, archive.stat().st_size)
            for info, name in checked:
                target = (base / name).resolve()
                if not target.is_relative_to(base):
                    raise ArchiveError("path escapes the destination", member=name)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "xb") as out:
                    while chunk := src.read(_CHUNK):
                        written.add_bytes(name, len(chunk))
                        out.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise ArchiveError(f"unreadable zip archive: {exc}") from exc


def extract_archive(archive: Path, dest: Path, limits: ArchiveLimits | None = None) -> None:
    """Extract ``archive`` into the empty folder ``dest``; on refusal ``dest`` is emptied."""
    limits = limits or ArchiveLimits()
    archive = Path(archive)
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, dest, limits)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, dest, limits)
        else:
            raise ArchiveError("not a .zip or .tar.gz archive")
    except BaseException:
        for child in list(dest.iterdir()):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        raise


def plugin_root_in(folder: Path) -> Path:
    """The plugin folder inside an extracted archive: its top, or its single top folder."""
    if (folder / MANIFEST_FILENAME).is_file():
        return folder
    entries = [e for e in os.scandir(folder) if not e.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir(follow_symlinks=False):
        inner = Path(entries[0].path)
        if (inner / MANIFEST_FILENAME).is_file():
            return inner
    raise ArchiveError(
        f"no {MANIFEST_FILENAME} at the top of the archive or in its single top folder"
    )
