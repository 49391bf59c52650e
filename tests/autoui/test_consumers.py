"""The log stream over WebSocket (SPEC U4, O2, X4, X8), through the production middleware."""

from __future__ import annotations

import asyncio

import pytest
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from plugins_app.logs.feed import batch_message, group_name
from plugins_app.logs.hub import Batch, get_hub, plugin_logger
from plugins_app.models import InstalledPlugin
from plugins_app.web.consumers import logs as consumers
from plugins_app.web.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)
PATH = "/ws/plugins/streamer/logs/"
APP = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))


@database_sync_to_async
def _session_cookie() -> bytes:
    InstalledPlugin.objects.create(plugin_id="streamer", name="Streamer")
    user = get_user_model().objects.create_user("ws", password="pw-ws-123")
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def _communicator(
    cookie: bytes = b"", origin: bytes = b"http://localhost"
) -> WebsocketCommunicator:
    headers = [(b"origin", origin)] + ([(b"cookie", cookie)] if cookie else [])
    return WebsocketCommunicator(APP, PATH, headers=headers)


@pytest.fixture
def logdir(settings, tmp_path):
    settings.JUPITER_LOG_DIR = tmp_path / "logs"


async def _connected(logdir) -> WebsocketCommunicator:
    communicator = _communicator(await _session_cookie())
    connected, _ = await communicator.connect()
    assert connected
    snapshot = await communicator.receive_json_from(timeout=5)
    assert (snapshot["type"], snapshot["seq"], snapshot["reason"]) == ("snapshot", 1, "connected")
    return communicator


async def _collect(communicator, total: int, timeout: float = 20) -> list[dict]:
    """Messages until ``total`` lines are accounted for (shown + dropped)."""
    messages, seen = [], 0
    async with asyncio.timeout(timeout):
        while seen < total:
            message = await communicator.receive_json_from(timeout=timeout)
            messages.append(message)
            if message["type"] == "lines":
                seen += len(message["lines"]) + message["dropped"]
    return messages


async def test_anonymous_users_are_rejected(logdir, caplog):
    await _session_cookie()
    communicator = _communicator()
    connected, _ = await communicator.connect()
    assert not connected
    assert "refused: not logged in" in caplog.text


async def test_foreign_origins_are_rejected_even_with_a_session(logdir):
    communicator = _communicator(await _session_cookie(), origin=b"http://evil.example")
    connected, _ = await communicator.connect()
    assert not connected


async def test_snapshot_then_batched_lines_with_consecutive_seq(logdir):
    plugin_logger("streamer").info("before connecting")
    communicator = _communicator(await _session_cookie())
    await communicator.connect()
    snapshot = await communicator.receive_json_from(timeout=5)
    assert snapshot["lines"][-1].endswith("INFO [streamer] before connecting")
    for i in range(50):
        plugin_logger("streamer").info("line %d <b>", i)
    messages = await _collect(communicator, 50)
    shown = [text for m in messages for _, text in m["lines"]]
    assert shown[0].endswith("line 0 <b>") and shown[-1].endswith("line 49 <b>")
    assert len(messages) < 50  # batched, not one message per line
    assert [m["seq"] for m in messages] == list(range(2, 2 + len(messages)))
    await communicator.disconnect()


async def test_rate_cap_bounds_every_message_and_counts_the_rest(logdir, monkeypatch):
    monkeypatch.setattr(consumers, "LINES_PER_MESSAGE", 20)
    communicator = await _connected(logdir)
    for i in range(5000):
        plugin_logger("streamer").info("flood %d", i)
    messages = await _collect(communicator, 5000)
    assert all(len(m["lines"]) <= 20 for m in messages)
    assert sum(m["dropped"] for m in messages) > 0
    assert sum(len(m["lines"]) + m["dropped"] for m in messages) == 5000
    await communicator.disconnect()


async def test_a_lost_batch_triggers_a_resync_from_the_file(logdir):
    communicator = await _connected(logdir)
    plugin_logger("streamer").warning("kept in the file")
    await _collect(communicator, 1)
    layer = get_channel_layer()
    lost = Batch("streamer", get_hub().stream_id, 500, 500, ((500, 20, "predecessors lost"),))
    await layer.group_send(group_name("streamer"), batch_message(lost))
    message = await communicator.receive_json_from(timeout=5)
    assert message["type"] == "snapshot" and message["reason"] == "gap"
    assert message["lines"][-1].endswith("WARNING [streamer] kept in the file")
    await communicator.disconnect()


async def test_level_filter_and_pause_resume(logdir):
    communicator = await _connected(logdir)
    plugin_logger("streamer").info("chatty")
    plugin_logger("streamer").error("broken")
    await _collect(communicator, 2)
    await communicator.send_json_to({"action": "filter", "level": "ERROR"})
    filtered = await communicator.receive_json_from(timeout=5)
    assert filtered["type"] == "snapshot" and [
        line.split(" ", 3)[2] for line in filtered["lines"]
    ] == ["ERROR"]
    await communicator.send_json_to({"action": "pause"})
    plugin_logger("streamer").error("while paused")
    await communicator.send_json_to({"action": "resume"})
    resumed = await communicator.receive_json_from(timeout=5)
    assert resumed["type"] == "snapshot" and resumed["lines"][-1].endswith("while paused")
    await communicator.disconnect()


async def test_plugin_events_reach_subscribers_and_anonymous_is_refused(logdir):
    from plugins_app.kernel.runtime import get_runtime

    cookie = await _session_cookie()
    anonymous = WebsocketCommunicator(
        APP, "/ws/plugins/streamer/events/", headers=[(b"origin", b"http://localhost")]
    )
    assert not (await anonymous.connect())[0]
    communicator = WebsocketCommunicator(
        APP,
        "/ws/plugins/streamer/events/",
        headers=[(b"origin", b"http://localhost"), (b"cookie", cookie)],
    )
    assert (await communicator.connect())[0]
    bus = get_runtime().bridge.service_provider.event_bus
    await asyncio.get_running_loop().run_in_executor(
        None, bus.publish, "plugin.streamer.done", {"n": 1}
    )
    bus.publish("plugin.other.done", {"n": 2})
    message = await communicator.receive_json_from(timeout=5)
    assert (message["event"], message["payload"], message["seq"]) == ("done", {"n": 1}, 1)
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()
