"""Notifications (SPEC U8): the bell in the top bar.

The lower layers announce what people should hear of with signals this module receives (they
never call it): ``job_finished`` when a job ends (recorded when it failed or someone started
it) and ``plugin_status_changed`` when a plugin's status turns to error, whichever part of
the host set it. Both are relayed to plugins on the event bus, under topics plugins cannot
publish (plugins only publish under ``plugin.<id>.``): ``jupiter.job.<state>`` and
``jupiter.plugin.error``. A plugin notifies users by publishing ``notify`` on its own bus
(topic ``plugin.<id>.notify``, payload ``{"title", "body", "level"}``), which every runtime's
bus is subscribed to when created (``event_bus_created``). All are recorded as
``Notification`` rows, so all the console's processes show the same bell.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError
from django.urls import reverse

from plugins_app.jobs.events import job_finished
from plugins_app.kernel.runtime import Runtime, event_bus_created, get_runtime
from plugins_app.models import (
    Job,
    Notification,
    NotificationLevel,
    PluginStatus,
    StatusSource,
)
from plugins_app.registry.status import plugin_status_changed
from plugins_app.sdk.events import EventBus

if TYPE_CHECKING:
    from django.contrib.auth.models import User

log = logging.getLogger("jupiter.notifications")
JOB_LEVELS = {
    "completed": NotificationLevel.SUCCESS,
    "failed": NotificationLevel.ERROR,
    "cancelled": NotificationLevel.WARNING,
}


def publish(topic: str, payload: dict[str, Any]) -> None:
    """Relay a host event to plugins on this process's bus; never raises into the caller."""
    try:
        get_runtime().bridge.service_provider.event_bus.publish(topic, payload)
    except Exception:
        log.exception("could not announce %s", topic)


def _create(topic: str, **fields: Any) -> None:
    try:
        Notification.objects.create(topic=topic, **fields)
    except DatabaseError:
        log.exception("could not record the notification for %s", topic)


def _on_job_finished(state: str, payload: dict[str, Any], **kwargs: Any) -> None:
    """Failed jobs, and the end of jobs someone started from the console; not every job a
    script or a scheduler submits (a thousand queued jobs would bury the bell)."""
    topic = f"jupiter.job.{state}"
    publish(topic, payload)
    job: Mapping[str, Any] = (
        Job.objects.filter(pk=payload["job"]).values("title", "name", "requested_by").first() or {}
    )
    if state != "failed" and job.get("requested_by") is None:
        return
    what = job.get("title") or job.get("name") or payload.get("name") or "Job"
    where = f" in {payload['project']}" if payload.get("project") else ""
    _create(
        topic,
        level=JOB_LEVELS.get(state, NotificationLevel.INFO),
        title=f"{what} {state}{where}"[:200],
        body=str(payload.get("message") or "")[:2000],
        link=reverse("plugins_app:job-detail", args=[payload["job"]]),
        plugin_id=str(payload.get("plugin") or ""),
    )


def _on_plugin_status_changed(
    plugin_id: str,
    status: PluginStatus,
    reason: str,
    source: StatusSource,
    previous_status: PluginStatus,
    previous_source: StatusSource,
    **kwargs: Any,
) -> None:
    """A plugin newly in error: it turned to error, or another part of the host reports it.

    A health check rewording the error it reported is not news. Recorded once per distinct
    reason: a plugin failing to load at every reconcile says it once.
    """
    if status != PluginStatus.ERROR or (previous_status, previous_source) == (status, source):
        return
    topic = "jupiter.plugin.error"
    publish(topic, {"plugin": plugin_id, "reason": reason})
    last = Notification.objects.filter(topic=topic, plugin_id=plugin_id).first()
    if last is not None and last.body == reason[:2000]:
        return
    _create(
        topic,
        level=NotificationLevel.ERROR,
        title=f"{plugin_id} is in error"[:200],
        body=reason[:2000],
        link=reverse("plugins_app:plugin-detail", args=[plugin_id]),
        plugin_id=plugin_id,
    )


def _on_plugin_notify(topic: str, payload: dict[str, Any]) -> None:
    if not topic.endswith(".notify"):
        return
    plugin_id = topic.split(".")[1]
    level = payload.get("level", NotificationLevel.INFO)
    _create(
        topic,
        level=level if level in NotificationLevel.values else NotificationLevel.INFO,
        title=str(payload.get("title") or f"Message from {plugin_id}")[:200],
        body=str(payload.get("body", ""))[:2000],
        link=reverse("plugins_app:plugin-detail", args=[plugin_id]),
        plugin_id=plugin_id,
    )


def _on_event_bus_created(bus: EventBus, **kwargs: Any) -> None:
    """Record the messages plugins publish on a new runtime's bus (once per runtime)."""
    bus.subscribe("plugin.*", _on_plugin_notify)


job_finished.connect(_on_job_finished, dispatch_uid="notifications.job_finished")
plugin_status_changed.connect(
    _on_plugin_status_changed, dispatch_uid="notifications.plugin_status_changed"
)
event_bus_created.connect(
    _on_event_bus_created, sender=Runtime, dispatch_uid="notifications.event_bus_created"
)


def unread_count(user: User) -> int:
    return Notification.objects.exclude(read_by=user).count()


def latest_unread(user: User) -> Notification | None:
    """The newest notification ``user`` has not read: what the console shows as a toast."""
    return Notification.objects.exclude(read_by=user).order_by("-pk").first()


def recent(user: User, limit: int = 50) -> list[tuple[Notification, bool]]:
    """The latest notifications, each with whether ``user`` has read it."""
    rows = list(Notification.objects.all()[:limit])
    read = set(
        Notification.read_by.through.objects.filter(
            user_id=user.pk, notification_id__in=[n.pk for n in rows]
        ).values_list("notification_id", flat=True)
    )
    return [(n, n.pk in read) for n in rows]


def mark_read(user: User, notification_id: int | None = None) -> int:
    """Mark one notification (or all unread ones) read for ``user``; returns how many."""
    unread = Notification.objects.exclude(read_by=user)
    if notification_id is not None:
        unread = unread.filter(pk=notification_id)
    ids = list(unread.values_list("pk", flat=True))
    Notification.read_by.through.objects.bulk_create(
        [Notification.read_by.through(notification_id=pk, user_id=user.pk) for pk in ids],
        ignore_conflicts=True,
    )
    return len(ids)
