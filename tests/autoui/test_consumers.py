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
    # Streamer is enabled in no project, so only staff may read its log (SPEC X4).
    user = get_user_model().objects.create_user("ws", password="pw-ws-123", is_staff=True)
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


@database_sync_to_async
def _serve_streamer(tmp_path) -> None:
    """Events are served like the plugin's frames: ready, enabled, loaded (issue 12)."""
    from plugins_app.kernel.runtime import get_runtime
    from plugins_app.models import Project, ProjectPlugin
    from plugins_app.sdk.bridge import Registration

    plugin = InstalledPlugin.objects.get(plugin_id="streamer")
    plugin.status = "ready"
    plugin.save(update_fields=["status"])
    project = Project.objects.create(name="streaming", root_path=str(tmp_path))
    ProjectPlugin.objects.create(project=project, plugin=plugin, enabled=True)
    get_runtime().bridge.install(Registration("streamer"))


async def test_plugin_events_reach_subscribers_and_anonymous_is_refused(logdir, tmp_path):
    from plugins_app.kernel.runtime import get_runtime

    cookie = await _session_cookie()
    anonymous = WebsocketCommunicator(
        APP, "/ws/plugins/streamer/events/", headers=[(b"origin", b"http://localhost")]
    )
    assert not (await anonymous.connect())[0]
    headers = [(b"origin", b"http://localhost"), (b"cookie", cookie)]
    not_served = WebsocketCommunicator(APP, "/ws/plugins/streamer/events/", headers=headers)
    assert not (await not_served.connect())[0]  # not enabled anywhere, not loaded
    await _serve_streamer(tmp_path)
    communicator = WebsocketCommunicator(APP, "/ws/plugins/streamer/events/", headers=headers)
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


def _other_process_file(tmp_path, tag: str = "otherhost-4242"):
    folder = tmp_path / "logs" / "plugins"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"streamer.{tag}.log"


def _line(text: str, level: str = "INFO") -> str:
    import time

    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
    return f"{stamp}.{int(now % 1 * 1000):03d} {level} [streamer] {text}"


async def test_the_snapshot_merges_the_files_of_every_process(logdir, tmp_path):
    other = _other_process_file(tmp_path)
    other.write_text(
        "2025-01-01 00:00:01.000 INFO [streamer] from a worker\n"
        "2025-01-01 00:00:03.000 INFO [streamer] later, from a worker\n"
    )
    own = get_hub().plugin_file("streamer")
    own.parent.mkdir(parents=True, exist_ok=True)
    own.write_text("2025-01-01 00:00:02.000 INFO [streamer] from this process\n")
    communicator = _communicator(await _session_cookie())
    await communicator.connect()
    snapshot = await communicator.receive_json_from(timeout=5)
    assert [line.split("] ", 1)[1] for line in snapshot["lines"]] == [
        "from a worker",
        "from this process",
        "later, from a worker",
    ]
    await communicator.disconnect()


async def test_in_memory_layer_lines_of_another_process_arrive_within_a_second(logdir, tmp_path):
    """Embedded default: web and worker are two processes and the in-memory layer cannot
    carry the worker's lines; the consumer follows the worker's file instead."""
    other = _other_process_file(tmp_path)
    other.write_text(_line("before the viewer came") + "\n")
    communicator = await _connected(logdir)
    loop = asyncio.get_running_loop()
    with other.open("a") as handle:
        handle.write(_line("logged in the worker", "WARNING") + "\n")
        handle.write(_line("half a li"))  # a line being written: not shown until complete
    written = loop.time()
    message = await communicator.receive_json_from(timeout=2)
    assert loop.time() - written < 1.0
    assert message["type"] == "lines"
    assert [text.split("] ", 1)[1] for _, text in message["lines"]] == ["logged in the worker"]
    # The writer rotates its file: the rest of the old file and the new one both arrive.
    with other.open("a") as handle:
        handle.write("ne, completed\n")
    other.rename(other.with_name(other.name + ".1"))
    other.write_text(_line("after the rotation") + "\n")
    texts: list[str] = []
    async with asyncio.timeout(5):
        while len(texts) < 2:
            message = await communicator.receive_json_from(timeout=5)
            texts += [text.split("] ", 1)[1] for _, text in message.get("lines", [])]
    assert texts == ["half a line, completed", "after the rotation"]
    await communicator.disconnect()


async def test_a_publisher_thread_sends_lines_with_no_viewer_in_its_process(logdir):
    """A worker serves no WebSocket: its publisher sends through a layer that crosses
    processes (Redis) on a loop of its own."""
    from plugins_app.logs.feed import LogPublisher, ensure_flusher

    sent: list[tuple[str, dict]] = []

    class CrossProcessLayer:
        async def group_send(self, group: str, message: dict) -> None:
            sent.append((group, message))

    from plugins_app.logs import feed

    publisher = LogPublisher(CrossProcessLayer(), send=True).start()
    try:
        before = feed._flusher
        ensure_flusher(get_channel_layer())  # a consumer here does not start a second one
        assert feed._flusher is before
        plugin_logger("streamer").info("from a job in a worker")
        async with asyncio.timeout(2):
            while not sent:
                await asyncio.sleep(0.02)
    finally:
        publisher.close()
    group, message = sent[0]
    assert group == group_name("streamer") and "from a job in a worker" in message["lines"]
