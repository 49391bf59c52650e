"""Leases: one holder at a time across the deployment, taken over when the holder stops.

The scheduler's periodic tasks (health checks, the job reaper, project-file imports) must
run once per deployment, not once per process: the process holding the ``scheduler`` lease
runs them and renews it; when it dies, another takes the lease over after it expires.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from plugins_app.models import Lease

__all__ = ["hold", "release"]


def hold(name: str, holder: str, ttl: float) -> bool:
    """Take or renew the lease ``name`` for ``ttl`` seconds; False while another holds it."""
    now = timezone.now()
    try:
        with transaction.atomic():
            lease, _ = Lease.objects.select_for_update().get_or_create(name=name)
            free = lease.expires_at is None or lease.expires_at <= now
            if lease.holder != holder and not free:
                return False
            lease.holder, lease.expires_at = holder, now + timedelta(seconds=ttl)
            lease.save(update_fields=["holder", "expires_at"])
            return True
    except IntegrityError:
        return False  # another process created the row at the same moment


def release(name: str, holder: str) -> None:
    """Give the lease up at once (a clean shutdown), if ``holder`` has it."""
    Lease.objects.filter(name=name, holder=holder).update(holder="", expires_at=None)
