"""Job events for pages served by a web process, from the job records (SPEC J2, X8).

Jobs run in workers. With the Redis channel layer their events reach every web process
directly; with the in-memory layer of the embedded default (one web process, one worker,
no Redis) they cannot leave the worker. So each web process also reads the records of live
and just-finished jobs a few times a second and announces the ones whose ``seq`` moved.
Events are hints either way: a page that sees a gap re-reads the record, which is the truth.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from plugins_app.jobs.events import FINAL_EVENTS, JOB_PROGRESS, JobEvent, publisher
from plugins_app.models import Job, JobState

__all__ = ["RELAY_SECONDS", "JobRelay"]

RELAY_SECONDS = 0.2
RECENT = timedelta(seconds=30)


class JobRelay:
    """Announces jobs whose records changed since it last looked."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}
        self._started = timezone.now()

    def tick(self) -> int:
        """Publish an event per changed job; returns how many it published."""
        live = Q(state__in=[JobState.PENDING, JobState.RUNNING]) | Q(
            finished_at__gte=timezone.now() - RECENT
        )
        rows = Job.objects.filter(live).values_list(
            "id", "seq", "state", "progress", "message", "plugin_id", "project__name", "created_at"
        )
        published = 0
        seen: dict[str, int] = {}
        for job_id, seq, state, progress, message, plugin_id, project, created in rows:
            key = str(job_id)
            seen[key] = seq
            before = self._seen.get(key)
            if before is None and created < self._started:
                continue  # already running when this process started: pages re-read it
            if before is not None and seq <= before:
                continue
            kind = FINAL_EVENTS.get(state, JOB_PROGRESS)
            publisher().publish(
                JobEvent(kind, key, seq, state, progress, message, plugin_id, project or "")
            )
            published += 1
        self._seen = seen
        return published
