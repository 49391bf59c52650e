"""Entering and leaving safe mode (SPEC X3): the persistent switch ``kernel.safe_mode`` reads.

``set_safe_mode`` writes the deployment's ``SafeMode`` row, audits the change and announces
it on the change feed, so every running process (web and workers) reconciles its plugins
within a second: entering stops every plugin process, leaving starts the enabled plugins
again. ``apply_here`` does the same at once in the calling process, which the feed skips.
``JUPITER_SAFE_MODE=1`` is the other switch: it holds for the processes started with it,
and only a restart without it leaves it.
"""

from __future__ import annotations

from django.db import transaction

from plugins_app.kernel.feed import PLUGINS, announce
from plugins_app.kernel.runtime import Runtime, get_runtime
from plugins_app.kernel.safe_mode import SafeModeState, state
from plugins_app.models import AuditAction, SafeMode, audit
from plugins_app.models.audit import Actor, stored_user

__all__ = ["apply_here", "set_safe_mode"]


def set_safe_mode(on: bool, *, actor: Actor = None, note: str = "") -> bool:
    """Turn the persistent switch on or off; returns whether it changed (audited if so)."""
    with transaction.atomic():
        row, _ = SafeMode.objects.select_for_update().get_or_create(pk=1)
        if row.enabled == on:
            return False
        row.enabled = on
        row.changed_by = stored_user(actor)
        row.note = note[:200] if on else ""
        row.save()
        audit.record(
            AuditAction.SAFE_MODE,
            actor=actor,
            before={"safe_mode": not on},
            after={"safe_mode": on},
            detail=("safe mode turned on" + (f": {note}" if note else ""))
            if on
            else "safe mode turned off",
        )
        announce(PLUGINS)
    return True


def apply_here() -> tuple[Runtime, SafeModeState]:
    """Bring this process's plugins in line with safe mode now (others follow the feed)."""
    runtime = get_runtime()
    if runtime.booted:
        runtime.reconcile()
    else:
        runtime.boot()
    return runtime, state()
