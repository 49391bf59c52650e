"""WebSocket consumers (SPEC U4, O2, X4, X6, X8).

``PluginLogConsumer`` streams one plugin's log lines to its panel. The origin is checked by
``AllowedHostsOriginValidator`` in ``asgi.py``; the session user is checked here, and both
rejections are logged. Everything is bounded: lines from the channel layer wait in a short
queue, and at most ``MESSAGES_PER_SECOND`` messages of at most ``LINES_PER_MESSAGE`` lines
leave per second; what does not fit is counted and the count is shown, never buffered.

The hub already coalesces a plugin's lines to what one viewer can take per tick, as JSON
text (``logs.hub.batch_message``). A viewer without a level filter that receives one such
batch per tick (the usual case, also under a flood) forwards that text inside its message
as it is: no decoding, filtering or encoding per viewer. Only a filtered viewer, a batch
overlapping a re-sync or several batches in one tick take the decoding path.

Every message to the browser carries ``seq`` (1, 2, 3... per connection). The panel
re-syncs on a gap or a reconnect; the consumer itself re-syncs (a ``snapshot`` of the merged
file tail) when the channel layer lost a batch, which it sees as a hole in the batch ranges.

Lines come from every process that runs the plugin (web servers, workers). With a channel
layer that crosses processes (Redis) each process's publisher sends them. With the
in-memory layer they cannot leave their process, so the consumer follows the other
processes' files (``FOLLOW_SECONDS``), placed exactly where its snapshot stopped: a line
logged in a worker reaches a viewer of the web process within a fraction of a second.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import InMemoryChannelLayer

from plugins_app.kernel.runtime import get_runtime
from plugins_app.logs.feed import ensure_flusher, group_name
from plugins_app.logs.files import FileFollower
from plugins_app.logs.hub import (
    LEVELS,
    LINES_PER_MESSAGE,
    MESSAGES_PER_SECOND,
    TAIL_DEFAULT,
    get_hub,
    level_of,
)
from plugins_app.models import InstalledPlugin
from plugins_app.web.decorators import can_read_plugin_logs
from plugins_app.web.frames.availability import unavailable

log = logging.getLogger("jupiter.consumers")

QUEUE_MAX = 1000
# How often a viewer on the in-memory layer reads what other processes appended.
FOLLOW_SECONDS = 0.25


@dataclass(frozen=True)
class _Part:
    """Lines waiting for the next message: JSON text of ``[level, text]`` pairs as the hub
    encoded them (``encoded``), or already decoded and filtered (``lines``)."""

    count: int
    encoded: str = ""
    lines: tuple[tuple[int, str], ...] = ()

    def decoded(self) -> list[tuple[int, str]]:
        if not self.encoded:
            return list(self.lines)
        return [(level, text) for level, text in json.loads(self.encoded)]


@database_sync_to_async
def _may_receive_events(user: Any, plugin_id: str) -> bool:
    """Events are served like the plugin's frames: enabled in a project the user sees,
    loaded and trusted (``web.frames.availability``)."""
    plugin = InstalledPlugin.objects.filter(plugin_id=plugin_id).first()
    return plugin is not None and unavailable(plugin, user) is None


@database_sync_to_async
def _may_read_logs(user: Any, plugin_id: str) -> bool:
    """The log panel's rule: staff, or a member of a project that enables the plugin."""
    plugin = InstalledPlugin.objects.filter(plugin_id=plugin_id).first()
    return plugin is not None and can_read_plugin_logs(user, plugin)


class PluginLogConsumer(AsyncJsonWebsocketConsumer):
    """``ws/plugins/<plugin_id>/logs/``: snapshot, then paced batches of new lines."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.plugin_id = self.scope["url_route"]["kwargs"]["plugin_id"]
        if user is None or not user.is_authenticated:
            log.warning("log stream of %s refused: not logged in", self.plugin_id)
            await self.close()
            return
        if not await _may_read_logs(user, self.plugin_id):
            log.warning(
                "log stream of %r refused to %s: unknown or not allowed", self.plugin_id, user
            )
            await self.close()
            return
        self.level = 0
        self.paused = False
        self.seq = 0
        self.dropped = 0
        self.queue: deque[_Part] = deque()
        self.queued = 0
        self.next_line: dict[str, int] = {}
        self.group = group_name(self.plugin_id)
        # Lines of other processes: through the layer, or (in-memory layer) from their files.
        self.follower: FileFollower | None = None
        if isinstance(self.channel_layer, InMemoryChannelLayer):
            self.follower = get_hub().follower(self.plugin_id)
        await self.accept()
        await self.channel_layer.group_add(self.group, self.channel_name)
        ensure_flusher(self.channel_layer)
        await self.send_snapshot("connected")
        loop = asyncio.get_running_loop()
        self.pacer = loop.create_task(self.pace())
        if self.follower is not None:
            self.following = loop.create_task(self.follow())

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if hasattr(self, "pacer"):
            self.pacer.cancel()
        if hasattr(self, "following"):
            self.following.cancel()
        follower = getattr(self, "follower", None)
        if follower is not None:
            await sync_to_async(follower.close)()

    async def send_message(self, kind: str, **fields: Any) -> None:
        self.seq += 1
        await self.send_json({"type": kind, "seq": self.seq, **fields})

    async def send_snapshot(self, reason: str) -> None:
        """The file tail (the truth) at the current level; later lines follow it exactly."""
        hub = get_hub()
        lines, last = await sync_to_async(hub.snapshot)(
            self.plugin_id, TAIL_DEFAULT, self.level, self.follower
        )
        self.next_line[hub.stream_id] = last + 1
        self.queue.clear()
        self.queued = 0
        await self.send_message("snapshot", reason=reason, lines=lines)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Panel commands: level filter, pause, resume, resync."""
        if not isinstance(content, dict):
            return
        action = content.get("action")
        if action == "filter" and content.get("level") in LEVELS:
            self.level = LEVELS[content["level"]]
            await self.send_snapshot("filter")
        elif action == "pause":
            self.paused = True
        elif action in ("resume", "resync"):
            self.paused = False
            await self.send_snapshot(action)

    async def log_batch(self, event: dict[str, Any]) -> None:
        """A batch from the channel layer: check continuity, filter, queue (bounded)."""
        stream, start, end = event["stream"], event["start"], event["end"]
        expected = self.next_line.get(stream, start)
        if start > expected:  # the layer dropped a batch: the file tail is the truth
            log.info("log stream of %s lost lines %d-%d", self.plugin_id, expected, start - 1)
            await self.send_snapshot("gap")
            local = stream == get_hub().stream_id
            expected = self.next_line[stream] if local else start
        self.next_line[stream] = max(expected, end + 1)
        if self.paused or end < expected:
            return
        first, count, encoded = event["first"], event["count"], event["lines"]
        skip = max(0, expected - first)  # lines already in a snapshot sent meanwhile
        self.dropped += end - max(start, expected) + 1 - max(0, count - skip)  # at the source
        if skip or self.level:
            pairs = json.loads(encoded)[skip:]
            kept = tuple((lvl, text) for lvl, text in pairs if lvl >= self.level)
            self._enqueue(_Part(len(kept), lines=kept))
        elif count:
            self._enqueue(_Part(count, encoded=encoded))

    async def follow(self) -> None:
        """In-memory layer: queue the lines other processes appended to their files."""
        follower = self.follower
        assert follower is not None
        while True:
            await asyncio.sleep(FOLLOW_SECONDS)
            lines, skipped = await sync_to_async(follower.poll)()
            self.dropped += skipped
            if self.paused or not lines:
                continue
            kept = []
            for text in lines:
                level = level_of(text)
                if level >= self.level:
                    kept.append((level, text))
            if kept:
                self._enqueue(_Part(len(kept), lines=tuple(kept)))

    def _enqueue(self, part: _Part) -> None:
        """Queue ``part``; beyond ``QUEUE_MAX`` lines the oldest parts are counted as dropped."""
        self.queue.append(part)
        self.queued += part.count
        while self.queued > QUEUE_MAX and len(self.queue) > 1:
            oldest = self.queue.popleft()
            self.queued -= oldest.count
            self.dropped += oldest.count

    async def pace(self) -> None:
        """Send what is queued, at most ``MESSAGES_PER_SECOND`` times a second."""
        while True:
            await asyncio.sleep(1 / MESSAGES_PER_SECOND)
            if not self.queue and not self.dropped:
                continue
            parts, queued = list(self.queue), self.queued
            self.queue.clear()
            self.queued = 0
            if len(parts) == 1 and parts[0].encoded and queued <= LINES_PER_MESSAGE:
                encoded = parts[0].encoded  # the hub's text, forwarded as it is
            else:
                lines = [line for part in parts for line in part.decoded()]
                if len(lines) > LINES_PER_MESSAGE:  # keep the newest: the panel is a live tail
                    self.dropped += len(lines) - LINES_PER_MESSAGE
                    lines = lines[-LINES_PER_MESSAGE:]
                encoded = json.dumps([[lvl, text] for lvl, text in lines])
            dropped, self.dropped = self.dropped, 0
            self.seq += 1
            await self.send(
                text_data=f'{{"type": "lines", "seq": {self.seq}, "dropped": {dropped}, '
                f'"lines": {encoded}}}'
            )


EVENT_QUEUE_MAX = 256


class PluginEventConsumer(AsyncJsonWebsocketConsumer):
    """``ws/plugins/<plugin_id>/events/``: the plugin's ``plugin.<id>.*`` bus events, which
    the console relays to the plugin's frames for ``jupiterBridge.subscribe`` (U6).
    Bounded: beyond ``EVENT_QUEUE_MAX`` waiting events, new ones are dropped and the count
    rides on the next message."""

    async def connect(self) -> None:

        user = self.scope.get("user")
        self.plugin_id = self.scope["url_route"]["kwargs"]["plugin_id"]
        if (
            user is None
            or not user.is_authenticated
            or not await _may_receive_events(user, self.plugin_id)
        ):
            log.warning("event stream of %s refused", self.plugin_id)
            await self.close()
            return
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(EVENT_QUEUE_MAX)
        self.dropped = 0
        self.seq = 0
        loop = asyncio.get_running_loop()
        prefix = f"plugin.{self.plugin_id}."

        def deliver(topic: str, payload: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(self._offer, topic[len(prefix) :], payload)

        bus = get_runtime().bridge.service_provider.event_bus
        self.unsubscribe = bus.subscribe(f"{prefix}*", deliver)
        await self.accept()
        self.sender = loop.create_task(self.send_events())

    def _offer(self, name: str, payload: Any) -> None:
        try:
            self.events.put_nowait((name, payload))
        except asyncio.QueueFull:
            self.dropped += 1

    async def send_events(self) -> None:
        while True:
            name, payload = await self.events.get()
            self.seq += 1
            dropped, self.dropped = self.dropped, 0
            message = {"type": "event", "seq": self.seq, "event": name, "dropped": dropped}
            await self.send(text_data=json.dumps({**message, "payload": payload}, default=str))

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "unsubscribe"):
            self.unsubscribe()
        if hasattr(self, "sender"):
            self.sender.cancel()
