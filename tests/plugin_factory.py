"""Building plugin folders, signed or not, and archives of them, for the trust tests."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from plugins_app.trust.signing import sign_plugin


def write_plugin(
    root: Path,
    plugin_id: str,
    version: str = "1.0.0",
    *,
    body: str = "def register(bridge):\n    pass\n",
    extra_yaml: str = "",
) -> Path:
    """A minimal valid plugin ``root/plugin_id`` whose register entrypoint runs ``body``."""
    folder = root / plugin_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "plugin.yaml").write_text(
        f"id: {plugin_id}\nname: {plugin_id.replace('_', ' ').title()}\nversion: {version}\n"
        f"type: tool\nentrypoint: 'main:register'\n{extra_yaml}",
        encoding="utf-8",
    )
    (folder / "main.py").write_text(body, encoding="utf-8")
    return folder


def signed_plugin(root: Path, plugin_id: str, key: Ed25519PrivateKey, **kwargs) -> Path:
    folder = write_plugin(root, plugin_id, **kwargs)
    sign_plugin(folder, key, plugin_id, kwargs.get("version", "1.0.0"))
    return folder


def tar_of(folder: Path, target: Path, *, prefix: str | None = None) -> Path:
    """``folder`` as a .tar.gz whose top directory is ``prefix`` (the folder name by default)."""
    with tarfile.open(target, "w:gz") as tar:
        tar.add(folder, arcname=prefix if prefix is not None else folder.name)
    return target


def add_tar_member(tar: tarfile.TarFile, name: str, data: bytes = b"x", **attrs) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    tar.addfile(info, io.BytesIO(data) if info.isreg() else None)


# What the README's walk-through leaves in examples/demo (the console's project file, the
# AI bundle): the user's, git-ignored, never part of a test's copy.
DEMO_LOCAL_FILES = ("*.jupiter.yaml", ".jupiter")


def copy_demo(source: Path, target: Path) -> Path:
    """The demo project as committed, whatever a person did with their own copy."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*DEMO_LOCAL_FILES))
    return target
