"""Plugin signatures (SPEC X2): Ed25519 over a list of every file's SHA-256.

A signed plugin folder holds ``plugin.signature.json``::

    {"payload": {"format": ..., "plugin_id": ..., "version": ..., "public_key": <base64>,
                 "files": {"<relative path>": "<sha256>", ...}},
     "signature": <base64 Ed25519 signature of the canonical JSON of payload>}

The signer's public key travels in the payload so anyone can check the signature; whether
that key is *trusted* is decided elsewhere (``trust.policy``). Verification re-hashes every file:
a changed, added or removed file is named in the error. ``__pycache__`` folders and ``.pyc``
files are left out because Python writes them beside the code when a plugin is imported.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from plugins_app.base.canonical import canonical_json
from plugins_app.base.errors import JupiterError
from plugins_app.base.fsutil import atomic_write_text, sha256_of
from plugins_app.base.keys import (
    KeyFileError,
    fingerprint,
    load_public_key,
    public_key_text,
    to_base64,
)

SIGNATURE_FILENAME = "plugin.signature.json"
SIGNATURE_FORMAT = "jupiter-plugin-signature/1"
_MAX_SIGNATURE_BYTES = 1024 * 1024


class SignatureError(JupiterError):
    """A signature is missing pieces, does not verify, or the files differ from it."""

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class Verified:
    """A folder whose files match a valid signature by ``public_key`` (base64, raw 32 bytes)."""

    plugin_id: str
    version: str
    public_key: str
    file_count: int

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    """(relative POSIX path, path) of every file to sign, sorted; links are refused."""
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
        for name in sorted(files):
            path = Path(directory) / name
            rel = path.relative_to(root).as_posix()
            if rel == SIGNATURE_FILENAME or name.endswith(".pyc"):
                continue
            if path.is_symlink():
                raise SignatureError(
                    f"{rel} is a link; signed plugins contain files only", path=rel
                )
            yield rel, path
        for name in subdirs:
            if (Path(directory) / name).is_symlink():
                rel = (Path(directory) / name).relative_to(root).as_posix()
                raise SignatureError(
                    f"{rel} is a link; signed plugins contain files only", path=rel
                )


def file_hashes(root: Path) -> dict[str, str]:
    return {rel: sha256_of(path) for rel, path in _walk(Path(root))}


def sign_plugin(root: Path, key: Ed25519PrivateKey, plugin_id: str, version: str) -> Path:
    """Write the signature file of ``root`` for ``plugin_id`` ``version``; returns its path."""
    payload = {
        "format": SIGNATURE_FORMAT,
        "plugin_id": plugin_id,
        "version": version,
        "public_key": public_key_text(key.public_key()),
        "files": file_hashes(root),
    }
    document = {"payload": payload, "signature": to_base64(key.sign(canonical_json(payload)))}
    target = Path(root) / SIGNATURE_FILENAME
    atomic_write_text(target, json.dumps(document, indent=2, sort_keys=True) + "\n")
    return target


def has_signature(root: Path) -> bool:
    return os.path.lexists(Path(root) / SIGNATURE_FILENAME)


def _read_document(root: Path) -> tuple[dict[str, Any], bytes]:
    path = Path(root) / SIGNATURE_FILENAME
    if path.is_symlink():
        raise SignatureError(f"{SIGNATURE_FILENAME} is a link", path=SIGNATURE_FILENAME)
    if path.stat().st_size > _MAX_SIGNATURE_BYTES:
        raise SignatureError(f"{SIGNATURE_FILENAME} is too large", path=SIGNATURE_FILENAME)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        payload, signature = document["payload"], document["signature"]
        signature_bytes = base64.b64decode(signature, validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise SignatureError(
            f"{SIGNATURE_FILENAME} is malformed: {exc}", path=SIGNATURE_FILENAME
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != SIGNATURE_FORMAT:
        raise SignatureError(f"{SIGNATURE_FILENAME}: unknown format", path=SIGNATURE_FILENAME)
    return payload, signature_bytes


def _compare(signed: Mapping[str, Any], actual: Mapping[str, str]) -> None:
    for rel in sorted(set(signed) | set(actual)):
        if rel not in actual:
            raise SignatureError(f"file removed since signing: {rel}", path=rel)
        if rel not in signed:
            raise SignatureError(f"file added since signing: {rel}", path=rel)
        if signed[rel] != actual[rel]:
            raise SignatureError(f"file changed since signing: {rel}", path=rel)


def verify_plugin(root: Path) -> Verified:
    """Check ``root`` against its signature file, or raise ``SignatureError`` saying why."""
    root = Path(root)
    if not has_signature(root):
        raise SignatureError(f"no {SIGNATURE_FILENAME}", path=SIGNATURE_FILENAME)
    payload, signature = _read_document(root)
    try:
        key = load_public_key(str(payload["public_key"]))
        key.verify(signature, canonical_json(payload))
    except (KeyError, KeyFileError, InvalidSignature) as exc:
        raise SignatureError(
            "the signature does not match its contents (wrong key or edited signature file)",
            path=SIGNATURE_FILENAME,
        ) from exc
    files = payload.get("files")
    if not isinstance(files, dict):
        raise SignatureError(f"{SIGNATURE_FILENAME}: no file list", path=SIGNATURE_FILENAME)
    _compare(files, file_hashes(root))
    return Verified(
        str(payload.get("plugin_id", "")),
        str(payload.get("version", "")),
        str(payload["public_key"]),
        len(files),
    )


def signed_payload(root: Path) -> Mapping[str, Any]:
    """The payload of ``root``'s signature file once its signature verifies, without
    re-hashing the folder: what a file served on its own is compared with (its SHA-256 in
    ``files``). Cached per signature file (path, size, modification time)."""
    path = Path(root) / SIGNATURE_FILENAME
    try:
        stat = path.lstat()
    except OSError as exc:
        raise SignatureError(f"no {SIGNATURE_FILENAME}", path=SIGNATURE_FILENAME) from exc
    return _signed_payload(str(Path(root)), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _signed_payload(root: str, size: int, mtime_ns: int) -> Mapping[str, Any]:
    payload, signature = _read_document(Path(root))
    try:
        load_public_key(str(payload["public_key"])).verify(signature, canonical_json(payload))
    except (KeyError, KeyFileError, InvalidSignature) as exc:
        raise SignatureError(
            "the signature does not match its contents (wrong key or edited signature file)",
            path=SIGNATURE_FILENAME,
        ) from exc
    if not isinstance(payload.get("files"), dict):
        raise SignatureError(f"{SIGNATURE_FILENAME}: no file list", path=SIGNATURE_FILENAME)
    return payload


def claimed_signer(root: Path) -> str:
    """The fingerprint the signature file names, unverified (for display; "" if none).

    Whether it verifies is the plugin's status: sync and load check it every time.
    """
    try:
        payload, _ = _read_document(Path(root))
        return fingerprint(str(payload["public_key"]))
    except (OSError, SignatureError, KeyError):
        return ""
