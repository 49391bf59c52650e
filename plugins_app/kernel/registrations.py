"""What each plugin registered, remembered so a server starts without starting its processes.

A plugin's ``register()`` runs in its process and answers what it registered, as data
(``sdk.child.describe``), plus the bus topics it subscribed to. Both are kept in its
``PluginRegistration`` row with the key of the code that answered them: its folder, id and
version, and every file's path, size and modification time (``plugin.yaml`` included). At
the next start, a plugin whose key is unchanged gets its registration from that record and
its process starts on first use (a job, a hook, a page contribution, an API call, an event
it subscribed to); one whose code changed, or that never started, starts its process to
find out. Whatever a process answers at its start is recorded again, so a plugin whose
``register()`` depends on more than its code is corrected at its first use.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError

from plugins_app.manifest.model import Manifest
from plugins_app.models import PluginRegistration

__all__ = ["Remembered", "code_key", "recall", "remember"]

log = logging.getLogger("jupiter.runtime")
SKIPPED_DIRS = {"__pycache__", ".git"}


@dataclass(frozen=True)
class Remembered:
    """A plugin's last known registration (``sdk.child.describe``) and its bus topics."""

    description: Mapping[str, Any]
    topics: tuple[str, ...] = ()


def code_key(manifest: Manifest) -> str:
    """A digest of the plugin's folder, id and version and of its files' paths, sizes and
    modification times: it changes with any edit of its code, without reading the files."""
    digest = hashlib.sha256(f"{manifest.root}\0{manifest.id}\0{manifest.version}\n".encode())
    for folder, dirs, files in os.walk(manifest.root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            path = os.path.join(folder, name)
            try:
                stat = os.stat(path)
            except OSError:
                continue
            relative = os.path.relpath(path, manifest.root)
            digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def recall(manifests: Iterable[Manifest]) -> dict[str, Remembered]:
    """The remembered registrations of ``manifests`` whose code is unchanged (one query)."""
    wanted = {manifest.id: manifest for manifest in manifests}
    rows = PluginRegistration.objects.filter(plugin_id__in=wanted)
    found = {}
    for plugin_id, key, description, topics in rows.values_list(
        "plugin_id", "code_key", "description", "topics"
    ):
        if isinstance(description, dict) and key == code_key(wanted[plugin_id]):
            found[plugin_id] = Remembered(description, tuple(topics or ()))
    return found


def remember(manifest: Manifest, remembered: Remembered) -> None:
    """Keep what the plugin's process just answered (a failed write only costs a start)."""
    record = {
        "code_key": code_key(manifest),
        "description": dict(remembered.description),
        "topics": sorted(remembered.topics),
    }
    try:
        PluginRegistration.objects.update_or_create(plugin_id=manifest.id, defaults=record)
    except DatabaseError:
        log.warning("could not remember what %s registered", manifest.id, exc_info=True)
