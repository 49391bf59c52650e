"""The plugins shipped in plugins/ are valid, load, and do real work on the demo project."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from plugins_app.config.store import set_plugin_overrides
from plugins_app.kernel.runtime import boot, get_runtime
from plugins_app.models import InstalledPlugin, PluginStatus
from plugins_app.projects.service import register_project, set_plugin_enabled
from plugins_app.registry.discovery import discover
from tests.plugin_factory import copy_demo

pytestmark = pytest.mark.usefixtures("job_worker")

BUNDLED = Path(settings.BASE_DIR) / "plugins"
DEMO = Path(settings.BASE_DIR) / "examples" / "demo"


def test_every_bundled_manifest_is_valid_without_warnings():
    found = discover([BUNDLED])
    assert {p.id for p in found} >= {"code_analyzer", "legacy_counter", "plugin_model", "ai_helper"}
    for plugin in found:
        assert plugin.result.ok, (plugin.id, plugin.result.errors)
        assert not plugin.result.warnings, (plugin.id, plugin.result.warnings)


@pytest.fixture
def demo(tmp_path):
    root = tmp_path / "demo"
    copy_demo(DEMO, root)
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
        "ai_helper": PluginStatus.DISABLED,
    }
    assert InstalledPlugin.objects.get(plugin_id="legacy_counter").legacy is True


def test_code_analyzer_job_measures_the_demo_project_with_the_bridge_double(tmp_path):
    from plugins_app.authoring.testing import BridgeDouble

    bridge = BridgeDouble.from_plugin_dir(
        BUNDLED / "code_analyzer",
        config={"max_complexity": 4, "exclude": [], "include_tests": False},
        projects={"demo": copy_demo(DEMO, tmp_path / "demo")},
    )
    module = _import_bundled("code_analyzer", "analyzer")
    module.register(bridge)
    job = bridge.run_job("analyse", project="demo")
    assert job.state == "completed", job.error
    report = job.result
    paths = {f["path"] for f in report["files"]}
    assert "src/demo_app/inventory.py" in paths
    assert not any(p.startswith("tests/") for p in paths)
    assert report["totals"]["classes"] == 2
    assert [f["function"] for f in report["findings"]] == ["status"]
    assert job.progress_log[-1][0] == 100


def test_code_analyzer_on_analyze_reports_progress_per_file(tmp_path):
    from plugins_app.authoring.testing import BridgeDouble
    from plugins_app.sdk.progress import reporting_to

    bridge = BridgeDouble.from_plugin_dir(
        BUNDLED / "code_analyzer",
        config={"max_complexity": 4, "exclude": [], "include_tests": True},
        projects={"demo": copy_demo(DEMO, tmp_path / "demo")},
    )
    _import_bundled("code_analyzer", "analyzer").register(bridge)
    seen = []
    with reporting_to(seen.append):
        report = bridge.registration.hooks["on_analyze"]({"project": "demo"})
    assert len(seen) == len(report["files"]) > 1
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert (seen[-1].done, seen[-1].total) == (1000, 1000)
    assert {p.message for p in seen} == {f["path"] for f in report["files"]}


def test_plugin_model_job_reads_the_effective_config():
    from plugins_app.authoring.testing import BridgeDouble

    bridge = BridgeDouble.from_plugin_dir(BUNDLED / "plugin_model", config={"greeting": "Salut"})
    _import_bundled("plugin_model", "main").register(bridge)
    assert bridge.run_job("greet").result == "Salut"


def _import_bundled(plugin_id: str, module: str):
    """Import a bundled plugin's module the way the host does (its own package)."""
    from plugins_app.manifest.load import load_manifest
    from plugins_app.sdk.loading import resolve

    return resolve(load_manifest(BUNDLED / plugin_id).manifest, module)


@pytest.mark.django_db(transaction=True)
def test_legacy_counter_hooks_count_files(demo):
    hooks = get_runtime().bridge.registration("legacy_counter").hooks
    scan = hooks["on_scan"](str(demo))
    assert scan["by_extension"][".py"] == 4
    assert hooks["on_analyze"](scan)["most_common_extension"] == ".py"


@pytest.mark.django_db(transaction=True)
def test_scan_and_analysis_of_the_demo_show_findings_and_the_legacy_result(demo):
    from plugins_app.jobs.api import executor, submit
    from plugins_app.models import HistoryKind, JobState, Project
    from plugins_app.services.history import graph_of, latest

    project = Project.objects.get(name="demo")
    set_plugin_overrides(project, "code_analyzer", {"max_complexity": 4})
    job = submit("", "analyze", project=project)
    assert executor().wait(str(job.pk), 30)
    job.refresh_from_db()
    assert job.state == JobState.COMPLETED, job.error
    assert job.result["plugins"]["code_analyzer"] == {"findings": 1, "error": ""}
    scan = latest(project, HistoryKind.SCAN).data
    assert scan["by_extension"][".py"] == 4
    assert scan["plugins"]["legacy_counter"]["result"]["by_extension"][".py"] == 4
    analysis = latest(project, HistoryKind.ANALYSIS).data["plugins"]
    assert [f["function"] for f in analysis["code_analyzer"]["findings"]] == ["status"]
    assert analysis["legacy_counter"]["result"]["most_common_extension"] == ".py"
    graph = graph_of(project)
    assert "src/demo_app/inventory.py" in graph.imports_of("src/demo_app/report.py")


def test_a_walk_through_leaves_nothing_a_test_copies(tmp_path):
    source = tmp_path / "walked"
    (source / ".jupiter").mkdir(parents=True)
    (source / "demo.jupiter.yaml").write_text("plugins:\n  ai_helper: {enabled: true}\n")
    (source / ".jupiter" / "ai-bundle.md").write_text("x")
    (source / "app.py").write_text("x = 1\n")
    copied = copy_demo(source, tmp_path / "copy")
    assert sorted(p.name for p in copied.iterdir()) == ["app.py"]
