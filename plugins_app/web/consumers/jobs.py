"""WebSocket consumers (SPEC J2, X4, X6, X8).

``JobEventsConsumer`` streams job events for one job (``ws/jobs/job/<uuid>/``) or for every
job of one project (``ws/jobs/project/<name>/``). It sits behind
``AllowedHostsOriginValidator`` (asgi.py) and refuses anonymous sessions and users who may
not see the project (the same rule as the pages: a role in it, or staff); refusals are
logged. Messages are hints carrying sequence numbers: the page re-reads the job record when
it sees a gap, reconnects or loses the socket.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from plugins_app.jobs.events import job_group, project_group, publisher
from plugins_app.models import Job, Project
from plugins_app.projects.roles import VIEW

log = logging.getLogger("jupiter.websocket")


@database_sync_to_async
def _may_follow(user: Any, kind: str, key: str) -> bool:
    """Whether ``user`` may see the project (or the job's project; staff for no project)."""
    if kind == "job":
        job = Job.objects.select_related("project").filter(pk=key).first()
        if job is None:
            return False
        return bool(user.is_staff) if job.project is None else user.has_perm(VIEW, job.project)
    project = Project.objects.filter(name=key).first()
    return project is not None and user.has_perm(VIEW, project)


class JobEventsConsumer(AsyncJsonWebsocketConsumer):
    groups_joined: tuple[str, ...] = ()

    async def _group(self) -> str | None:
        kwargs = self.scope["url_route"]["kwargs"]
        kind, key = kwargs.get("kind"), kwargs.get("key", "")
        if kind == "job":
            try:
                key = str(uuid.UUID(key))
            except ValueError:
                return None
            return job_group(key) if await _may_follow(self.scope["user"], kind, key) else None
        if kind == "project" and await _may_follow(self.scope["user"], kind, key):
            return project_group(key)
        return None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            log.warning("refused an anonymous WebSocket to %s", self.scope.get("path"))
            await self.close(code=4401)
            return
        group = await self._group()
        if group is None:
            log.warning("refused a WebSocket to %s: unknown or not allowed", self.scope.get("path"))
            await self.close(code=4404)
            return
        publisher().attach_loop(asyncio.get_running_loop())
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = (group,)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def job_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
