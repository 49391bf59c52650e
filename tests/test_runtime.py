"""Booting, loading, isolating and unloading plugins through the runtime (SPEC B1, L1, L3, L5)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from plugins_app.kernel.runtime import NOT_ENABLED, boot, get_runtime
from plugins_app.models import InstalledPlugin, PluginStatus
from plugins_app.projects.service import register_project, set_plugin_enabled
from plugins_app.sdk.errors import PluginUnavailable

FIXTURES = Path(__file__).parent / "fixtures" / "plugins" / "runtime"


@pytest.fixture
def project(tmp_path: Path, runtime_dirs):
    root = tmp_path / "proj"
    root.mkdir()
    boot()
    return register_project("proj", root)


def status(plugin_id: str) -> InstalledPlugin:
    return InstalledPlugin.objects.get(plugin_id=plugin_id)


def enable(project, *plugin_ids: str) -> None:
    for plugin_id in plugin_ids:
        set_plugin_enabled(project, plugin_id, True)


pytestmark = pytest.mark.django_db(transaction=True)


def test_boot_records_every_plugin_without_importing_any(runtime_dirs):
    boot()
    assert status("hello").status == PluginStatus.DISABLED
    assert status("hello").status_reason == NOT_ENABLED
    bad = status("bad_manifest")
    assert bad.status == PluginStatus.ERROR
    assert "version" in bad.status_reason
    future = status("future_only")
    assert future.status == PluginStatus.DISABLED
    assert ">=9.0" in future.status_reason
    assert not [m for m in sys.modules if m.startswith("jupiter_plugins.")]


def test_enabling_loads_the_plugin_and_its_registrations(project):
    enable(project, "hello")
    assert status("hello").status == PluginStatus.READY
    registration = get_runtime().bridge.registration("hello")
    assert registration is not None
    assert registration.jobs["say"].title == "Say"
    assert registration.jobs["say"].func(None) == "hi"


def test_incompatible_plugin_is_never_imported_even_when_enabled(project):
    enable(project, "future_only")
    assert status("future_only").status == PluginStatus.DISABLED
    assert "jupiter_plugins.future_only.main" not in sys.modules


def test_dependency_loads_first_and_its_api_is_reachable(project):
    enable(project, "uses_hello")
    dependent = status("uses_hello")
    assert dependent.status == PluginStatus.DISABLED
    assert "requires plugin 'hello'" in dependent.status_reason
    enable(project, "hello")
    assert status("uses_hello").status == PluginStatus.READY
    api = get_runtime().bridge.registration("uses_hello").public_api
    assert api == {"message": "hello uses_hello"}


def test_import_error_is_isolated_and_summarised(project):
    enable(project, "raises_at_import", "hello")
    broken = status("raises_at_import")
    assert broken.status == PluginStatus.ERROR
    assert broken.status_reason.startswith("RuntimeError: boom at import (at broken.py:1")
    assert status("hello").status == PluginStatus.READY
    assert "jupiter_plugins.raises_at_import" not in sys.modules


def test_register_failure_leaves_nothing_registered(project):
    enable(project, "raises_in_register")
    broken = status("raises_in_register")
    assert broken.status == PluginStatus.ERROR
    assert "ValueError: register exploded" in broken.status_reason
    assert "main.py:3 in register" in broken.status_reason
    assert get_runtime().bridge.registration("raises_in_register") is None


def test_legacy_plugin_is_adapted_and_flagged(project):
    enable(project, "legacy_style")
    plugin = status("legacy_style")
    assert plugin.status == PluginStatus.READY
    assert plugin.legacy is True
    hooks = get_runtime().bridge.registration("legacy_style").hooks
    assert hooks["on_scan"]("/p") == {"scanned": "/p"}
    assert hooks["on_analyze"]({}) == {"analyzed": True}


def test_dependency_cycle_disables_every_member_naming_the_cycle(project):
    enable(project, "cycle_a", "cycle_b", "hello")
    for member in ("cycle_a", "cycle_b"):
        plugin = status(member)
        assert plugin.status == PluginStatus.DISABLED
        assert plugin.status_reason == "dependency cycle: cycle_a -> cycle_b -> cycle_a"
    assert status("hello").status == PluginStatus.READY


def test_missing_dependency_disables_the_dependent(project):
    enable(project, "needs_missing")
    plugin = status("needs_missing")
    assert plugin.status == PluginStatus.DISABLED
    assert "not_installed" in plugin.status_reason


def test_undeclared_plugin_access_is_refused(project):
    enable(project, "sneaky", "hello")
    api = get_runtime().bridge.registration("sneaky").public_api
    with pytest.raises(PluginUnavailable, match="not a declared dependency"):
        api["peek"]()


def test_disabling_unloads_code_and_reports_why(project):
    enable(project, "hello")
    set_plugin_enabled(project, "hello", False)
    plugin = status("hello")
    assert plugin.status == PluginStatus.DISABLED
    assert plugin.status_reason == NOT_ENABLED
    assert get_runtime().bridge.registration("hello") is None
    assert "jupiter_plugins.hello.hello" not in sys.modules


def test_reload_runs_fresh_code_in_a_new_process(project):
    enable(project, "hello")
    runtime = get_runtime()
    first = runtime.supervisor.process("hello").pid
    runtime.reconcile(reload=["hello"])
    second = runtime.supervisor.process("hello").pid
    assert first != second
    assert runtime.bridge.registration("hello").public_api["greet"]("x") == "hello x"
    assert status("hello").status == PluginStatus.READY
    assert not [m for m in sys.modules if m.startswith("jupiter_plugins.")]


def test_vanished_plugin_folder_is_reported(project, settings, tmp_path):
    enable(project, "hello")
    settings.JUPITER_PLUGIN_DIRS = [tmp_path / "empty"]
    get_runtime().rescan()
    plugin = status("hello")
    assert plugin.status == PluginStatus.ERROR
    assert "plugin folder is missing" in plugin.status_reason
    assert get_runtime().bridge.registration("hello") is None


def test_reconcile_restores_the_status_of_an_already_loaded_plugin(project):
    enable(project, "legacy_style")
    InstalledPlugin.objects.filter(plugin_id="legacy_style").update(
        status=PluginStatus.LOADING, legacy=False
    )
    get_runtime().reconcile()
    plugin = status("legacy_style")
    assert (plugin.status, plugin.legacy) == (PluginStatus.READY, True)


def test_entrypoint_outside_the_plugin_folder_is_refused(project):
    enable(project, "outside_entry")
    plugin = status("outside_entry")
    assert plugin.status == PluginStatus.ERROR
    assert "names no module inside the plugin folder" in plugin.status_reason


def test_original_absolute_entrypoint_resolves_inside_the_plugin(project):
    enable(project, "old_absolute")
    assert status("old_absolute").status == PluginStatus.READY
    assert get_runtime().bridge.registration("old_absolute").public_api == (
        "old-style path resolved"
    )


def _plugin_dir(parent: Path, folder: str, plugin_id: str) -> None:
    (parent / folder).mkdir(parents=True)
    (parent / folder / "plugin.yaml").write_text(
        f"id: {plugin_id}\nname: {folder}\nversion: 1.0.0\ntype: tool\n"
        'entrypoint: "main:register"\n'
    )


def test_core_ids_and_duplicate_ids_never_replace_the_real_one(settings, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    _plugin_dir(first, "dup", "dup")
    _plugin_dir(second, "dup_again", "dup")
    _plugin_dir(second, "fake_bridge", "bridge")
    settings.JUPITER_PLUGIN_DIRS = [first, second]
    boot()
    assert not InstalledPlugin.objects.filter(plugin_id="bridge").exists()
    dup = status("dup")
    assert dup.source_path == str(first / "dup")
    assert dup.warnings == [
        f"another folder, {second / 'dup_again'}, also declares this id and was ignored"
    ]


def test_reconcile_keeps_a_health_error_of_a_loaded_plugin(project):
    enable(project, "hello")
    InstalledPlugin.objects.filter(plugin_id="hello").update(
        status=PluginStatus.ERROR, status_reason="health check failed: timeout"
    )
    get_runtime().reconcile()
    assert status("hello").status_reason == "health check failed: timeout"
