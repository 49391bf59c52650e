"""``manage.py jupiter_scaffold`` (SPEC T1): the plugin it writes loads ready and passes its
own tests, for every flag combination; bad ids and existing folders are refused."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from plugins_app.config.store import effective_config_for
from plugins_app.kernel.runtime import boot, get_runtime
from plugins_app.manifest.load import load_manifest
from plugins_app.models import InstalledPlugin, PluginStatus
from plugins_app.projects.service import register_project, set_plugin_enabled

COMBINATIONS = [
    (kind, ui, cli) for kind, ui, cli in itertools.product(("tool", "system"), (0, 1), (0, 1))
]


def _flags(kind: str, ui: int, cli: int) -> list[str]:
    return ["--type", kind] + ["--with-ui"] * ui + ["--with-cli"] * cli


def _author_env() -> dict[str, str]:
    """An author's shell: no Django settings chosen yet (pytest-django set them here)."""
    return {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("kind", "ui", "cli"), COMBINATIONS)
def test_generated_plugin_loads_ready_and_its_tests_pass(kind, ui, cli, tmp_path, settings):
    plugins = tmp_path / "plugins"
    settings.JUPITER_PLUGIN_DIRS = [plugins]
    plugin_id = f"made_{kind}_{ui}{cli}"
    call_command("jupiter_scaffold", plugin_id, *_flags(kind, ui, cli), "--dest", str(plugins))
    folder = plugins / plugin_id

    result = load_manifest(folder)
    assert result.ok and not result.warnings, (result.errors, result.warnings)
    assert result.manifest.kind == kind
    assert bool(result.manifest.ui.panels) == bool(ui)

    boot()
    (tmp_path / "project").mkdir()
    project = register_project("made", str(tmp_path / "project"))
    set_plugin_enabled(project, plugin_id, True)
    plugin = InstalledPlugin.objects.get(plugin_id=plugin_id)
    assert (plugin.status, plugin.status_reason) == (PluginStatus.READY, "")
    assert effective_config_for(plugin, project).values["pattern"] == "**/*.py"
    registration = get_runtime().bridge.registration(plugin_id)
    assert set(registration.jobs) == {"count_files"}
    assert set(registration.cli_commands) == ({"summary"} if cli else set())
    assert set(registration.ui) == ({"panel:summary"} if ui else set())
    assert set(registration.api_routes) == ({"samples", "ping"} if ui else set())
    if ui:  # the JavaScript panel is served in its frame
        panels = {panel.id: panel for panel in result.manifest.ui.panels}
        assert panels["activity"].script == "assets/panel.js"
        assert (folder / "assets" / "panel.js").is_file()
        assert result.manifest.ui.i18n["en"]["activity_title"].endswith("activity")

    outcome = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder / "tests")],
        cwd=folder,
        env={**_author_env(), "JUPITER_HOME": str(settings.BASE_DIR)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert f"{7 + 2 * ui + cli} passed" in outcome.stdout


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("plugin_id", "message"),
    [
        ("My-Plugin", "not a valid plugin id"),
        ("2fast", "not a valid plugin id"),
        ("class", "not a valid plugin id"),
        ("bridge", "core plugin"),
        ("code_analyzer", "already installed"),
    ],
)
def test_bad_or_taken_ids_are_refused(plugin_id, message, tmp_path):
    with pytest.raises(CommandError, match=message) as refused:
        call_command("jupiter_scaffold", plugin_id, "--dest", str(tmp_path))
    assert refused.value.returncode == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.django_db
def test_existing_destination_is_refused_and_left_alone(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(CommandError, match="already exists") as refused:
        call_command("jupiter_scaffold", "mine", "--dest", str(tmp_path))
    assert refused.value.returncode == 1
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]


@pytest.mark.django_db
def test_default_destination_is_the_first_extra_plugin_folder(tmp_path, settings, capsys):
    settings.JUPITER_PLUGIN_DIRS = [Path(settings.BASE_DIR) / "plugins", tmp_path]
    call_command("jupiter_scaffold", "placed")
    assert (tmp_path / "placed" / "plugin.yaml").is_file()
    assert "Plugin placed written to" in capsys.readouterr().out


@pytest.mark.django_db
def test_a_destination_named_after_the_plugin_is_the_plugin_folder(tmp_path):
    call_command("jupiter_scaffold", "named", "--dest", str(tmp_path / "named"))
    assert (tmp_path / "named" / "plugin.yaml").is_file()
    assert not (tmp_path / "named" / "named").exists()
    call_command("jupiter_scaffold", "plain", "--dest", str(tmp_path / "plugins"))
    assert (tmp_path / "plugins" / "plain" / "plugin.yaml").is_file()


def test_scaffolding_needs_no_database(tmp_path):
    """Before ``migrate`` (a fresh checkout), the command still writes the plugin."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}",
        "JUPITER_VAR_DIR": str(tmp_path / "var"),
    }
    manage = Path(__file__).resolve().parent.parent / "manage.py"
    outcome = subprocess.run(
        [sys.executable, str(manage), "jupiter_scaffold", "early", "--dest", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert outcome.returncode == 0, outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert (tmp_path / "early" / "plugin.yaml").is_file()
