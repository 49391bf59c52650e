"""Job events to the browser over Channels (SPEC J2, X8).

Every event names its job and carries that job's sequence number (``Job.seq`` once stored),
so a page notices a gap and re-reads the job record: a channel layer may drop messages
without any error, the database is the truth.

Events are sent from worker threads. The in-memory channel layer is not thread-safe: its
queues belong to the event loop that serves the WebSocket consumers. So when a consumer has
connected in this process, its loop is remembered and events are handed to it with
``run_coroutine_threadsafe`` (fire and forget: a job never waits on a browser). Without such a
loop, the in-memory layer has no listener in this process and nothing is sent; the Redis
layer (consumers in other processes) is sent to directly with ``async_to_sync``.

``job_finished`` is the in-process announcement of a job a worker settled, for the layers
above the job engine (the notification bell) to receive without the engine knowing them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import asdict, dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.dispatch import Signal

from plugins_app.kernel.runtime import get_runtime
from plugins_app.models import JobEventRecord

log = logging.getLogger("jupiter.jobs.events")

JOB_STARTED = "JOB_STARTED"
JOB_PROGRESS = "JOB_PROGRESS"
JOB_COMPLETED = "JOB_COMPLETED"
JOB_FAILED = "JOB_FAILED"
JOB_CANCELLED = "JOB_CANCELLED"
FINAL_EVENTS = {"completed": JOB_COMPLETED, "failed": JOB_FAILED, "cancelled": JOB_CANCELLED}

# Sent with sender=JobEvent, state=<final state>, payload=<the final event's payload and the
# job's "name">, once the job's final row is committed.
job_finished = Signal()


@dataclass(frozen=True)
class JobEvent:
    type: str
    job: str
    seq: int
    state: str
    progress: int
    message: str
    plugin: str
    project: str

    def payload(self) -> dict[str, Any]:
        return asdict(self)


def job_group(job_id: str) -> str:
    return f"jobs.job.{job_id.replace('-', '')}"


def project_group(project: str) -> str:
    return f"jobs.project.{project}"


class EventPublisher:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def attach_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called by consumers from the loop that serves them."""
        with self._lock:
            self._loop = loop

    def publish(self, event: JobEvent, *, relayed: bool = False) -> None:
        """Send ``event`` to its job's group and its project's group; never raises.

        ``relayed`` events come from the records (``jobs.relay``): never recorded again.
        """
        layer = get_channel_layer()
        if layer is None:
            return
        message = {"type": "job.event", "event": event.payload()}
        groups = [job_group(event.job)] + ([project_group(event.project)] if event.project else [])

        async def send() -> None:
            for group in groups:
                await layer.group_send(group, message)

        with self._lock:
            loop = self._loop
        if loop is None and isinstance(layer, InMemoryChannelLayer):
            # No consumer here (a worker) and no layer reaching the web processes: leave the
            # event where their relay reads it.
            if not relayed:
                JobEventRecord.objects.create(payload=event.payload())
            return
        try:
            if loop is not None and loop.is_running():
                asyncio.run_coroutine_threadsafe(send(), loop)
            else:
                async_to_sync(send)()
        except Exception:
            log.exception("could not send %s for job %s", event.type, event.job)


def publisher() -> EventPublisher:
    """This process's publisher (owned by the runtime: a reset forgets the consumers' loop)."""
    return get_runtime().component(EventPublisher, EventPublisher)
