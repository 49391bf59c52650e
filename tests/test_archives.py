"""Safe archive extraction (SPEC MK1, X6): every hostile archive is refused, nothing written."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from plugins_app.trust.archives import ArchiveError, ArchiveLimits, extract_archive, plugin_root_in
from tests.plugin_factory import add_tar_member, write_plugin


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    folder = tmp_path / "dest"
    folder.mkdir()
    return folder


def _tar(path: Path, *members: tuple[str, dict]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        add_tar_member(tar, "plugin/plugin.yaml", b"id: x\n")
        for name, attrs in members:
            add_tar_member(tar, name, **attrs)
    return path


def _zip(path: Path, *members: tuple[str, bytes], link: str = "") -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("plugin/plugin.yaml", "id: x\n")
        for name, data in members:
            zf.writestr(name, data)
        if link:
            info = zipfile.ZipInfo("plugin/evil")
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, link)
    return path


@pytest.mark.parametrize(
    ("member", "attrs", "message"),
    [
        ("plugin/../../escape.py", {}, "path escapes the archive with '..'"),
        ("/etc/cron.d/evil", {}, "absolute path refused"),
        ("plugin/link", {"type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, "links are not"),
        ("plugin/hard", {"type": tarfile.LNKTYPE, "linkname": "plugin/plugin.yaml"}, "links"),
        ("plugin/fifo", {"type": tarfile.FIFOTYPE}, "special files are not allowed"),
        ("plugin/plugin.yaml", {}, "duplicate entry"),
    ],
    ids=["dotdot", "absolute", "symlink", "hardlink", "fifo", "duplicate"],
)
def test_hostile_tar_members_are_refused(tmp_path, dest, member, attrs, message) -> None:
    archive = _tar(tmp_path / "evil.tar.gz", (member, attrs))
    with pytest.raises(ArchiveError, match=message):
        extract_archive(archive, dest)
    assert not list(dest.iterdir())
    assert not (tmp_path / "escape.py").exists()


@pytest.mark.parametrize(
    ("members", "link", "message"),
    [
        ((("plugin/../../escape.py", b"x"),), "", "path escapes the archive"),
        ((("/tmp/evil.py", b"x"),), "", "absolute path refused"),
        ((("C:/evil.py", b"x"),), "", "absolute path refused"),
        ((), "/etc/passwd", "links are not allowed"),
    ],
    ids=["dotdot", "absolute", "drive", "symlink"],
)
def test_hostile_zip_members_are_refused(tmp_path, dest, members, link, message) -> None:
    archive = _zip(tmp_path / "evil.zip", *members, link=link)
    with pytest.raises(ArchiveError, match=message):
        extract_archive(archive, dest)
    assert not list(dest.iterdir())


def test_a_zip_bomb_stops_at_the_size_limit(tmp_path, dest) -> None:
    archive = _zip(tmp_path / "bomb.zip", ("plugin/zeros.bin", b"\0" * 5_000_000))
    assert archive.stat().st_size < 50_000
    with pytest.raises(ArchiveError, match="exceeds the 1000000-byte limit"):
        extract_archive(archive, dest, ArchiveLimits(max_total_bytes=1_000_000))
    with pytest.raises(ArchiveError, match="compression ratio above 100:1"):
        extract_archive(archive, dest)
    assert not list(dest.iterdir())


def test_a_tar_bomb_stops_at_the_size_limit(tmp_path, dest) -> None:
    archive = tmp_path / "bomb.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        add_tar_member(tar, "plugin/zeros.bin", b"\0" * 3_000_000)
    with pytest.raises(ArchiveError, match="byte limit"):
        extract_archive(archive, dest, ArchiveLimits(max_total_bytes=1_000_000, max_ratio=1e9))


def test_too_many_files_are_refused(tmp_path, dest) -> None:
    members = [(f"plugin/f{i}.py", b"") for i in range(5)]
    with pytest.raises(ArchiveError, match="more than 3 files"):
        extract_archive(_zip(tmp_path / "many.zip", *members), dest, ArchiveLimits(max_files=3))


def test_not_an_archive(tmp_path, dest) -> None:
    (tmp_path / "x.zip").write_bytes(b"hello")
    with pytest.raises(ArchiveError, match=r"not a \.zip or \.tar\.gz archive"):
        extract_archive(tmp_path / "x.zip", dest)


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_a_good_archive_extracts_and_its_plugin_is_found(tmp_path, dest, kind) -> None:
    folder = write_plugin(tmp_path / "src", "fine")
    archive = tmp_path / f"fine.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for path in folder.rglob("*"):
                zf.write(path, path.relative_to(folder.parent).as_posix())
    else:
        with tarfile.open(archive, "w") as tar:
            tar.add(folder, arcname="fine")
    extract_archive(archive, dest)
    assert plugin_root_in(dest) == dest / "fine"
    assert (dest / "fine" / "main.py").read_text().startswith("def register")


def test_an_archive_without_a_manifest_at_the_top_is_refused(tmp_path, dest) -> None:
    (dest / "a").mkdir()
    (dest / "b").mkdir()
    with pytest.raises(ArchiveError, match=r"no plugin\.yaml at the top"):
        plugin_root_in(dest)


def test_member_data_is_bounded_even_if_a_zip_header_lies(tmp_path, dest) -> None:
    """A zip whose central directory understates a member's size is caught while copying."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("plugin/data.bin", b"A" * 4000)
    raw = bytearray(buffer.getvalue())
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 24 : central + 28] = (100).to_bytes(4, "little")  # declared size: 100
    (tmp_path / "liar.zip").write_bytes(bytes(raw))
    with pytest.raises(ArchiveError):
        extract_archive(tmp_path / "liar.zip", dest, ArchiveLimits(max_total_bytes=1000))
    assert not list(dest.iterdir())
