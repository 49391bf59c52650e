"""Django's SECRET_KEY: from the environment, or generated once into ``var/secret_key``.

Several processes started together (web servers and workers under honcho or systemd) may
all find no key file. Generation is race-free: each candidate key is written to a private
temporary file that is then hard-linked to ``secret_key``; ``link`` creates the name only if
it does not exist, atomically and with the whole key already in it, so exactly one process
wins and every other reads the winner's key (a reader that finds an empty file, left by an
older version's interrupted write, waits briefly for it to be filled).

A deployment on PostgreSQL is a multi-process one, possibly on several hosts that share no
``var/``: a key generated per host would sign sessions and CSRF tokens the other hosts
refuse. There the key must come from the environment, and the settings refuse to start
without it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

__all__ = ["KEY_FILE", "WAIT_SECONDS", "secret_key"]

KEY_FILE = "secret_key"
WAIT_SECONDS = 10.0
MULTI_PROCESS_ENGINES = frozenset({"django.db.backends.postgresql"})


def secret_key(environ: Mapping[str, str], var_dir: Path, database_engine: str) -> str:
    """The key to use; ``ImproperlyConfigured`` when a multi-process deployment has none."""
    if key := environ.get("SECRET_KEY", "").strip():
        return key
    if database_engine in MULTI_PROCESS_ENGINES:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set in the environment when DATABASE_URL points at "
            "PostgreSQL: every web and worker process of the deployment must sign sessions "
            "and CSRF tokens with the same key, and a key generated into one host's var/ "
            'would differ between hosts. Generate one once, e.g. `python -c "import '
            'secrets; print(secrets.token_urlsafe(50))"`, and give it to every process.'
        )
    return _shared_key_file(var_dir / KEY_FILE)


def _shared_key_file(path: Path) -> str:
    if not path.exists():
        _create(path)
    return _read(path)


def _create(path: Path) -> None:
    """Publish a new key at ``path`` unless another process already did (then do nothing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(50))
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process won: use its key
            os.link(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)


def _read(path: Path) -> str:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
        if time.monotonic() > deadline:
            raise ImproperlyConfigured(
                f"{path} is empty: remove it (a new key is generated) or set SECRET_KEY"
            )
        time.sleep(0.05)
