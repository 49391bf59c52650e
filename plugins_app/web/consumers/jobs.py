"""WebSocket consumers (SPEC J2, X4, X6, X8).

``JobEventsConsumer`` streams job events for one job (``ws/jobs/job/<uuid>/``) or for every
job of one project (``ws/jobs/project/<name>/``). It sits behind
``AllowedHostsOriginValidator`` (asgi.py) and refuses anonymous sessions itself; refusals are
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
from plugins_app.models import Project

log = logging.getLogger("jupiter.websocket")


@database_sync_to_async
def _project_exists(name: str) -> bool:
    return Project.objects.filter(name=name).exists()


class JobEventsConsumer(AsyncJsonWebsocketConsumer):
    groups_joined: tuple[str, ...] = ()

    async def _group(self) -> str | None:
        kwargs = self.scope["url_route"]["kwargs"]
        kind, key = kwargs.get("kind"), kwargs.get("key", "")
        if kind == "job":
            try:
                return job_group(str(uuid.UUID(key)))
            except ValueError:
                return None
        if kind == "project" and await _project_exists(key):
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
            log.warning("refused a WebSocket to unknown stream %s", self.scope.get("path"))
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
