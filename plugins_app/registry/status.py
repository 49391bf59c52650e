"""The one writer of a plugin's status (SPEC L1), and the signal announcing each change.

Several parts of the host decide a plugin's status: the sync (bad manifest, incompatible,
refused trust, missing folder), the runtime (dependencies, enablement, loading) and the health
checks. They all write through ``set_status`` so that every change records who made it
(``status_source``) and is announced once by ``plugin_status_changed``: upper layers (the
notification bell) listen to it instead of each writer calling up into them.

The signal is sent on commit, only when the status, reason or source actually changed, with
``plugin_id``, ``status``, ``reason``, ``source``, ``previous_status`` and
``previous_source``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from plugins_app.base.signals import send_on_commit
from plugins_app.models import InstalledPlugin, PluginStatus, StatusSource

# Sent with sender=InstalledPlugin and the keyword arguments listed in the module docstring.
plugin_status_changed = Signal()


@dataclass(frozen=True)
class StatusChange:
    """One status ``set_statuses`` should write: what ``set_status`` takes, as a value."""

    plugin_id: str
    status: PluginStatus
    reason: str
    source: StatusSource


def _announce(
    plugin_id: str,
    wanted: tuple[str, str, str],
    previous_status: str,
    previous_source: str,
) -> None:
    status, reason, source = wanted
    send_on_commit(
        plugin_status_changed,
        InstalledPlugin,
        plugin_id=plugin_id,
        status=PluginStatus(status),
        reason=reason,
        source=StatusSource(source),
        previous_status=PluginStatus(previous_status),
        previous_source=StatusSource(previous_source),
    )


def set_status(
    plugin_id: str,
    status: PluginStatus,
    reason: str = "",
    *,
    source: StatusSource,
    only_from: Collection[PluginStatus] | None = None,
    only_source: StatusSource | None = None,
    **fields: Any,
) -> bool:
    """Set the status of ``plugin_id``; returns whether its status, reason or source changed.

    ``only_from`` and ``only_source`` make the change conditional on the current status and
    on who set it (a ready plugin turns to error only if it is ready; a health check clears
    only an error it set itself). The row is read and written in one transaction, locked, so
    a concurrent writer cannot slip between the check and the write. ``fields`` (such as
    ``legacy`` or ``trust_level``) are written along whenever the condition holds.
    """
    rows = InstalledPlugin.objects.filter(plugin_id=plugin_id)
    with transaction.atomic():
        current = (
            rows.select_for_update().values_list("status", "status_reason", "status_source").first()
        )
        if current is None:
            return False
        previous_status, _, previous_source = current
        if only_from is not None and previous_status not in only_from:
            return False
        if only_source is not None and previous_source != only_source:
            return False
        changed = current != (status, reason, source)
        written = dict(fields)
        if changed:
            written.update(
                status=status, status_reason=reason, status_source=source, updated_at=timezone.now()
            )
        if written:
            rows.update(**written)
        if changed:
            _announce(plugin_id, (status, reason, source), previous_status, previous_source)
    return changed


def set_statuses(changes: Iterable[StatusChange]) -> list[str]:
    """Unconditional ``set_status`` for many plugins at once: one locked SELECT of the
    status columns, one UPDATE per distinct new status of the rows that actually change (a
    boot turning 500 plugins ``ready`` writes them with one statement), one announcement per
    changed row.

    The sync sets every refused or vanished plugin's status on each boot; with nothing
    changed this reads once and writes nothing. Returns the ids whose status changed.
    """
    wanted = {change.plugin_id: change for change in changes}
    if not wanted:
        return []
    with transaction.atomic():
        rows = InstalledPlugin.objects.select_for_update().filter(plugin_id__in=wanted)
        groups: dict[tuple[str, str, str], list[str]] = {}
        for plugin_id, *current in rows.values_list(
            "plugin_id", "status", "status_reason", "status_source"
        ):
            change = wanted[plugin_id]
            target = (str(change.status), change.reason, str(change.source))
            if tuple(current) == target:
                continue
            _announce(plugin_id, target, current[0], current[2])
            groups.setdefault(target, []).append(plugin_id)
        now = timezone.now()
        for (status, reason, source), ids in groups.items():
            InstalledPlugin.objects.filter(plugin_id__in=ids).update(
                status=status, status_reason=reason, status_source=source, updated_at=now
            )
    return sorted(plugin_id for ids in groups.values() for plugin_id in ids)
