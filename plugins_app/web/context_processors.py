"""What every console page knows: whether Jupiter runs in safe mode (its banner), and for
staff how many plugin updates the last scheduled check found (the Catalogue badge)."""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest

from plugins_app.kernel.safe_mode import state
from plugins_app.models import InstalledPlugin
from plugins_app.observability.processes import troubled_plugins

__all__ = ["safe_mode", "updates_available"]


def safe_mode(request: HttpRequest) -> dict[str, Any]:
    """``safe_mode``: the state and the plugins that crashed lately, or None when it is off.

    One small query per page while it is off. A page about a storage failure renders even
    when the database cannot answer, without the banner.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    try:
        current = state()
        if not current.on:
            return {"safe_mode": None}
        return {"safe_mode": {"state": current, "troubled": troubled_plugins()}}
    except DatabaseError:
        return {}


def updates_available(request: HttpRequest) -> dict[str, Any]:
    """``updates_available``: unpinned plugins with a newer catalogue version (staff only)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {}
    try:
        rows = InstalledPlugin.objects.exclude(available_version="").filter(pinned=False)
        return {"updates_available": rows.count()}
    except DatabaseError:
        return {}
