"""What every view checks before it works: who may call it, and which plugin it is about."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from plugins_app.models import InstalledPlugin, PluginKind

__all__ = ["plugin_or_404", "staff_required"]


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """403 for signed-in users who are not staff (login itself is enforced globally)."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("staff only")
        return view(request, *args, **kwargs)

    return wrapped


def plugin_or_404(plugin_id: str) -> InstalledPlugin:
    """An installed plugin's row; core plugins are part of Jupiter and have no pages (K1)."""
    return get_object_or_404(
        InstalledPlugin.objects.exclude(kind=PluginKind.CORE), plugin_id=plugin_id
    )
