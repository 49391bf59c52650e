"""Ed25519 key material: encoding, fingerprints, key files, and raw signatures.

Shared by plugin signatures (``trust``), trusted keys (``models``) and Meeting plans, so it
sits at the bottom of the map with no Django and no Jupiter imports.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from plugins_app.base.errors import JupiterError


class KeyFileError(JupiterError, ValueError):
    """A key file or encoded key cannot be read as an Ed25519 key."""


def fingerprint(public_key_b64: str) -> str:
    """A short, stable name for a public key, shown in the console and the audit trail."""
    digest = hashlib.sha256(public_key_b64.strip().encode("ascii")).hexdigest()
    return f"ed25519:{digest[:16]}"


def to_base64(data: bytes) -> str:
    """Standard base64 as text: how keys and signatures travel in JSON documents."""
    return base64.b64encode(data).decode("ascii")


def public_key_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return to_base64(raw)


def load_public_key(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError(f"not a base64 Ed25519 public key: {exc}") from exc


def generate_keypair(prefix: Path) -> tuple[Path, Path]:
    """Write ``<prefix>.key`` (PKCS#8 PEM, mode 0600) and ``<prefix>.pub`` (base64, raw).

    Refuses to overwrite an existing key: losing a private key orphans every plugin signed
    with it.
    """
    private_path, public_path = prefix.with_suffix(".key"), prefix.with_suffix(".pub")
    for path in (private_path, public_path):
        if path.exists():
            raise KeyFileError(f"{path} already exists; not overwritten")
    private_path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public_path.write_text(public_key_text(key.public_key()) + "\n", encoding="ascii")
    return private_path, public_path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise KeyFileError(f"cannot read private key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 private key")
    return key


def sign_bytes(key: Ed25519PrivateKey, data: bytes) -> str:
    """Base64 signature of ``data`` (catalogue entries sign an archive's SHA-256 this way)."""
    return to_base64(key.sign(data))


def verify_bytes(public_key_b64: str, signature_b64: str, data: bytes) -> bool:
    try:
        key = load_public_key(public_key_b64)
        key.verify(base64.b64decode(signature_b64, validate=True), data)
    except (KeyFileError, InvalidSignature, binascii.Error, ValueError):
        return False
    return True
