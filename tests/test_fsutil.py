"""Atomic writes never leave a partial file; hashes treat a missing file as empty."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from plugins_app.base import fsutil
from plugins_app.base.fsutil import atomic_write_text, sha256_of


def test_writes_new_file(tmp_path: Path) -> None:
    target = tmp_path / "a.yaml"
    atomic_write_text(target, "héllo\n")
    assert target.read_bytes() == "héllo\n".encode()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_replaces_content_and_keeps_mode(tmp_path: Path) -> None:
    target = tmp_path / "a.yaml"
    target.write_text("old")
    target.chmod(0o600)
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_failure_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "a.yaml"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(fsutil.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.yaml"]


def test_missing_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write_text(tmp_path / "nope" / "a.yaml", "x")


def test_sha256_of(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    assert sha256_of(target) == ""
    target.write_bytes(b"abc")
    assert sha256_of(target) == hashlib.sha256(b"abc").hexdigest()
