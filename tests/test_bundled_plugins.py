"""The plugins shipped in plugins/ are valid, load, and do real work on the demo project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings

from plugins_app.discovery import discover
from plugins_app.models import InstalledPlugin, PluginStatus
from plugins_app.projects import register_project, set_plugin_enabled
from plugins_app.runtime import boot, get_runtime

BUNDLED = Path(settings.BASE_DIR) / "plugins"
DEMO = Path(settings.BASE_DIR) / "examples" / "demo"


def test_every_bundled_manifest_is_valid_without_warnings():
    found = discover([BUNDLED])
    assert {p.id for p in found} >= {"code_analyzer", "legacy_counter", "plugin_model"}
    for plugin in found:
        assert plugin.result.ok, (plugin.id, plugin.result.errors)
        assert not plugin.result.warnings, (plugin.id, plugin.result.warnings)


@pytest.fixture
def demo(tmp_path):
    root = tmp_path / "demo"
    shutil.copytree(DEMO, root)
    boot()
    project = register_project("demo", root)
    for plugin_id in ("code_analyzer", "legacy_counter", "plugin_model"):
        set_plugin_enabled(project, plugin_id, True)
    return root


@pytest.mark.django_db(transaction=True)
def test_bundled_plugins_load_ready(demo):
    statuses = dict(InstalledPlugin.objects.values_list("plugin_id", "status"))
    assert statuses == {
        "code_analyzer": PluginStatus.READY,
        "legacy_counter": PluginStatus.READY,
        "plugin_model": PluginStatus.READY,
        "meeting_adapter": PluginStatus.DISABLED,  # enabled where Meeting is used
    }
    assert InstalledPlugin.objects.get(plugin_id="legacy_counter").legacy is True


@pytest.mark.django_db(transaction=True)
def test_code_analyzer_measures_the_demo_project(demo):
    job = get_runtime().bridge.registration("code_analyzer").jobs["analyse"]
    report = job.func(str(demo), {"max_complexity": 4, "exclude": [], "include_tests": False})
    paths = {f["path"] for f in report["files"]}
    assert "src/demo_app/inventory.py" in paths
    assert not any(p.startswith("tests/") for p in paths)
    assert report["totals"]["classes"] == 2
    assert [f["function"] for f in report["findings"]] == ["status"]


@pytest.mark.django_db(transaction=True)
def test_legacy_counter_hooks_count_files(demo):
    hooks = get_runtime().bridge.registration("legacy_counter").hooks
    scan = hooks["on_scan"](str(demo))
    assert scan["by_extension"][".py"] == 4
    assert hooks["on_analyze"](scan)["most_common_extension"] == ".py"


@pytest.mark.django_db(transaction=True)
def test_plugin_model_job_reads_the_effective_config(demo):
    job = get_runtime().bridge.registration("plugin_model").jobs["greet"]
    assert job.func("demo") == "Hello from plugin_model"
