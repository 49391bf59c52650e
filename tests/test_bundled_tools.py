"""ai_helper, code_analyzer's ruff run and report API, plugin_model's jobs (SPEC K3, B6, U8)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from plugins_app.authoring.testing import BridgeDouble, JobContextDouble, plugin_module
from plugins_app.sdk.errors import JobCancelled
from tests.plugin_factory import copy_demo

pytestmark = pytest.mark.usefixtures("job_worker")

BUNDLED = Path(settings.BASE_DIR) / "plugins"
DEMO = Path(settings.BASE_DIR) / "examples" / "demo"
analyzer = plugin_module(BUNDLED / "code_analyzer", "analyzer")
helper = plugin_module(BUNDLED / "ai_helper", "helper")
model = plugin_module(BUNDLED / "plugin_model", "main")

TANGLED = {
    "pkg/__init__.py": "",
    "pkg/a.py": "from pkg import b\n\n\ndef f(x):\n    return b.g(x)\n",
    "pkg/b.py": "from pkg import a\n\n\ndef g(x):\n    return a.f(x) if x else 0\n",
    "pkg/broken.py": "def oops(:\n",
    "pkg/long.py": "".join(f"v{n} = {n}\n" for n in range(60)),
    "tests/test_a.py": "def test_f():\n    assert True\n",
}
TANGLED_EDGES = [("pkg/a.py", "pkg/b.py", True), ("pkg/b.py", "pkg/a.py", True)]


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    copy_demo(DEMO, root)
    return root


def _analyzer(projects: dict[str, Path], **config) -> object:
    bridge = BridgeDouble.from_plugin_dir(
        BUNDLED / "code_analyzer", projects=projects, config={"max_complexity": 4, **config}
    )
    analyzer.register(bridge)
    return bridge.registration.public_api


def _helper(projects: dict[str, Path], graphs=None, **config) -> BridgeDouble:
    bridge = BridgeDouble.from_plugin_dir(
        BUNDLED / "ai_helper",
        projects=projects,
        apis={"code_analyzer": _analyzer(projects)},
        graphs=graphs or {},
        config=config,
    )
    helper.register(bridge)
    return bridge


def test_ai_helper_prioritises_the_demo_findings(demo: Path) -> None:
    result = _helper({"demo": demo}).registration.hooks["on_analyze"]({"project": "demo"})
    first = result["findings"][0]
    assert (first["priority"], first["rule"], first["file"]) == (
        "medium",
        "complexity",
        "src/demo_app/inventory.py",
    )
    assert "status()" in first["message"]
    untested = [f for f in result["findings"] if f["rule"] == "untested"]
    assert [f["file"] for f in untested] == ["src/demo_app/report.py"]
    assert result["by_priority"] == {"high": 0, "medium": 1, "low": 1}


def test_ai_helper_orders_cycles_and_syntax_errors_first(tmp_path: Path) -> None:
    for path, text in TANGLED.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    bridge = _helper({"t": tmp_path}, graphs={"t": TANGLED_EDGES}, long_file_lines=50)
    found = bridge.registration.hooks["on_analyze"]({"project": "t"})["findings"]
    assert [(f["priority"], f["rule"]) for f in found] == [
        ("high", "syntax"),
        ("high", "import-cycle"),
        ("medium", "long-file"),
        ("low", "untested"),
    ]
    assert found[1]["message"] == "Break the import cycle between pkg/a.py, pkg/b.py"
    assert found[3]["file"] == "pkg/b.py"


def test_a_long_import_cycle_is_named_by_its_size_and_first_files() -> None:
    suggestions = plugin_module(BUNDLED / "ai_helper", "suggestions")
    group = [f"pkg/m{n:03}.py" for n in range(300)]
    (found,) = suggestions.suggest({"findings": []}, [group])
    assert found.message == (
        "Break the import cycle of 300 files: pkg/m000.py, pkg/m001.py, pkg/m002.py and 297 more"
    )
    assert list(found.as_finding()["files"]) == group


def test_graph_import_cycles_finds_each_group_once() -> None:
    from plugins_app.sdk.values import Graph

    edges = [("a", "b", True), ("b", "c", True), ("c", "a", True), ("c", "d", True)]
    edges += [("d", "e", True), ("e", "d", True), ("x", "os", False), ("f", "f", True)]
    graph = Graph("p", ("a", "b", "c", "d", "e", "f"), tuple(edges))
    assert graph.import_cycles() == [["a", "b", "c"], ["d", "e"]]


def test_export_bundle_writes_markdown_and_json_that_git_ignores(demo: Path) -> None:
    bridge = _helper({"demo": demo})
    job = bridge.run_job("export_bundle", project="demo")
    assert job.state == "completed", job.error
    markdown = (demo / ".jupiter" / "ai-bundle.md").read_text()
    data = json.loads((demo / ".jupiter" / "ai-bundle.json").read_text())
    assert markdown.startswith("# Code review request: project `demo`")
    assert "**[medium] Split status(): complexity 7 > 4**" in markdown
    assert "def status(self, sku: str) -> str:" in data["suggestions"][0]["source"]
    assert data["hotspots"][0]["file"] == "src/demo_app/inventory.py"
    assert (demo / ".jupiter" / ".gitignore").read_text() == "*\n"
    assert job.result["suggestions"] == len(data["suggestions"])
    again = bridge.run_job("export_bundle", project="demo")
    assert again.state == "completed"
    assert (demo / ".jupiter" / "ai-bundle.md").read_text() == markdown  # deterministic


def test_bundle_cli_prints_markdown_or_json(demo: Path) -> None:
    bundle = _helper({"demo": demo}).registration.cli_commands["bundle"].func
    assert "## Suggestions, by priority" in bundle(["demo"])
    assert json.loads(bundle(["demo", "--json"]))["format"] == "jupiter-ai-bundle"
    with pytest.raises(ValueError, match="usage"):
        bundle([])


def test_ai_helper_needs_its_declared_dependency(demo: Path) -> None:
    from plugins_app.sdk.errors import PluginUnavailable

    bridge = BridgeDouble.from_plugin_dir(BUNDLED / "ai_helper", projects={"demo": demo})
    helper.register(bridge)
    with pytest.raises(PluginUnavailable, match="not loaded"):
        bridge.registration.hooks["on_analyze"]({"project": "demo"})
    assert helper.health() == {"ok": True}


def test_code_analyzer_report_is_reused_until_a_file_changes(demo: Path) -> None:
    api = _analyzer({"demo": demo})
    first = api.report("demo")
    assert api.report("demo") is first
    (demo / "src" / "demo_app" / "extra.py").write_text("def g():\n    return 1\n")
    second = api.report("demo")
    assert second is not first
    assert second["totals"]["files"] == first["totals"]["files"] + 1


def test_ruff_runs_through_the_runner_only_with_run_commands(demo: Path, tmp_path: Path) -> None:
    (demo / "src" / "demo_app" / "sloppy.py").write_text("import os\n")
    assert not any(
        f["rule"].startswith("ruff:") for f in _analyzer({"d": demo}).report("d")["findings"]
    )

    granted = tmp_path / "code_analyzer"
    shutil.copytree(BUNDLED / "code_analyzer", granted)
    yaml = granted / "plugin.yaml"
    yaml.write_text(yaml.read_text().replace("  - fs_read\n", "  - fs_read\n  - run_commands\n"))
    bridge = BridgeDouble.from_plugin_dir(granted, projects={"d": demo}, config={"ruff": True})
    plugin_module(granted, "analyzer").register(bridge)
    findings = bridge.registration.public_api.report("d")["findings"]
    ruff = [f for f in findings if f["rule"].startswith("ruff:")]
    assert {"file": "src/demo_app/sloppy.py", "line": 1, "rule": "ruff:F401"}.items() <= ruff[
        0
    ].items()
    assert not bridge.denials


def test_plugin_model_inventory_reports_progress_and_stops_when_cancelled(demo: Path) -> None:
    bridge = BridgeDouble.from_plugin_dir(BUNDLED / "plugin_model", projects={"demo": demo})
    model.register(bridge)
    job = bridge.run_job("inventory", project="demo")
    assert job.state == "completed", job.error
    assert job.result["by_extension"][".py"] == 4
    assert job.progress_log[-1][0] == 100
    context = JobContextDouble(bridge, "inventory", "demo", {})
    context.cancel()
    with pytest.raises(JobCancelled):
        model.inventory(context)
    assert set(bridge.registration.ui) == {"panel:overview"}
    assert bridge.registration.ui["panel:overview"].render({"project": "demo"})["inventories"] == 1


def test_plugin_model_debug_mode_adds_debug_metrics() -> None:
    import logging

    logger = logging.getLogger("jupiter.plugin.plugin_model")
    assert "debug_last_inventory_seconds" not in model.metrics()
    logger.setLevel(logging.DEBUG)
    try:
        assert "debug_last_inventory_seconds" in model.metrics()
    finally:
        logger.setLevel(logging.NOTSET)


@pytest.mark.django_db(transaction=True)
def test_host_analysis_of_the_demo_includes_ai_helper_suggestions(demo: Path) -> None:
    from plugins_app.config.store import set_plugin_overrides
    from plugins_app.jobs.api import executor, submit
    from plugins_app.kernel.runtime import boot
    from plugins_app.models import HistoryKind, InstalledPlugin, JobState
    from plugins_app.projects.service import register_project, set_plugin_enabled
    from plugins_app.services.history import latest

    boot()
    project = register_project("demo", demo)
    for plugin_id in ("ai_helper", "code_analyzer", "legacy_counter"):
        set_plugin_enabled(project, plugin_id, True)
    set_plugin_overrides(project, "code_analyzer", {"max_complexity": 4})
    assert InstalledPlugin.objects.get(plugin_id="ai_helper").status == "ready"
    job = submit("", "analyze", project=project)
    assert executor().wait(str(job.pk), 30)
    job.refresh_from_db()
    assert job.state == JobState.COMPLETED, job.error
    plugins = latest(project, HistoryKind.ANALYSIS).data["plugins"]
    assert plugins["ai_helper"]["error"] == ""
    assert [f["rule"] for f in plugins["ai_helper"]["findings"]] == ["complexity", "untested"]
    assert plugins["code_analyzer"]["findings"][0]["function"] == "status"
    assert plugins["legacy_counter"]["result"]["most_common_extension"] == ".py"
    # The findings are also rows, on one severity scale, for the findings page.
    from plugins_app.models import Finding

    rows = Finding.objects.filter(project=project)
    assert sorted(rows.values_list("plugin_id", "rule", "severity")) == [
        ("ai_helper", "complexity", "medium"),
        ("ai_helper", "untested", "low"),
        ("code_analyzer", "complexity", "medium"),
    ]
    assert rows.get(plugin_id="code_analyzer").path == "src/demo_app/inventory.py"
