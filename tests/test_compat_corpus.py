"""The corpus of plugins written in the original Jupiter's style, one per construct of its
manifest dialect and plugin API: each loads through a real plugin process, with its settings
form and defaults, its CLI commands and its health as meant (issue 14; docs/compatibility.md).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from plugins_app.config.store import plugin_config_schema
from plugins_app.config.transfer import get_settings
from plugins_app.kernel.remote import PluginCodeError
from plugins_app.kernel.runtime import boot, get_runtime
from plugins_app.manifest.load import load_manifest
from plugins_app.models import AuditEvent, InstalledPlugin, PluginStatus, Project
from plugins_app.observability.health import HealthMonitor
from plugins_app.projects.roles import grant
from plugins_app.projects.service import register_project, set_plugin_enabled
from plugins_app.sdk.bridge import Registration
from plugins_app.services.provider import plugin_data_dir
from plugins_app.web.autoui.forms import build_form

ORIGINAL = Path(__file__).parent / "fixtures" / "plugins" / "original"


@dataclass(frozen=True)
class Expected:
    """What one fixture must show once loaded: ``health`` None when no check runs."""

    defaults: dict[str, Any] = field(default_factory=dict)
    cli: tuple[str, ...] = ()
    health: bool | None = None
    reason: str = ""
    needs: tuple[str, ...] = ()


CORPUS: dict[str, Expected] = {
    "orig_config": Expected(defaults={"depth": 3, "label": "scan", "follow_links": False}),
    "orig_i18n": Expected(),
    "orig_panel": Expected(),
    "orig_assets": Expected(),
    "orig_cli": Expected(cli=("count", "loud", "shout")),
    "orig_api": Expected(),
    "orig_routes": Expected(),
    "orig_max_jobs": Expected(cli=("overlap",)),
    "orig_pydeps": Expected(),
    "orig_lifecycle": Expected(),
    "orig_extends_false": Expected(),
    "orig_versions": Expected(needs=("orig_config", "orig_cli", "orig_extends_false")),
    "orig_async": Expected(health=False, reason="async check failed"),
    "orig_hook_shapes": Expected(defaults={"suffix": ".py"}),
    "orig_healthy": Expected(health=True, reason="all good"),
    "orig_degraded": Expected(health=True, reason="degraded: index rebuilding"),
    "orig_unhealthy": Expected(defaults={"endpoint": "http://localhost:9"}, health=False),
    "orig_health_off": Expected(),
    "orig_jobs": Expected(cli=("work",)),
    "orig_self_import": Expected(cli=("where",)),
    "orig_logger": Expected(),
    "orig_config_set": Expected(defaults={"note": "nothing yet"}, cli=("remember",)),
    "orig_legacy_table": Expected(),
    "orig_contributions": Expected(cli=("contrib",)),
    "orig_settings": Expected(
        defaults={"threshold": 7, "verbose": False}, cli=("greet",), health=True
    ),
}


@pytest.fixture
def project(tmp_path: Path, settings) -> Project:
    settings.JUPITER_PLUGIN_DIRS = [ORIGINAL]
    root = tmp_path / "proj"
    root.mkdir()
    boot()
    return register_project("proj", root)


def enable(project: Project, *plugin_ids: str) -> Registration:
    for plugin_id in plugin_ids:
        set_plugin_enabled(project, plugin_id, True)
        plugin = InstalledPlugin.objects.get(plugin_id=plugin_id)
        assert plugin.status == PluginStatus.READY, (plugin_id, plugin.status_reason)
    registration = get_runtime().bridge.registration(plugin_ids[-1])
    assert registration is not None
    return registration


def wait_for(predicate: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_corpus_lists_every_fixture() -> None:
    folders = {p.name for p in ORIGINAL.iterdir() if p.is_dir()}
    assert folders == {*CORPUS, "orig_missing_package"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("plugin_id", sorted(CORPUS))
def test_each_fixture_validates_and_loads_ready(project: Project, plugin_id: str) -> None:
    expected = CORPUS[plugin_id]
    call_command("jupiter_plugins", "validate", str(ORIGINAL / plugin_id))
    registration = enable(project, *expected.needs, plugin_id)

    plugin = InstalledPlugin.objects.get(plugin_id=plugin_id)
    values = get_settings(plugin_id)
    assert values == expected.defaults
    form = build_form(plugin_config_schema(plugin), values, scope="global")
    assert {f.path for f in form.fields} == set(expected.defaults)
    assert tuple(sorted(registration.cli_commands)) == expected.cli

    results = HealthMonitor(get_runtime()).check([plugin_id])
    if expected.health is None:
        assert results == []
    else:
        assert [r.ok for r in results] == [expected.health]
        assert expected.reason in results[0].reason
    plugin.refresh_from_db()
    healthy = expected.health is not False
    assert (plugin.status == PluginStatus.READY) is healthy, plugin.status_reason


@pytest.mark.django_db(transaction=True)
def test_a_missing_python_package_is_named_by_validate_and_by_the_host(project: Project) -> None:
    out = _validate_output(ORIGINAL / "orig_missing_package")
    assert "jupiter-fixture-absent-package" in out
    set_plugin_enabled(project, "orig_missing_package", True)
    plugin = InstalledPlugin.objects.get(plugin_id="orig_missing_package")
    assert plugin.status == PluginStatus.DISABLED
    assert "jupiter-fixture-absent-package" in plugin.status_reason


def _validate_output(folder: Path) -> str:
    out = StringIO()
    call_command("jupiter_plugins", "validate", str(folder), stdout=out)
    return out.getvalue()


def test_manifest_constructs_are_parsed_and_typed() -> None:
    def manifest(plugin_id: str) -> Any:
        loaded = load_manifest(ORIGINAL / plugin_id).manifest
        assert loaded is not None
        return loaded

    i18n = manifest("orig_i18n").ui.i18n
    assert i18n["fr"]["orig_i18n.menu"] == "Traductions"
    assert i18n["en"]["orig_i18n.help.short"] == "Reads files"
    panel = manifest("orig_panel").ui.panels[0]
    assert (panel.location, panel.route, panel.title_key) == (
        "sidebar",
        "/orig-panel",
        "orig_panel.title",
    )
    assert (panel.icon, panel.order, panel.settings_section) == ("📊", 15, "Panel options")
    assets = manifest("orig_assets").ui.assets
    assert assets == {"js": ("web/panels/board.js",), "css": ("web/assets/board.css",)}
    cli = {c.name: c for c in manifest("orig_cli").cli_commands}
    assert cli["shout"].aliases == ("loud",) and cli["count"].description.startswith("Count")
    api = manifest("orig_api").api
    assert (api.router, api.prefix, api.tags) == ("server.api:router", "/orig_api", ("orig_api",))
    routes = manifest("orig_routes").api.routes
    assert [(r.method, r.path, r.entrypoint) for r in routes] == [
        ("GET", "/tally", "web.handlers:read_tally"),
        ("POST", "/tally", "jupiter.plugins.orig_routes.web.handlers:bump_tally"),
    ]
    assert routes[0].tags == ("tally",)
    assert manifest("orig_max_jobs").capabilities.jobs.max_concurrent == 1
    assert manifest("orig_pydeps").python_dependencies == ("PyYAML>=6", "packaging")
    assert manifest("orig_extends_false").extends == ()
    assert manifest("orig_health_off").capabilities.health.enabled is False
    versions = {d.id: d.specifier for d in manifest("orig_versions").dependencies}
    assert versions == {
        "orig_config": ">=1.0.0,<2",
        "orig_cli": ">=1.0.0,<1.1",
        "orig_extends_false": "==1.0.0",
    }


@pytest.mark.django_db(transaction=True)
def test_cli_commands_run_in_the_plugin_process(project: Project) -> None:
    commands = enable(project, "orig_cli").cli_commands
    assert commands["count"].func(["a", "b", "c"]) == {"words": 3}
    # An async command parsed by the plugin's own build_parser(), answering what it printed.
    assert commands["shout"].func(["hi", "there", "-n", "2"]) == "HI THERE\nHI THERE\n"
    assert commands["loud"].func(["alias"]) == "ALIAS\n"
    with pytest.raises(PluginCodeError, match="invalid int value"):
        commands["shout"].func(["hi", "--times", "lots"])


@pytest.mark.django_db(transaction=True)
def test_hooks_get_the_original_argument_shapes(project: Project) -> None:
    hooks = enable(project, "orig_hook_shapes").hooks
    assert hooks["on_scan"]("/p", ["a.py", "b.txt", "c/d.py"]) == {"matching": ["a.py", "c/d.py"]}
    assert hooks["on_analyze"]({"files": 3, "lines": 9}) == {
        "keys": ["files", "lines"],
        "suffix": ".py",
    }
    hooks = enable(project, "orig_async").hooks
    assert hooks["on_scan"]("/p", ["a.py"]) == {"files": 1, "after_init": True}
    hooks = enable(project, "orig_legacy_table").hooks
    assert hooks["on_scan"]("/p", ["a.py", "b.py"]) == {"root_given": True, "files": 2}
    assert hooks["on_analyze"]({"x": 1}) == {"analysed": ["x"]}


@pytest.mark.django_db(transaction=True)
def test_bridge_jobs_submit_get_list_and_cancel(project: Project) -> None:
    answer = enable(project, "orig_jobs").cli_commands["work"].func(["7"])
    assert answer == {
        "result": 49,
        "cancelled": True,
        "statuses": ["cancelled", "completed"],
        "unknown": None,
    }


@pytest.mark.django_db(transaction=True)
def test_max_concurrent_limits_bridge_jobs(project: Project) -> None:
    answer = enable(project, "orig_max_jobs").cli_commands["overlap"].func([])
    assert answer["peak"] == 1 and answer["waiting"] >= 1
    assert answer["done"] == ["completed"] * 3


@pytest.mark.django_db(transaction=True)
def test_the_plugin_imports_itself_as_jupiter_plugins(project: Project) -> None:
    answer = enable(project, "orig_self_import").cli_commands["where"].func([])
    assert answer["label"] == "imported through jupiter.plugins"
    assert answer["package"] == "jupiter_plugins.orig_self_import"  # its own package, aliased


@pytest.mark.django_db(transaction=True)
def test_get_logger_with_an_id_and_the_log_folder(project: Project) -> None:
    enable(project, "orig_logger")
    started = plugin_data_dir("orig_logger") / "logs" / "started.log"
    assert started.read_text(encoding="utf-8") == "orig_logger started\n"


@pytest.mark.django_db(transaction=True)
def test_shutdown_runs_when_the_plugin_is_stopped(project: Project) -> None:
    enable(project, "orig_lifecycle")
    marker = plugin_data_dir("orig_lifecycle") / "lifecycle.txt"
    assert marker.read_text(encoding="utf-8") == "started"
    set_plugin_enabled(project, "orig_lifecycle", False)
    assert wait_for(lambda: marker.read_text(encoding="utf-8") == "stopped")


@pytest.mark.django_db(transaction=True)
def test_bridge_config_set_is_validated_and_audited(project: Project) -> None:
    remember = enable(project, "orig_config_set").cli_commands["remember"].func
    assert remember(["buy", "milk"]) == "buy milk"
    assert get_settings("orig_config_set", "note") == "buy milk"
    assert AuditEvent.objects.filter(plugin_id="orig_config_set").exists()
    with pytest.raises(PluginCodeError, match="at most 12 characters"):
        remember(["a", "note", "longer", "than", "twelve"])
    assert get_settings("orig_config_set", "note") == "buy milk"


@pytest.mark.django_db(transaction=True)
def test_a_disabled_health_check_is_never_called(project: Project) -> None:
    enable(project, "orig_health_off")
    monitor = HealthMonitor(get_runtime())
    assert monitor.check(["orig_health_off"]) == [] and monitor.tick() == []
    plugin = InstalledPlugin.objects.get(plugin_id="orig_health_off")
    assert plugin.status == PluginStatus.READY


@pytest.mark.django_db(transaction=True)
def test_the_api_is_off_and_says_why_without_fastapi(monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a)
    )
    out = _validate_output(ORIGINAL / "orig_api")
    assert re.search(
        r"warning: api\.router: the plugin's API is off: FastAPI is not installed", out
    )


@pytest.fixture
def api_users(project: Project):
    pytest.importorskip("fastapi", reason="the optional extra jupiter[fastapi] is not installed")
    enable(project, "orig_api")
    users = {}
    for role in ("viewer", "maintainer"):
        users[role] = get_user_model().objects.create_user(role, password="pw-" + role * 2)
        grant(project, users[role], role)
    return users


def _csrf_client(user) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    html = client.get(reverse("plugins_app:plugin-list")).content.decode()
    match = re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert match, "the page carries the CSRF token"
    return client, match.group(1)


@pytest.mark.django_db(transaction=True)
def test_a_fastapi_router_is_served_behind_login_and_roles(api_users) -> None:
    url = "/api/plugins/orig_api/notes"
    anonymous = Client().get(url)
    assert anonymous.status_code in (302, 401)

    viewer, viewer_token = _csrf_client(api_users["viewer"])
    assert viewer.get(url).json() == {"notes": []}
    body = json.dumps({"text": "hello"})
    denied = viewer.post(url, body, "application/json", HTTP_X_CSRFTOKEN=viewer_token)
    assert denied.status_code == 403

    maintainer, token = _csrf_client(api_users["maintainer"])
    assert maintainer.post(url, body, "application/json").status_code == 403  # no CSRF token
    added = maintainer.post(url, body, "application/json", HTTP_X_CSRFTOKEN=token)
    assert added.status_code == 200 and added.json() == {"count": 1}
    listed = viewer.get(url + "?limit=5")
    assert listed.json() == {"notes": ["hello"]}
    names = viewer.get("/api/plugins/orig_api/headers", HTTP_X_CSRFTOKEN=viewer_token).json()
    assert not {"cookie", "x-csrftoken", "authorization"} & set(names)  # credentials stay here
    assert viewer.get("/api/plugins/orig_api/nowhere").status_code == 404
    moved = viewer.get(url + "/")  # FastAPI's redirect stays under the plugin's prefix
    assert moved.status_code == 307 and moved["Location"].endswith("/api/plugins/orig_api/notes")
    assert viewer.get(url + "?limit=many").status_code == 422  # FastAPI's own validation


@pytest.mark.django_db(transaction=True)
def test_contribution_functions_add_routes_and_commands(api_users, project: Project) -> None:
    commands = enable(project, "orig_contributions").cli_commands
    assert commands["contrib"].func(["hello", "--name", "Ada"]) == "hello Ada\n"
    with pytest.raises(PluginCodeError, match="no command given"):
        commands["contrib"].func([])
    viewer, _ = _csrf_client(api_users["viewer"])
    pong = viewer.get("/api/plugins/orig_contributions/contrib/ping").json()
    assert pong == {"pong": True, "bridge": "OriginalBridge"}


@pytest.mark.django_db(transaction=True)
def test_declared_routes_are_served_behind_login_roles_and_csrf(
    api_users, project: Project
) -> None:
    enable(project, "orig_routes")
    url = "/api/plugins/orig_routes/tally"
    anonymous = Client()
    assert anonymous.get(url).status_code in (302, 401)
    assert anonymous.post(url, "{}", "application/json").status_code in (302, 401, 403)

    viewer, viewer_token = _csrf_client(api_users["viewer"])
    assert viewer.get(url).json() == {"name": "all", "count": 0}
    body = json.dumps({"name": "docs", "by": 2})
    denied = viewer.post(url, body, "application/json", HTTP_X_CSRFTOKEN=viewer_token)
    assert denied.status_code == 403

    maintainer, token = _csrf_client(api_users["maintainer"])
    assert maintainer.post(url, body, "application/json").status_code == 403  # no CSRF token
    bumped = maintainer.post(url, body, "application/json", HTTP_X_CSRFTOKEN=token)
    assert bumped.status_code == 200 and bumped.json() == {"name": "docs", "count": 2}
    assert viewer.get(url + "?name=docs").json() == {"name": "docs", "count": 2}
    audited = AuditEvent.objects.filter(plugin_id="orig_routes").values_list("detail", flat=True)
    assert [d for d in audited if d.startswith("POST /api/plugins/orig_routes/tally")]
    assert viewer.delete(url, HTTP_X_CSRFTOKEN=viewer_token).status_code == 403
    assert maintainer.delete(url, HTTP_X_CSRFTOKEN=token).status_code == 405  # not declared


def test_an_unresolvable_route_handler_is_refused_naming_the_route(tmp_path: Path) -> None:
    folder = tmp_path / "orig_routes"
    shutil.copytree(ORIGINAL / "orig_routes", folder)
    manifest = folder / "plugin.yaml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("handlers:bump_tally", "handlers:bump"), encoding="utf-8")
    result = load_manifest(folder)
    assert result.manifest is None  # what discovery refuses, the host never loads
    assert [issue.message for issue in result.errors] == [
        "route POST /tally: 'jupiter.plugins.orig_routes.web.handlers:bump': "
        "jupiter.plugins.orig_routes.web.handlers defines no 'bump'"
    ]
    with pytest.raises(CommandError, match="not valid"):
        call_command("jupiter_plugins", "validate", str(folder), stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_a_handler_missing_at_load_fails_the_load_naming_the_route(
    tmp_path: Path, settings
) -> None:
    pytest.importorskip("fastapi", reason="the optional extra jupiter[fastapi] is not installed")
    folder = tmp_path / "plugins" / "orig_routes"
    shutil.copytree(ORIGINAL / "orig_routes", folder)
    with (folder / "web" / "handlers.py").open("a", encoding="utf-8") as handlers:
        handlers.write("\ndel bump_tally\n")  # defined as read, gone once run
    settings.JUPITER_PLUGIN_DIRS = [folder.parent]
    root = tmp_path / "proj"
    root.mkdir()
    boot()
    set_plugin_enabled(register_project("proj", root), "orig_routes", True)
    plugin = InstalledPlugin.objects.get(plugin_id="orig_routes")
    assert plugin.status == PluginStatus.ERROR
    assert "api.routes POST /tally" in plugin.status_reason
