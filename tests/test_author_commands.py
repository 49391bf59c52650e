"""``jupiter_plugins validate``, ``config get|set|export|import`` and ``cli`` (SPEC T2, S4)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from plugins_app.config.transfer import export_settings
from plugins_app.kernel.runtime import boot
from plugins_app.models import AuditEvent, InstalledPlugin
from tests.plugin_factory import write_plugin

FIXTURES = Path(__file__).parent / "fixtures" / "plugins" / "manifests"
INVALID = {
    "alias_bomb": "(manifest)",
    "bad_config_schema": "config_schema.schema.properties.port.type",
    "bad_id": "id",
    "bad_specifier": "dependencies[1].version",
    "bad_version": "version",
    "missing_field": "version",
    "non_mapping": "(manifest)",
    "two_tabs": "ui.tabs",
    "wrong_type": "capabilities.metrics.enabled",
    "yaml_syntax": "(manifest)",
}
VALID = {p.name for p in FIXTURES.iterdir() if p.is_dir()} - set(INVALID)

SETTINGS_SCHEMA = """
config_schema:
  version: 2
  schema:
    type: object
    properties:
      limit: {type: integer, minimum: 1, default: 5}
      labels:
        type: object
        properties:
          colour: {type: string, enum: [red, blue], default: red}
  migrations:
    - {from: 1, to: 2, entrypoint: "main:upgrade"}
"""
SETTINGS_BODY = (
    "def register(bridge):\n"
    "    bridge.register_cli_command('hello', lambda args: 'hello ' + ' '.join(args),"
    " help='Greets.')\n"
    "    bridge.register_cli_command('boom', lambda args: 1 / 0)\n\n\n"
    "def upgrade(values):\n"
    "    return {'limit': values.pop('max', 5), **values}\n"
)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_validate_prints_the_field_path_and_exits_1(name, capsys):
    with pytest.raises(CommandError, match="not valid") as failed:
        call_command("jupiter_plugins", "validate", str(FIXTURES / name))
    assert failed.value.returncode == 1
    out = capsys.readouterr().out
    assert f": error: {INVALID[name]}: " in out


@pytest.mark.parametrize("name", sorted(VALID))
def test_validate_accepts_the_valid_fixtures(name, capsys):
    call_command("jupiter_plugins", "validate", str(FIXTURES / name / "plugin.yaml"))
    assert ": valid (" in capsys.readouterr().out


def test_validate_strict_fails_on_warnings_and_missing_file_is_a_user_error(tmp_path, capsys):
    with pytest.raises(CommandError) as strict:
        call_command("jupiter_plugins", "validate", "--strict", str(FIXTURES / "both_spellings"))
    assert strict.value.returncode == 1
    assert ":8: warning: jupiter_version: ignored" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no such file") as missing:
        call_command("jupiter_plugins", "validate", str(tmp_path))
    assert missing.value.returncode == 1


def test_usage_error_exits_2_and_user_error_exits_1_from_the_shell():
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", "jupiter_plugins", *args],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert run("validate").returncode == 2
    bad = run("validate", str(FIXTURES / "bad_id"))
    assert bad.returncode == 1
    assert bad.stderr.strip().count("\n") == 0, bad.stderr  # one line


@pytest.fixture
def configured(settings, tmp_path):
    settings.JUPITER_PLUGIN_DIRS = [tmp_path / "plugins"]
    write_plugin(tmp_path / "plugins", "tuned", extra_yaml=SETTINGS_SCHEMA, body=SETTINGS_BODY)
    boot()
    return InstalledPlugin.objects.get(plugin_id="tuned")


@pytest.mark.django_db(transaction=True)
def test_config_set_get_export_import_round_trip(configured, tmp_path, capsys):
    call_command("jupiter_plugins", "config", "set", "tuned", "limit", "7")
    call_command("jupiter_plugins", "config", "set", "tuned", "labels.colour", "blue")
    capsys.readouterr()
    call_command("jupiter_plugins", "config", "get", "tuned")
    assert json.loads(capsys.readouterr().out) == {"limit": 7, "labels": {"colour": "blue"}}
    call_command("jupiter_plugins", "config", "get", "tuned", "labels.colour")
    assert json.loads(capsys.readouterr().out) == "blue"
    export = tmp_path / "tuned.json"
    call_command("jupiter_plugins", "config", "export", "tuned", "--out", str(export))
    document = json.loads(export.read_text())
    assert document["plugin"] == "tuned"
    assert document["schema_version"] == 2
    assert document["values"] == {"limit": 7, "labels": {"colour": "blue"}}
    call_command("jupiter_plugins", "config", "set", "tuned", "limit", "1")
    call_command("jupiter_plugins", "config", "import", "tuned", str(export))
    assert export_settings("tuned")["values"]["limit"] == 7
    assert AuditEvent.objects.filter(plugin_id="tuned", action="config_change").count() == 4


@pytest.mark.django_db(transaction=True)
def test_config_errors_exit_1_and_change_nothing(configured, tmp_path):
    def refused(*args: str, match: str) -> None:
        with pytest.raises(CommandError, match=match) as error:
            call_command("jupiter_plugins", "config", *args)
        assert error.value.returncode == 1

    refused("set", "tuned", "limit", "0", match="limit")
    refused("set", "tuned", "labels.colour", "green", match="labels.colour")
    refused("get", "tuned", "nope", match="no setting 'nope'")
    refused("get", "ghost", match="not installed")
    refused("get", "bridge", match="not installed")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**export_settings("tuned"), "values": {"limit": -3}}))
    refused("import", "tuned", str(bad), match="limit")
    bad.write_text(json.dumps({**export_settings("tuned"), "plugin": "other"}))
    refused("import", "tuned", str(bad), match="for 'other'")
    bad.write_text(json.dumps({**export_settings("tuned"), "schema_version": 3}))
    refused("import", "tuned", str(bad), match="newer")
    bad.write_text("{not json")
    refused("import", "tuned", str(bad), match="not JSON")
    assert export_settings("tuned")["values"] == {}


@pytest.mark.django_db(transaction=True)
def test_import_of_an_older_export_runs_the_migration(configured, tmp_path):
    old = tmp_path / "old.json"
    old.write_text(
        json.dumps({**export_settings("tuned"), "schema_version": 1, "values": {"max": 9}})
    )
    call_command("jupiter_plugins", "config", "import", "tuned", str(old))
    assert export_settings("tuned")["values"] == {"limit": 9}


@pytest.mark.django_db(transaction=True)
def test_cli_runs_a_registered_plugin_command(configured, tmp_path, capsys):
    from plugins_app.projects.service import register_project, set_plugin_enabled

    project = register_project("cli", str(tmp_path))
    set_plugin_enabled(project, "tuned", True)
    call_command("jupiter_plugins", "cli", "tuned")
    assert "hello" in capsys.readouterr().out
    call_command("jupiter_plugins", "cli", "tuned", "hello", "big", "world")
    assert capsys.readouterr().out.strip() == "hello big world"
    with pytest.raises(CommandError, match="ZeroDivisionError") as failed:
        call_command("jupiter_plugins", "cli", "tuned", "boom")
    assert failed.value.returncode == 1
    with pytest.raises(CommandError, match="not loaded"):
        call_command("jupiter_plugins", "cli", "ghost", "x")
