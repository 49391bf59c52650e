"""One settings-migration path (SPEC M6): updates, loads and imports share it (bug 1).

An update used to migrate only the global settings (per-project overrides of a disabled
plugin kept the old shape for good) and, for an enabled plugin, ran each step twice.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from plugins_app.config.store import set_plugin_overrides
from plugins_app.config.transfer import SettingsIOError, export_settings, import_settings
from plugins_app.kernel.runtime import boot, get_runtime
from plugins_app.lifecycle.installer import install, stage_archive
from plugins_app.lifecycle.updates import UpdateFailed, update
from plugins_app.models import InstalledPlugin, PluginConfig, PluginStatus, Project, ProjectPlugin
from plugins_app.projects.projectfile import read_project_file
from plugins_app.projects.service import project_file_path, register_project, set_plugin_enabled
from tests.plugin_factory import signed_plugin, tar_of

pytestmark = pytest.mark.django_db(transaction=True)

PLUGIN = "evolving"
SCHEMA = """config_schema:
  version: {version}
  schema:
    type: object
    properties:
      {field}: {{type: string, default: hi}}
"""
V2_SCHEMA = SCHEMA.format(version=2, field="salute") + (
    "  migrations:\n    - {from: 1, to: 2, entrypoint: 'main:rename'}\n"
)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def project(runtime_dirs, tmp_path: Path) -> Project:
    (tmp_path / "proj").mkdir()
    boot()
    return register_project("proj", tmp_path / "proj")


@pytest.fixture
def counter(settings, tmp_path: Path) -> Path:
    """Each run of the v2 step appends one line here: in the plugin's own data folder, the
    one place its (confined) process may write whatever the projects it is enabled in."""
    settings.JUPITER_PLUGIN_DATA_DIR = tmp_path / "plugin-data"
    return tmp_path / "plugin-data" / PLUGIN / "steps-run.txt"


def _v2_body(counter: Path, register: str = "pass") -> str:
    return (
        f"def register(bridge):\n    {register}\n\n"
        "def rename(old):\n"
        "    if old.get('greeting') == 'explode':\n"
        "        raise ValueError('cannot rename an exploding greeting')\n"
        f"    with open({str(counter)!r}, 'a') as runs:\n"
        "        runs.write('ran\\n')\n"
        "    return {'salute': old.pop('greeting', 'hi'), **old}\n"
    )


def _archive(tmp_path: Path, key, version: str, **kwargs) -> Path:
    folder = signed_plugin(tmp_path / f"src-{version}", PLUGIN, key, version=version, **kwargs)
    return tar_of(folder, tmp_path / f"{PLUGIN}-{version}.tar.gz")


def _install_v1(project: Project, tmp_path: Path, key, *, enabled: bool) -> None:
    v1 = _archive(tmp_path, key, "1.0.0", extra_yaml=SCHEMA.format(version=1, field="greeting"))
    install(stage_archive(v1).token)
    PluginConfig.objects.filter(plugin__plugin_id=PLUGIN).update(values={"greeting": "yo"})
    if enabled:
        set_plugin_enabled(project, PLUGIN, True)
    set_plugin_overrides(project, PLUGIN, {"greeting": "proj"})


def _update_to_v2(tmp_path: Path, key, counter: Path, register: str = "pass") -> InstalledPlugin:
    v2 = _archive(tmp_path, key, "2.0.0", extra_yaml=V2_SCHEMA, body=_v2_body(counter, register))
    plugin = InstalledPlugin.objects.get(plugin_id=PLUGIN)
    return update(stage_archive(v2, replacing=plugin).token, PLUGIN)


def _stored(project: Project) -> tuple[dict, int, dict, dict]:
    config = PluginConfig.objects.get(plugin__plugin_id=PLUGIN)
    overrides = ProjectPlugin.objects.get(plugin__plugin_id=PLUGIN, project=project).overrides
    in_file = read_project_file(project_file_path(project)).plugins[PLUGIN].overrides
    return config.values, config.schema_version, overrides, dict(in_file)


def _runs(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def test_updating_a_disabled_plugin_migrates_its_project_overrides(
    project, tmp_path, key, counter
) -> None:
    _install_v1(project, tmp_path, key, enabled=False)
    updated = _update_to_v2(tmp_path, key, counter)
    assert (updated.version, updated.status) == ("2.0.0", PluginStatus.DISABLED)
    assert _stored(project) == ({"salute": "yo"}, 2, {"salute": "proj"}, {"salute": "proj"})
    assert _runs(counter) == 2  # the global values and the one project's overrides


def test_an_enabled_plugins_step_runs_once_across_update_and_reload(
    project, tmp_path, key, counter
) -> None:
    _install_v1(project, tmp_path, key, enabled=True)
    updated = _update_to_v2(tmp_path, key, counter)
    assert (updated.version, updated.status) == ("2.0.0", PluginStatus.READY)
    get_runtime().reconcile(reload={PLUGIN})
    assert InstalledPlugin.objects.get(plugin_id=PLUGIN).status == PluginStatus.READY
    assert _stored(project) == ({"salute": "yo"}, 2, {"salute": "proj"}, {"salute": "proj"})
    assert _runs(counter) == 2  # once for the global values, once for the overrides


def test_a_failed_update_puts_back_global_values_and_project_overrides(
    project, tmp_path, key, counter
) -> None:
    _install_v1(project, tmp_path, key, enabled=True)
    with pytest.raises(UpdateFailed, match="RuntimeError: register failed"):
        _update_to_v2(tmp_path, key, counter, register="raise RuntimeError('register failed')")
    assert _runs(counter) == 2, "the settings were migrated before the register call failed"
    assert _stored(project) == ({"greeting": "yo"}, 1, {"greeting": "proj"}, {"greeting": "proj"})
    plugin = InstalledPlugin.objects.get(plugin_id=PLUGIN)
    assert (plugin.version, plugin.status) == ("1.0.0", PluginStatus.READY)


def test_an_older_export_is_migrated_by_the_same_steps(project, tmp_path, key, counter) -> None:
    _install_v1(project, tmp_path, key, enabled=False)
    _update_to_v2(tmp_path, key, counter)
    source = Path(InstalledPlugin.objects.get(plugin_id=PLUGIN).source_path)
    (source / "plugin.yaml").write_text("not: [a manifest", encoding="utf-8")  # never re-read
    old = {**export_settings(PLUGIN), "schema_version": 1, "values": {"greeting": "imported"}}
    before = _runs(counter)

    import_settings(PLUGIN, old, code_of=get_runtime().code_of)
    assert PluginConfig.objects.get(plugin__plugin_id=PLUGIN).values == {"salute": "imported"}
    assert _runs(counter) == before + 1

    exploding = {**old, "values": {"greeting": "explode"}}
    with pytest.raises(SettingsIOError) as failed:
        import_settings(PLUGIN, exploding, code_of=get_runtime().code_of)
    message = str(failed.value)
    assert "ValueError: cannot rename an exploding greeting (at main.py:" in message
    assert PluginConfig.objects.get(plugin__plugin_id=PLUGIN).values == {"salute": "imported"}
