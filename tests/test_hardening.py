"""Regression tests of issue 13's attack cases (SPEC X4, X6): each one closed.

Patterns in linear time, ids on the whole string, bundled and core ids never taken over,
unsigned installs refused by default, the runner's environment and paths, links in file
listings, malformed input answered 4xx, project roots, login throttling, the admin's CSP.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.template.loader import render_to_string
from django.test import Client

from plugins_app.base import boundedjson, patterns
from plugins_app.config.layering import validate_config
from plugins_app.config.transfer import SettingsIOError, parse_export
from plugins_app.lifecycle.installer import InstallError, stage_directory
from plugins_app.manifest.model import Manifest
from plugins_app.manifest.schema import config_schema_errors, manifest_errors
from plugins_app.models import InstalledPlugin, Project
from plugins_app.projects.errors import NeedsConfirmation, ProjectError
from plugins_app.projects.roots import check_root
from plugins_app.projects.service import register_project
from plugins_app.registry.discovery import discover
from plugins_app.registry.sync import sync_installed_plugins
from plugins_app.sdk.errors import OutsideProjectRoot
from plugins_app.sdk.sandbox import ProjectFiles, Runner
from plugins_app.web.middleware import ADMIN_CONTENT_SECURITY_POLICY
from tests.plugin_factory import write_plugin

BUNDLED = Path(__file__).resolve().parent.parent / "plugins"
EVIL = "^(a+)+$"

# --- patterns: linear time, whole string ----------------------------------------------------


def test_a_catastrophic_pattern_is_matched_in_linear_time() -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string", "pattern": EVIL}}}
    started = time.monotonic()
    errors = validate_config(schema, {"name": "a" * 5000 + "!"})
    assert time.monotonic() - started < 0.5  # Python's re takes years at this length
    assert [error.path for error in errors] == ["name"]


@pytest.mark.parametrize("pattern", [r"^(a)\1$", "^(?!x)a$", "(?<=a)b"])
def test_patterns_that_need_backtracking_are_refused_in_config_schemas(pattern: str) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string", "pattern": pattern}}}
    [(path, message)] = config_schema_errors(schema)
    assert path == ("config_schema", "schema", "properties", "name", "pattern")
    assert "cannot be matched in linear time" in message
    [error] = validate_config(schema, {"name": "a"})  # the schema is unusable
    assert "linear time" in error.message


def test_pattern_properties_run_on_re2_too() -> None:
    schema = {
        "type": "object",
        "patternProperties": {EVIL: {"type": "integer"}},
        "additionalProperties": False,
    }
    started = time.monotonic()
    assert validate_config(schema, {"a" * 5000 + "!": 1})
    assert validate_config(schema, {"aaa": 1}) == ()
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("plugin_id", ["code_analyzer\n", "bridge\n", "ok\nsecond"])
def test_plugin_ids_match_on_the_whole_string(plugin_id: str) -> None:
    raw = {"id": plugin_id, "name": "X", "version": "1.0.0", "type": "tool", "entrypoint": "m:f"}
    assert [path for path, _ in manifest_errors(raw)] == [("id",)]


def test_ids_with_a_newline_are_refused_from_a_folder(tmp_path: Path) -> None:
    folder = write_plugin(tmp_path, "sneaky")
    text = (folder / "plugin.yaml").read_text().replace("id: sneaky", 'id: "code_analyzer\\n"')
    (folder / "plugin.yaml").write_text(text)
    [found] = discover([tmp_path])
    assert found.result.manifest is None


def test_schema_patterns_are_linear_and_anchored() -> None:
    assert patterns.search("^[a-z]+$", "abc") and not patterns.search("^[a-z]+$", "abc\n")


# --- bundled and core ids --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_folder_named_like_a_bundled_plugin_cannot_take_it_over(tmp_path: Path) -> None:
    impostor = tmp_path / "code_analyzer"
    impostor.mkdir()
    (impostor / "plugin.yaml").write_text("id: [not valid\n")
    found = discover([BUNDLED, tmp_path])
    sync_installed_plugins(found)
    row = InstalledPlugin.objects.get(plugin_id="code_analyzer")
    assert Path(row.source_path).resolve() == (BUNDLED / "code_analyzer").resolve()
    assert any(str(impostor) in warning for warning in row.warnings)


@pytest.mark.django_db
def test_a_core_plugin_id_is_refused_cleanly_by_the_installer_and_the_cli(
    tmp_path: Path, settings
) -> None:
    settings.JUPITER_ALLOW_UNSIGNED_ARCHIVES = True
    folder = write_plugin(tmp_path, "bridge")
    with pytest.raises(InstallError, match="'bridge' is a core plugin id"):
        stage_directory(folder)
    with pytest.raises(CommandError, match="core plugin id"):
        call_command("jupiter_plugins", "install", str(folder), "--yes")
    assert not InstalledPlugin.objects.filter(plugin_id="bridge").exists()


@pytest.mark.django_db
def test_unsigned_installs_are_refused_unless_the_operator_opted_in(
    tmp_path: Path, settings
) -> None:
    folder = write_plugin(tmp_path, "loose")
    with pytest.raises(InstallError, match="JUPITER_ALLOW_UNSIGNED_ARCHIVES"):
        stage_directory(folder)
    settings.JUPITER_ALLOW_UNSIGNED_ARCHIVES = True
    assert stage_directory(folder).manifest.id == "loose"


# --- the runner and project files ------------------------------------------------------------


def _manifest() -> Manifest:
    return Manifest(
        id="runner_probe",
        name="Runner probe",
        version="1.0.0",
        kind="tool",
        entrypoints={"register": "x:register"},
        root=Path("/x"),
        permissions=("run_commands", "fs_read"),
    )


def _allow(*args: object) -> None:
    return None


@pytest.fixture
def project_root(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "inside.txt").write_text("inside\n")
    (tmp_path / "secret.txt").write_text("secret\n")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "leak.txt").write_text("leak\n")
    (root / "dirlink").symlink_to(tmp_path / "elsewhere")
    return root


def test_commands_get_a_scrubbed_environment(project_root: Path, monkeypatch) -> None:
    monkeypatch.setenv("JUPITER_ADMIN_PASSWORD", "hunter2-admin")
    monkeypatch.setenv("SECRET_KEY", "top-secret")
    runner = Runner(_manifest(), lambda name: project_root, _allow, _allow)
    result = runner.run("p", ["env"], env={"MINE": "1"})
    assert result.ok
    assert "hunter2-admin" not in result.stdout and "top-secret" not in result.stdout
    assert "MINE=1" in result.stdout and "PATH=" in result.stdout


@pytest.mark.parametrize("argument", ["/etc/hostname", "../secret.txt", "link.txt", "--in=/etc"])
def test_command_arguments_cannot_name_paths_outside_the_project(
    project_root: Path, argument: str
) -> None:
    refused: list[object] = []
    runner = Runner(_manifest(), lambda name: project_root, _allow, lambda m, e: refused.append(e))
    with pytest.raises(OutsideProjectRoot):
        runner.run("p", ["cat", argument])
    assert refused


def test_command_arguments_inside_the_project_and_flags_pass(project_root: Path) -> None:
    runner = Runner(_manifest(), lambda name: project_root, _allow, _allow)
    assert runner.run("p", ["cat", "inside.txt", "-"], input="").stdout == "inside\n"
    assert runner.run("p", ["ls", "--color=never", "."]).ok


def test_an_output_file_may_go_in_the_plugins_data_folder_only(
    project_root: Path, tmp_path: Path
) -> None:
    data, elsewhere = tmp_path / "scratch", tmp_path / "away"
    data.mkdir()
    elsewhere.mkdir()
    runner = Runner(_manifest(), lambda name: project_root, _allow, _allow, data_dir=data)
    assert runner.run("p", ["cp", "inside.txt", f"{data}/copy.txt"]).ok
    assert (data / "copy.txt").read_text() == "inside\n"
    for outside in (f"{elsewhere}/copy.txt", f"{data}/../away/copy.txt"):
        with pytest.raises(OutsideProjectRoot):
            runner.run("p", ["cp", "inside.txt", outside])
    assert not (elsewhere / "copy.txt").exists()


def test_file_listings_do_not_follow_links(project_root: Path) -> None:
    files = ProjectFiles(_manifest(), project_root, _allow, _allow)
    assert files.list("dirlink/*") == []
    assert files.list("../*") == []
    assert files.list("**/*") == ["inside.txt"]


# --- malformed input: 4xx, never 500 ---------------------------------------------------------


def test_deep_json_is_a_value_error_not_a_recursion_error() -> None:
    with pytest.raises(boundedjson.JsonTooDeep):
        boundedjson.loads("[" * 30_000 + "]" * 30_000)
    with pytest.raises(ValueError, match="deeper than 32"):
        boundedjson.loads("[" * 40 + "]" * 40)
    assert boundedjson.loads('{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}


def test_a_deeply_nested_settings_import_is_refused() -> None:
    with pytest.raises(SettingsIOError, match="nested deeper"):
        parse_export(b"[" * 30_000 + b"]" * 30_000)


@pytest.mark.django_db
def test_a_nul_byte_in_an_asset_path_is_a_404(client, user, tmp_path: Path) -> None:
    InstalledPlugin.objects.create(plugin_id="assets", name="Assets", source_path=str(tmp_path))
    client.force_login(user)
    assert client.get("/plugins/assets/assets/a%00b.js").status_code == 404


def test_the_500_page_uses_the_console_layout_without_a_request() -> None:
    html = render_to_string("500.html")
    assert "Something went wrong" in html and 'class="topbar"' in html


# --- project roots ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_project_roots_must_be_under_an_allowed_base(tmp_path: Path, settings) -> None:
    allowed = tmp_path / "allowed"
    (allowed / "app").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    settings.JUPITER_PROJECT_ROOTS = [allowed]
    with pytest.raises(ProjectError, match="outside the folders projects may live in"):
        register_project("other", tmp_path / "other")
    assert register_project("app", allowed / "app").root_path == str((allowed / "app").resolve())


@pytest.mark.django_db
def test_jupiters_own_tree_and_data_are_never_project_roots(settings) -> None:
    var_dir = Path(django_settings.JUPITER_VAR_DIR).resolve()
    base_dir = Path(django_settings.BASE_DIR).resolve()
    settings.JUPITER_PROJECT_ROOTS = ["/"]
    for root in (var_dir, base_dir, base_dir / "plugins_app", base_dir.parent):
        with pytest.raises(ProjectError, match=r"overlaps Jupiter's own files|plugin folder"):
            register_project("nope", root)
    assert not Project.objects.exists()
    assert not list(var_dir.glob("nope.jupiter.yaml"))


def test_the_default_roots_allow_the_demo_project_inside_jupiters_tree(settings) -> None:
    """settings.py's defaults (home, examples/): an allowed base inside Jupiter's tree makes
    the demo registrable, while the rest of the tree stays refused."""
    base_dir = Path(django_settings.BASE_DIR)
    settings.JUPITER_PROJECT_ROOTS = [Path.home(), base_dir / "examples", base_dir]
    check_root((base_dir / "examples" / "demo").resolve())
    with pytest.raises(ProjectError, match="overlaps Jupiter's own files"):
        check_root((base_dir / "docs").resolve())


@pytest.mark.django_db
def test_a_project_file_that_enables_plugins_asks_first(tmp_path: Path, settings) -> None:
    from django.contrib.auth import get_user_model

    settings.JUPITER_PLUGIN_DIRS = [BUNDLED]
    from plugins_app.kernel.runtime import boot

    boot()
    root = tmp_path / "folder"
    root.mkdir()
    (root / "demo.jupiter.yaml").write_text("plugins:\n  code_analyzer: {enabled: true}\n")
    with pytest.raises(NeedsConfirmation) as asked:
        register_project("demo", root, accepted_plugins=())
    assert asked.value.plugin_ids == ("code_analyzer",)
    staff = get_user_model().objects.create_user("op", is_staff=True)
    client = Client()
    client.force_login(staff)
    page = client.post("/projects/", {"name": "demo", "root_path": str(root)})
    html = page.content.decode()
    assert page.status_code == 200 and "Register and enable" in html
    assert "code_analyzer" in html and "fs_read" in html
    assert not Project.objects.exists()
    accepted = {"name": "demo", "root_path": str(root), "accepted": "code_analyzer"}
    assert client.post("/projects/", accepted).status_code == 302
    project = Project.objects.get()
    assert project.plugin_states.get().enabled
    assert project.memberships.get().user == staff


# --- login throttling and the admin ----------------------------------------------------------


@pytest.mark.django_db
def test_logins_are_throttled_after_repeated_failures(django_user_model) -> None:
    django_user_model.objects.create_user("victim", password="right-password-1")
    client = Client()
    answers = [
        client.post("/login/", {"username": "victim", "password": "wrong"}).status_code
        for _ in range(django_settings.AXES_FAILURE_LIMIT)
    ]
    assert answers == [200] * (django_settings.AXES_FAILURE_LIMIT - 1) + [429]
    response = client.post("/login/", {"username": "victim", "password": "right-password-1"})
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_admin_has_a_content_security_policy(admin_client) -> None:
    response = admin_client.get("/admin/")
    assert response["Content-Security-Policy"] == ADMIN_CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in ADMIN_CONTENT_SECURITY_POLICY
