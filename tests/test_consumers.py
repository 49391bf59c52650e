"""The job events WebSocket (SPEC J2, X4, X8): authenticated only, numbered events."""

from __future__ import annotations

from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from plugins_app.web.routing import websocket_urlpatterns

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("job_worker")]
APP = URLRouter(websocket_urlpatterns)


async def open_socket(path: str, user) -> tuple[WebsocketCommunicator, bool, int | None]:
    communicator = WebsocketCommunicator(APP, path)
    communicator.scope["user"] = user
    connected, code = await communicator.connect()
    return communicator, connected, code


@database_sync_to_async
def make_user():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("ws", password="pw")


@database_sync_to_async
def make_project(root: Path, owner=None):
    from plugins_app.kernel.runtime import boot
    from plugins_app.projects.service import register_project

    root.mkdir()
    (root / "a.py").write_text("import b\n")
    (root / "b.py").write_text("")
    boot()
    return register_project("proj", root, actor=owner)


@database_sync_to_async
def start_scan(project):
    from plugins_app.jobs.api import submit

    return submit("", "scan", project=project)


async def test_anonymous_sockets_are_refused():
    _, connected, code = await open_socket("/ws/jobs/project/proj/", AnonymousUser())
    assert (connected, code) == (False, 4401)


async def test_unknown_streams_are_refused():
    user = await make_user()
    for path in ("/ws/jobs/project/nope/", "/ws/jobs/job/not-a-uuid/", "/ws/jobs/other/x/"):
        _, connected, code = await open_socket(path, user)
        assert (connected, code) == (False, 4404), path


async def test_a_project_stream_carries_every_event_of_a_scan_in_sequence(tmp_path):
    user = await make_user()
    project = await make_project(tmp_path / "proj", owner=user)
    communicator, connected, _ = await open_socket("/ws/jobs/project/proj/", user)
    assert connected
    job = await start_scan(project)
    events = []
    while not events or events[-1]["type"] != "JOB_COMPLETED":
        events.append(await communicator.receive_json_from(timeout=20))
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "JOB_STARTED"
    progress = [e["progress"] for e in events if e["type"] == "JOB_PROGRESS"]
    assert progress == sorted(progress) and len(progress) >= 3
    assert {e["job"] for e in events} == {str(job.pk)}
    assert (events[-1]["state"], events[-1]["progress"]) == ("completed", 100)
    await communicator.disconnect()
