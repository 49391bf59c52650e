"""Plugins written for the original Jupiter (plugin API 1.8) validate, load and report health
the way they meant (issue 14; SPEC M7, L5; docs/compatibility.md)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from plugins_app.authoring.testing import BridgeDouble
from plugins_app.config.errors import ConfigValidationError
from plugins_app.config.layering import schema_defaults
from plugins_app.kernel.runtime import boot, get_runtime
from plugins_app.manifest.load import compatibility_issue, load_manifest
from plugins_app.manifest.original import npm_specifier
from plugins_app.models import InstalledPlugin, PluginStatus
from plugins_app.observability.health import HealthMonitor
from plugins_app.projects.service import register_project, set_plugin_enabled
from plugins_app.sdk.compat import OriginalJobs, OriginalServices, health_answer

ORIGINAL = Path(__file__).parent / "fixtures" / "plugins" / "original"
LOADABLE = ("orig_settings", "orig_unhealthy")


@pytest.fixture
def project(tmp_path: Path, settings):
    settings.JUPITER_PLUGIN_DIRS = [ORIGINAL]
    root = tmp_path / "proj"
    root.mkdir()
    boot()
    return register_project("proj", root)


def status(plugin_id: str) -> InstalledPlugin:
    return InstalledPlugin.objects.get(plugin_id=plugin_id)


@pytest.mark.parametrize("folder", sorted(p.name for p in ORIGINAL.iterdir() if p.is_dir()))
def test_every_fixture_validates(folder: str) -> None:
    call_command("jupiter_plugins", "validate", str(ORIGINAL / folder))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("plugin_id", LOADABLE)
def test_valid_means_loadable(project, plugin_id: str) -> None:
    call_command("jupiter_plugins", "validate", str(ORIGINAL / plugin_id))
    set_plugin_enabled(project, plugin_id, True)
    assert status(plugin_id).status == PluginStatus.READY, status(plugin_id).status_reason


def test_config_defaults_become_the_settings_form() -> None:
    manifest = load_manifest(ORIGINAL / "orig_settings").manifest
    assert manifest is not None and manifest.config_schema is not None
    assert schema_defaults(manifest.config_schema.schema) == {"threshold": 7, "verbose": False}
    assert manifest.config_schema.schema["properties"]["verbose"]["type"] == "boolean"
    assert [c.name for c in manifest.cli_commands] == ["greet"]
    assert manifest.ui.i18n["fr"]["plugin.orig_settings.title"].startswith("Réglages")
    assert manifest.ui.panels[0].location == "both" and manifest.ui.panels[0].order == 40
    assert manifest.ui.assets["js"] == ("web/panels/main.js",)
    assert manifest.capabilities.jobs.max_concurrent == 2
    assert manifest.extends == ()


@pytest.mark.django_db(transaction=True)
def test_original_plugin_registers_hooks_and_cli_and_reports_health(project) -> None:
    set_plugin_enabled(project, "orig_settings", True)
    set_plugin_enabled(project, "orig_unhealthy", True)
    registration = get_runtime().bridge.registration("orig_settings")
    assert registration is not None
    assert {"health", "metrics", "shutdown", "on_scan"} <= set(registration.hooks)
    assert registration.cli_commands["greet"].func(["a", "b"]) == "greetings a b"
    results = {r.plugin_id: r for r in HealthMonitor(get_runtime()).check(list(LOADABLE))}
    assert results["orig_settings"].ok
    assert "cache is cold" in results["orig_settings"].reason
    assert not results["orig_unhealthy"].ok
    assert "backend down" in results["orig_unhealthy"].reason
    assert status("orig_unhealthy").status == PluginStatus.ERROR


@pytest.mark.django_db(transaction=True)
def test_missing_python_package_disables_the_plugin_naming_it(project) -> None:
    set_plugin_enabled(project, "orig_missing_package", True)
    disabled = status("orig_missing_package")
    assert disabled.status == PluginStatus.DISABLED
    assert "jupiter-fixture-absent-package" in disabled.status_reason


def test_plugins_written_for_api_1_8_are_compatible() -> None:
    manifest = load_manifest(ORIGINAL / "orig_unhealthy").manifest
    assert manifest is not None
    assert compatibility_issue(manifest) is None
    assert compatibility_issue(manifest, api_versions=("1.2",)) is not None


@pytest.mark.parametrize(
    ("spec", "pep440"),
    [
        ("^1.2.3", ">=1.2.3,<2"),
        ("^0.3", ">=0.3,<0.4"),
        ("~1.0", ">=1.0,<1.1"),
        ("~1.2.3", ">=1.2.3,<1.3"),
        ("1.0.0", "==1.0.0"),
        (">=1.0", None),
    ],
)
def test_npm_style_ranges_are_translated(spec: str, pep440: str | None) -> None:
    assert npm_specifier(spec) == pep440


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        ({"status": "healthy"}, True),
        ({"status": "degraded", "message": "slow"}, True),
        ({"status": "unhealthy", "message": "down"}, False),
        ({"status": "bogus"}, False),
        (True, True),
    ],
)
def test_health_statuses_are_mapped(answer: object, ok: bool) -> None:
    mapped = health_answer(answer)
    result = mapped.get("ok") if isinstance(mapped, dict) else mapped
    assert bool(result) is ok


def test_an_invalid_original_manifest_is_refused_by_validate(tmp_path: Path) -> None:
    (tmp_path / "plugin.yaml").write_text(
        "id: broken\nname: Broken\nversion: 1.0.0\ntype: tool\n"
        "entrypoints: {health: '__init__:health'}\n",
        encoding="utf-8",
    )
    with pytest.raises(CommandError):
        call_command("jupiter_plugins", "validate", str(tmp_path))


class _Services:
    def get_config(self, project: str | None = None) -> dict[str, object]:
        return {"threshold": 7}


def test_original_services_read_settings_and_permissions(tmp_path: Path) -> None:
    manifest = load_manifest(ORIGINAL / "orig_settings").manifest
    assert manifest is not None
    services = OriginalServices(_Services(), tmp_path, manifest)
    config = services.get_config("orig_settings")
    assert config.get_all() == {"threshold": 7} and config.has("threshold")
    assert not config.has("verbose")
    assert services.has_permission("fs_read") and not services.has_permission("fs_write")
    assert services.get_log_dir() == tmp_path / "logs" and (tmp_path / "logs").is_dir()


def test_the_bridge_double_sets_settings_as_the_host_does() -> None:
    double = BridgeDouble.from_plugin_dir(ORIGINAL / "orig_config_set")
    double.services.set_config("note", "short")
    assert double.services.get_config()["note"] == "short"
    with pytest.raises(ConfigValidationError, match="note"):
        double.services.set_config("note", "far too long for the schema")
    assert double.services.get_config()["note"] == "short"


def test_a_pending_job_cancelled_never_runs() -> None:
    jobs = OriginalJobs(max_concurrent=1)
    release, ran = threading.Event(), []
    first = jobs.submit(release.wait, 5)
    second = jobs.submit(ran.append, "second")
    assert jobs.get(second)["status"] == "pending"
    assert jobs.cancel(second) and not jobs.cancel("job-404")
    release.set()
    deadline = time.monotonic() + 5
    while jobs.get(first)["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert jobs.get(first)["status"] == "completed" and jobs.get(first)["result"] is True
    assert jobs.get(second)["status"] == "cancelled" and ran == []
