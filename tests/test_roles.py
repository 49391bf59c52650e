"""Who may do what (SPEC X4, issue 13): every console route and WebSocket, for every role.

The matrix names each route once with the answer each kind of user gets; a route added to
``urls.py`` without a row here fails ``test_the_matrix_covers_every_route``. Letters, per user
in ``ROLES`` order: ``L`` sent to a login page (or 401), ``D`` denied (403, or 404 for a
project the user cannot see), ``A`` allowed (any answer below 500 that is neither).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from plugins_app.kernel.runtime import get_runtime
from plugins_app.manifest.model import Manifest, UiContributions, UiItem
from plugins_app.models import (
    InstalledPlugin,
    Job,
    MeetingPlan,
    Project,
    ProjectPlugin,
    ProjectRole,
)
from plugins_app.projects.roles import grant
from plugins_app.projects.service import register_project
from plugins_app.sdk.bridge import ApiRouteSpec, Registration
from plugins_app.web.routing import websocket_urlpatterns

ROLES = ("anonymous", "outsider", "viewer", "maintainer", "owner", "staff")
JOB_ID = "3f1c2b9e-8a5d-4c1e-9b7a-0d2e4f6a8b1c"
PROBE = Manifest(
    id="probe",
    name="Probe",
    version="1.0.0",
    kind="tool",
    entrypoints={"register": "probe:register"},
    root=Path("/nonexistent/probe"),
    permissions=("fs_read",),
    ui=UiContributions(panels=(UiItem("x", title="X"), UiItem("side", location="sidebar"))),
)
EVERYONE = "LAAAAA"
MEMBERS = "LDAAAA"
OPERATORS = "LDDAAA"
OWNERS = "LDDDAA"
STAFF = "LDDDDA"


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    expected: str
    kwargs: tuple[tuple[str, str], ...] = ()
    data: tuple[tuple[str, str], ...] = ()
    # Allowed, and still a 404 here: the plugin registered no such route, asset or panel.
    allowed_404: bool = False


def _r(route: str, method: str, expected: str, /, *, allowed_404: bool = False, **kw: str) -> Route:
    data = tuple((k[5:], v) for k, v in kw.items() if k.startswith("data_"))
    kwargs = tuple((k, v) for k, v in kw.items() if not k.startswith("data_"))
    return Route(route, method, expected, kwargs, data, allowed_404)


P = {"plugin_id": "probe"}
J = {"name": "proj"}
MATRIX: tuple[Route, ...] = (
    _r("plugin-list", "GET", EVERYONE),
    _r("plugins-json", "GET", EVERYONE),
    _r("plugin-detail", "GET", EVERYONE, **P),
    _r("plugin-processes", "GET", EVERYONE, **P),
    _r("safe-mode", "POST", STAFF, data_on="0"),
    _r("plugin-project-toggle", "POST", OPERATORS, **P, **J, data_enabled="false"),
    _r("project-list", "GET", EVERYONE),
    _r("project-list", "POST", STAFF, data_name="other", data_root_path="/nowhere"),
    _r("project-detail", "GET", MEMBERS, **J),
    _r("project-plugin-toggle", "POST", OPERATORS, **J, **P, data_enabled="false"),
    _r("project-resolve-conflict", "POST", OPERATORS, **J, data_keep="console"),
    _r("project-import", "POST", OPERATORS, **J),
    _r("project-members", "GET", OWNERS, **J),
    _r("project-members", "POST", OWNERS, **J, data_username="nobody", data_role="viewer"),
    _r("token-list", "GET", EVERYONE),
    _r("token-list", "POST", EVERYONE, data_name="ci", data_scopes="read"),
    # Someone else's token (or none) is not found, whoever asks.
    _r("token-revoke", "POST", "LDDDDD", pk="999999"),
    _r("catalogue", "GET", STAFF),
    _r("catalogue-stage", "POST", STAFF, data_source="nowhere"),
    _r("catalogue-review", "GET", STAFF, token="0" * 32),
    _r("catalogue-confirm", "POST", STAFF, token="0" * 32),
    _r("plugin-uninstall", "GET", STAFF, **P),
    _r("plugin-uninstall", "POST", STAFF, **P),
    _r("plugin-check-update", "POST", STAFF, **P),
    _r("plugin-pin", "POST", STAFF, **P, data_pinned="0"),
    _r("catalogue-check", "POST", STAFF),
    _r("catalogue-update-all", "POST", STAFF),
    _r("project-plugin-accept", "POST", OPERATORS, **J, **P),
    _r("meeting", "GET", STAFF),
    _r("meeting-receive", "POST", "AAAAAA"),  # public: the signature is the credential
    _r("meeting-detail", "GET", STAFF, pk="1"),
    _r("meeting-decide", "POST", STAFF, pk="1", data_decision="reject"),
    _r("audit", "GET", STAFF),
    _r("storage-status", "GET", STAFF),
    _r("job-list", "GET", EVERYONE),
    _r("job-detail", "GET", MEMBERS, job_id=JOB_ID),
    _r("job-panel", "GET", MEMBERS, job_id=JOB_ID),
    _r("job-json", "GET", MEMBERS, job_id=JOB_ID),
    _r("job-cancel", "POST", OPERATORS, job_id=JOB_ID),
    _r("project-job-run", "POST", OPERATORS, **J, job_name="nothing"),
    _r("project-results", "GET", MEMBERS, **J),
    _r("project-findings", "GET", MEMBERS, **J),
    _r("project-charts", "GET", MEMBERS, **J),
    _r("project-graph", "GET", MEMBERS, **J),
    _r("plugin-job-run", "POST", OPERATORS, **P, job_name="say", data_project="proj"),
    _r("plugin-reload", "POST", STAFF, **P),
    _r("metrics", "GET", EVERYONE),
    _r("plugin-metrics-json", "GET", EVERYONE, **P),
    _r("plugin-metrics-card", "GET", EVERYONE, **P),
    _r("plugin-metrics-chart", "GET", EVERYONE, **P),
    _r("plugin-job-chart", "GET", EVERYONE, **P),
    _r("plugin-logs", "GET", MEMBERS, **P),
    _r("plugin-logs-download", "GET", MEMBERS, **P),
    _r("plugin-settings", "GET", EVERYONE, **P),
    _r("plugin-settings", "POST", STAFF, **P),
    _r("plugin-settings-reset", "POST", STAFF, **P, data_reset_path="x"),
    _r("plugin-settings-export", "GET", STAFF, **P),
    _r("plugin-settings-import", "POST", STAFF, **P),
    _r("plugin-control", "GET", EVERYONE, **P),
    _r("plugin-contributions", "GET", EVERYONE, **P),
    _r("plugin-frame", "GET", MEMBERS, **P, kind="panel", item="x"),
    # The sandboxed frame sends no cookie: its assets answer to a token (404 without one).
    _r("plugin-frame-asset", "GET", "AAAAAA", **P, token="1.2.3", path="a.js", allowed_404=True),
    _r("plugin-bridge-settings", "GET", MEMBERS, **P),
    _r("view", "GET", MEMBERS, **P),
    _r("views", "GET", EVERYONE),
    _r("project-plugin-settings", "GET", MEMBERS, **J, **P),
    _r("project-plugin-settings", "POST", OPERATORS, **J, **P),
    _r("project-plugin-settings-reset", "POST", OPERATORS, **J, **P, data_reset_path="x"),
    _r("plugin-api-route", "GET", MEMBERS, **P, route="info"),
    _r("plugin-api-route", "POST", OPERATORS, **P, route="info"),
    _r("notification-list", "GET", EVERYONE),
    _r("notification-bell", "GET", EVERYONE),
    _r("notification-read", "POST", EVERYONE),
    _r("plugin-debug", "POST", STAFF, **P, data_enabled="1"),
    _r("plugin-problem-report", "GET", STAFF, **P),
    _r("admin:index", "GET", "LLLLLA"),
)


def _console_routes() -> set[str]:
    names: set[str] = set()

    def walk(patterns: list, namespace: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if entry.namespace == "plugins_app":
                    walk(entry.url_patterns, "")
            elif isinstance(entry, URLPattern) and entry.name:
                names.add(namespace + entry.name)

    walk(get_resolver().url_patterns, "")
    return names - {"login", "logout"}


def test_the_matrix_covers_every_route() -> None:
    assert _console_routes() == {r.name for r in MATRIX} - {"admin:index"}


def make_world(tmp_path: Path) -> dict[str, object]:
    """One project, ``proj``, with the probe plugin enabled (and its registration, with an
    ``info`` route, in this process's runtime), a job and a pending plan; one user per role
    (the owner registered it)."""
    users = get_user_model().objects
    people: dict[str, object] = {"anonymous": AnonymousUser()}
    for role in ROLES[1:]:
        people[role] = users.create_user(role, is_staff=role == "staff")  # force_login only
    plugin = InstalledPlugin.objects.create(
        plugin_id="probe",
        name="Probe",
        version="1.0.0",
        kind="tool",
        status="ready",
        trust_level="official",
        manifest=PROBE.to_snapshot(),
    )
    (tmp_path / "proj").mkdir()
    project = register_project("proj", tmp_path / "proj", actor=people["owner"])
    grant(project, people["viewer"], ProjectRole.VIEWER)
    grant(project, people["maintainer"], ProjectRole.MAINTAINER)
    ProjectPlugin.objects.create(project=project, plugin=plugin, enabled=True)
    info = ApiRouteSpec("info", lambda request: {"ok": True}, ("GET", "POST"))
    get_runtime().bridge.install(Registration("probe", api_routes={"info": info}))
    Job.objects.create(pk=JOB_ID, plugin_id="probe", name="say", timeout=5, project=project)
    MeetingPlan.objects.create(
        pk=1,
        nonce="n-0123456789",
        signer="x",
        expires_at=timezone.now() + timezone.timedelta(hours=1),
        actions=[],
        read_only=True,
    )
    return people


@pytest.fixture
def world(db, tmp_path: Path) -> dict[str, object]:
    return make_world(tmp_path)


def _client(world: dict[str, object], role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world[role])
    return client


def _verdict(response, allowed_404: bool) -> str:
    location = response.get("Location", "")
    if response.status_code == 401 or (response.status_code == 302 and "login" in location):
        return "L"
    if response.status_code == 403 or (response.status_code == 404 and not allowed_404):
        return "D"
    assert response.status_code < 500, response.content[:500]
    return "A"


@pytest.mark.parametrize("route", MATRIX, ids=lambda r: f"{r.method}-{r.name}")
@pytest.mark.parametrize("role", ROLES)
def test_route_answers_each_role(world, role: str, route: Route) -> None:
    from django.urls import reverse

    url = reverse(
        route.name if ":" in route.name else f"plugins_app:{route.name}",
        kwargs=dict(route.kwargs),
    )
    client = _client(world, role)
    response = client.get(url) if route.method == "GET" else client.post(url, dict(route.data))
    expected = route.expected[ROLES.index(role)]
    assert _verdict(response, route.allowed_404) == expected, (role, response.status_code)


WEBSOCKETS = (
    (f"/ws/jobs/job/{JOB_ID}/", MEMBERS),
    ("/ws/jobs/project/proj/", MEMBERS),
    ("/ws/plugins/probe/logs/", MEMBERS),
    ("/ws/plugins/probe/events/", MEMBERS),
)


def test_the_websocket_matrix_covers_every_route() -> None:
    for pattern in websocket_urlpatterns:
        assert any(pattern.resolve(path.lstrip("/")) for path, _ in WEBSOCKETS), pattern


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("path", "expected"), WEBSOCKETS, ids=[p for p, _ in WEBSOCKETS])
@pytest.mark.parametrize("role", ROLES)
async def test_websocket_answers_each_role(role: str, path: str, expected: str, tmp_path) -> None:
    from asgiref.sync import sync_to_async
    from channels.routing import URLRouter

    people = await sync_to_async(make_world)(tmp_path)
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = people[role]
    connected, _ = await communicator.connect(timeout=5)
    await communicator.disconnect()
    allowed = expected[ROLES.index(role)] == "A"
    assert connected is allowed


def test_a_viewer_sees_a_hidden_project_as_missing_and_an_action_as_forbidden(world) -> None:
    outsider, viewer = _client(world, "outsider"), _client(world, "viewer")
    assert outsider.get("/projects/proj/").status_code == 404
    assert "/projects/proj/" not in outsider.get("/projects/").content.decode()
    response = viewer.post("/projects/proj/plugins/probe/", {"enabled": "false"})
    assert response.status_code == 403
    assert ProjectPlugin.objects.get().enabled
    page = viewer.get("/projects/proj/").content.decode()
    assert "Read-only" in page and 'aria-label="Disable Probe in proj"' not in page
    assert (
        'aria-label="Disable Probe in proj"'
        in _client(world, "maintainer").get("/projects/proj/").content.decode()
    )


def test_owners_manage_members_and_the_last_owner_stays(world) -> None:
    owner = _client(world, "owner")
    response = owner.post(
        "/projects/proj/members/", {"username": "outsider", "role": "maintainer"}, follow=True
    )
    assert "outsider is now maintainer" in response.content.decode()
    assert _client(world, "outsider").get("/projects/proj/").status_code == 200
    response = owner.post(
        "/projects/proj/members/", {"username": "owner", "role": "viewer"}, follow=True
    )
    assert "last owner" in response.content.decode()
    assert Project.objects.get().memberships.get(user__username="owner").role == "owner"


def test_forbidden_and_missing_pages_use_the_console_layout(world) -> None:
    client = _client(world, "viewer")
    for url, status, title in (
        ("/audit/", 403, "Not allowed"),
        ("/projects/nowhere/", 404, "Not found"),
    ):
        response = client.get(url)
        html = response.content.decode()
        assert response.status_code == status
        assert title in html and 'class="topbar"' in html and "jupiter.css" in html
