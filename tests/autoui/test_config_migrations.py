"""Stored settings follow config_schema.version through the plugin's steps (SPEC M6)."""

from __future__ import annotations

from django.urls import reverse

from plugins_app.config.migrations import MigrationFailed, migrate, plan
from plugins_app.config.store import set_plugin_overrides
from plugins_app.kernel.runtime import get_runtime
from plugins_app.manifest.model import Migration
from plugins_app.models import InstalledPlugin, PluginConfig, ProjectPlugin
from plugins_app.projects.projectfile import read_project_file
from plugins_app.projects.service import project_file_path

from .conftest import PROBE


def _store_v1(values: dict) -> None:
    PluginConfig.objects.filter(plugin__plugin_id=PROBE).update(schema_version=1, values=values)


def test_plan_takes_the_longest_declared_jumps():
    steps = (Migration(1, 2, "a"), Migration(2, 3, "b"), Migration(1, 3, "c"))
    assert [s.entrypoint for s in plan(steps, 1, 3)] == ["c"]
    try:
        plan((Migration(2, 3, "b"),), 1, 3)
    except MigrationFailed as exc:
        assert "no migration step declared from version 1" in str(exc)
    else:
        raise AssertionError("a missing step must fail")


def test_global_and_project_settings_are_migrated_together(project):
    set_plugin_overrides(project, PROBE, {"retries": 2})
    ProjectPlugin.objects.filter(plugin__plugin_id=PROBE).update(overrides={"title": "proj"})
    _store_v1({"title": "glob"})
    plugin = InstalledPlugin.objects.get(plugin_id=PROBE)
    manifest = get_runtime().manifests[PROBE]
    outcome = migrate(plugin, manifest, resolve=get_runtime().code_of(manifest))
    assert outcome.state == "migrated"
    config = PluginConfig.objects.get(plugin=plugin)
    assert (config.schema_version, config.values) == (2, {"name": "glob"})
    assert ProjectPlugin.objects.get(plugin=plugin).overrides == {"name": "proj"}
    assert read_project_file(project_file_path(project)).plugins[PROBE].overrides == {
        "name": "proj"
    }


def test_a_failing_step_keeps_the_old_config_and_the_page_says_so(client, project):
    _store_v1({"explode": True, "retries": 1})
    html = client.get(reverse("plugins_app:plugin-settings", args=[PROBE]), HTTP_HX_REQUEST="true")
    text = html.content.decode()
    assert "Settings migration failed." in text
    assert "ValueError: cannot migrate an exploding config" in text
    config = PluginConfig.objects.get(plugin__plugin_id=PROBE)
    assert (config.schema_version, config.values) == (1, {"explode": True, "retries": 1})


def test_a_result_the_new_schema_refuses_is_not_saved(project):
    _store_v1({"title": "NOT-lowercase"})
    plugin = InstalledPlugin.objects.get(plugin_id=PROBE)
    manifest = get_runtime().manifests[PROBE]
    outcome = migrate(plugin, manifest, resolve=get_runtime().code_of(manifest))
    assert outcome.state == "failed" and "do not fit version 2: name" in outcome.message
    assert PluginConfig.objects.get(plugin=plugin).schema_version == 1


def test_migration_runs_when_the_plugin_loads(autoui_dirs, project):
    _store_v1({"title": "atload"})
    runtime = get_runtime()
    runtime.reconcile(reload=[PROBE])
    assert PluginConfig.objects.get(plugin__plugin_id=PROBE).values == {"name": "atload"}
