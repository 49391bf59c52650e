"""The management commands make run and operators use (SPEC T2)."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from plugins_app.models import Project, ProjectPlugin

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


def test_bootstrap_creates_demo_and_admin_once(var_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("JUPITER_ADMIN_PASSWORD", raising=False)
    demo = tmp_path / "demo"
    demo.mkdir()
    call_command("jupiter_bootstrap", "--demo-root", str(demo))
    first = capsys.readouterr().out
    password = (var_dir / "admin_password").read_text()
    assert f"Admin login: admin / {password}" in first
    assert get_user_model().objects.get(username="admin").check_password(password)
    assert Project.objects.get(name="demo").root_path == str(demo)
    assert (demo / "demo.jupiter.yaml").exists()
    call_command("jupiter_bootstrap", "--demo-root", str(demo))
    assert f"Admin login: admin / {password}" in capsys.readouterr().out
    assert Project.objects.count() == 1


def test_bootstrap_uses_the_password_from_the_environment(var_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("JUPITER_ADMIN_PASSWORD", "s3cret-from-env")
    call_command("jupiter_bootstrap", "--demo-root", str(tmp_path))
    assert get_user_model().objects.get(username="admin").check_password("s3cret-from-env")
    assert not (var_dir / "admin_password").exists()


def test_enable_then_list_as_json(var_dir, tmp_path, capsys):
    call_command("jupiter_bootstrap", "--demo-root", str(tmp_path))
    call_command("jupiter_plugins", "enable", "legacy_counter", "--project", "demo")
    assert "legacy_counter enabled for demo: ready" in capsys.readouterr().out
    call_command("jupiter_plugins", "list", "--json")
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["bridge"]["kind"] == "core"
    assert rows["legacy_counter"]["status"] == "ready"
    assert rows["plugin_model"]["reason"] == "Not enabled for any project"


def test_sync_imports_hand_edits_of_project_files(var_dir, tmp_path, capsys):
    call_command("jupiter_bootstrap", "--demo-root", str(tmp_path))
    (tmp_path / "demo.jupiter.yaml").write_text("plugins:\n  legacy_counter: {enabled: true}\n")
    capsys.readouterr()
    call_command("jupiter_plugins", "sync")
    assert "Project files with hand edits imported: 1." in capsys.readouterr().out
    assert ProjectPlugin.objects.get(plugin__plugin_id="legacy_counter").enabled


def test_user_errors_exit_1_with_one_line(var_dir, tmp_path):
    call_command("jupiter_bootstrap", "--demo-root", str(tmp_path))
    with pytest.raises(CommandError, match="no project named 'nope'") as missing:
        call_command("jupiter_plugins", "enable", "legacy_counter", "--project", "nope")
    assert missing.value.returncode == 1
    with pytest.raises(CommandError, match="not_a_plugin: is not installed") as unknown:
        call_command("jupiter_plugins", "disable", "not_a_plugin", "--project", "demo")
    assert unknown.value.returncode == 1
