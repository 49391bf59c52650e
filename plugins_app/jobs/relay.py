"""Job events for pages served by a web process, when the channel layer cannot carry them.

Jobs run in workers. With the Redis channel layer their events reach every web process
directly; with the in-memory layer of the embedded default (one web process, one worker,
no Redis) a worker leaves each event as a ``JobEventRecord`` row instead, and each web process
reads the new rows several times a second and publishes them to its own consumers, in order.
Events are hints either way: a page that sees a gap re-reads the ``Job`` row, the truth.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Max
from django.utils import timezone

from plugins_app.jobs.events import JobEvent, publisher
from plugins_app.models import JobEventRecord

__all__ = ["KEEP", "RELAY_SECONDS", "JobRelay"]

RELAY_SECONDS = 0.1
KEEP = timedelta(minutes=5)


class JobRelay:
    """Publishes the job events recorded since it last looked."""

    def __init__(self) -> None:
        self.last = JobEventRecord.objects.aggregate(last=Max("id"))["last"] or 0
        self._pruned_at = timezone.now()

    def tick(self) -> int:
        """Publish the new records; returns how many."""
        rows = list(JobEventRecord.objects.filter(id__gt=self.last).order_by("id")[:1000])
        for row in rows:
            publisher().publish(JobEvent(**row.payload), relayed=True)
        if rows:
            self.last = rows[-1].id
        self._prune()
        return len(rows)

    def _prune(self) -> None:
        now = timezone.now()
        if now - self._pruned_at > KEEP:
            JobEventRecord.objects.filter(created_at__lt=now - KEEP).delete()
            self._pruned_at = now
