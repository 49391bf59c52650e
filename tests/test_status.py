"""One writer of plugin status: who set it, one announcement per change, the bell (SPEC L1, U8)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import transaction

import plugins_app
from plugins_app.jobs.api import executor, submit
from plugins_app.jobs.events import job_finished
from plugins_app.kernel.runtime import NOT_ENABLED, boot, get_runtime
from plugins_app.models import InstalledPlugin, Notification, PluginStatus, StatusSource
from plugins_app.observability import health
from plugins_app.observability.health import HEALTH_PREFIX, HealthResult
from plugins_app.projects.service import register_project, set_plugin_enabled
from plugins_app.registry.status import plugin_status_changed, set_status
from tests.plugin_factory import signed_plugin

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("job_worker")]
ERROR, READY, DISABLED = PluginStatus.ERROR, PluginStatus.READY, PluginStatus.DISABLED


class Rollback(Exception):
    """Raised inside a transaction to roll it back."""


@pytest.fixture
def changes() -> Iterator[list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, signal: Any, **kwargs: Any) -> None:
        seen.append(kwargs)

    plugin_status_changed.connect(receiver, weak=False, dispatch_uid="test_status")
    yield seen
    plugin_status_changed.disconnect(dispatch_uid="test_status")


@pytest.fixture
def project(tmp_path: Path, runtime_dirs):
    (tmp_path / "proj").mkdir()
    boot()
    return register_project("proj", tmp_path / "proj")


def row(plugin_id: str) -> tuple[str, str, str]:
    plugin = InstalledPlugin.objects.get(plugin_id=plugin_id)
    return plugin.status, plugin.status_reason, plugin.status_source


def test_a_signed_plugin_whose_files_change_rings_the_bell_at_sync(tmp_path: Path, settings):
    root = tmp_path / "plugins"
    signed_plugin(root, "good", Ed25519PrivateKey.generate())
    settings.JUPITER_PLUGIN_DIRS = [root]
    boot()
    assert row("good") == (DISABLED, NOT_ENABLED, StatusSource.ENABLEMENT)
    (root / "good" / "main.py").write_text("import os\n")
    get_runtime().rescan()
    reason = "signature check failed: file changed since signing: main.py"
    assert row("good") == (ERROR, reason, StatusSource.TRUST)
    get_runtime().rescan()  # still tampered: nothing new to say
    bell = Notification.objects.get(topic="jupiter.plugin.error")
    assert (bell.plugin_id, bell.level, bell.body) == ("good", "error", reason)
    assert bell.link == "/plugins/good/"


def test_each_writer_records_who_set_the_status(project, settings, tmp_path: Path):
    for plugin_id in ("hello", "raises_at_import", "needs_missing"):
        set_plugin_enabled(project, plugin_id, True)
    assert row("bad_manifest")[::2] == (ERROR, StatusSource.MANIFEST)
    assert row("future_only")[::2] == (DISABLED, StatusSource.COMPATIBILITY)
    assert row("legacy_style") == (DISABLED, NOT_ENABLED, StatusSource.ENABLEMENT)
    assert row("needs_missing")[::2] == (DISABLED, StatusSource.DEPENDENCIES)
    assert row("raises_at_import")[::2] == (ERROR, StatusSource.LOAD)
    assert row("hello") == (READY, "", StatusSource.LOAD)
    health.apply(HealthResult("hello", False, "down"))
    assert row("hello") == (ERROR, HEALTH_PREFIX + "down", StatusSource.HEALTH)
    settings.JUPITER_PLUGIN_DIRS = [tmp_path / "empty"]
    get_runtime().rescan()
    assert row("hello")[::2] == (ERROR, StatusSource.FOLDER)


def test_a_refused_trust_level_is_recorded_as_trust(runtime_dirs, settings):
    settings.JUPITER_ALLOW_UNSIGNED_LOCAL_PLUGINS = False
    boot()
    assert row("hello")[::2] == (DISABLED, StatusSource.TRUST)


def test_a_health_check_clears_only_the_error_it_set(project):
    set_plugin_enabled(project, "hello", True)
    load_error = HEALTH_PREFIX + "looks like a health error, but the loader set it"
    set_status("hello", ERROR, load_error, source=StatusSource.LOAD)
    health.apply(HealthResult("hello", True))
    health.apply(HealthResult("hello", False, "down"))
    assert row("hello") == (ERROR, load_error, StatusSource.LOAD)
    set_status("hello", READY, source=StatusSource.LOAD)
    health.apply(HealthResult("hello", False, "down"))
    health.apply(HealthResult("hello", False, "still down"))
    assert row("hello") == (ERROR, HEALTH_PREFIX + "still down", StatusSource.HEALTH)
    health.apply(HealthResult("hello", True))
    assert row("hello") == (READY, "", StatusSource.HEALTH)
    bells = Notification.objects.filter(topic="jupiter.plugin.error", plugin_id="hello")
    assert [n.body for n in bells] == [HEALTH_PREFIX + "down", load_error], "rewording is no news"


def test_the_signal_is_sent_once_per_change_on_commit(changes):
    InstalledPlugin.objects.create(plugin_id="p", name="P")
    assert set_status("p", ERROR, "boom", source=StatusSource.LOAD)
    assert not set_status("p", ERROR, "boom", source=StatusSource.LOAD)
    assert not set_status("p", READY, source=StatusSource.HEALTH, only_from={READY})
    assert not set_status("p", ERROR, "boom", source=StatusSource.LOAD, legacy=True)
    assert InstalledPlugin.objects.get(plugin_id="p").legacy, "fields are written all the same"
    assert changes == [
        {
            "plugin_id": "p",
            "status": ERROR,
            "reason": "boom",
            "source": StatusSource.LOAD,
            "previous_status": DISABLED,
            "previous_source": StatusSource.DISCOVERY,
        }
    ]
    with pytest.raises(Rollback), transaction.atomic():
        set_status("p", READY, source=StatusSource.LOAD)
        raise Rollback
    assert len(changes) == 1 and row("p")[0] == ERROR
    with transaction.atomic():
        set_status("p", READY, source=StatusSource.LOAD)
        assert len(changes) == 1, "not before the commit"
    assert [c["status"] for c in changes] == [ERROR, READY]
    assert not set_status("missing", READY, source=StatusSource.LOAD)


def test_a_finished_job_is_announced_by_the_job_engine_signal(project):
    received: list[tuple[str, dict[str, Any]]] = []

    def receiver(state: str, payload: dict[str, Any], **kwargs: Any) -> None:
        received.append((state, payload))

    job_finished.connect(receiver, weak=False, dispatch_uid="test_status.job")
    try:
        set_plugin_enabled(project, "job_raises", True)
        job = submit("job_raises", "explode", project=project)
        assert executor().wait(str(job.pk), 20)
    finally:
        job_finished.disconnect(dispatch_uid="test_status.job")
    [(state, payload)] = received
    assert (state, payload["job"], payload["name"]) == ("failed", str(job.pk), "explode")
    assert Notification.objects.filter(topic="jupiter.job.failed").exists()


@pytest.mark.parametrize("modules", ["jobs/*.py", "registry/*.py", "kernel/runtime.py"])
def test_status_writers_and_the_job_engine_never_import_observability(modules: str):
    imported = set()
    for path in Path(plugins_app.__file__).parent.glob(modules):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert not {m for m in imported if m.startswith("plugins_app.observability")}
