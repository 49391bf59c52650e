"""Discovered plugins -> rows in bulk: an unchanged installation is read, never written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from plugins_app.models import InstalledPlugin, PluginConfig, PluginStatus
from plugins_app.registry.discovery import discover
from plugins_app.registry.status import plugin_status_changed
from plugins_app.registry.sync import sync_installed_plugins
from tests.plugin_factory import write_plugin

pytestmark = pytest.mark.django_db
WRITES = ("INSERT", "UPDATE", "DELETE")


def _writes(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].lstrip().split()[0].upper() in WRITES]


@pytest.fixture
def plugin_root(tmp_path: Path) -> Path:
    root = tmp_path / "plugins"
    for n in range(30):
        write_plugin(root, f"p{n:02}")
    (root / "bad").mkdir()
    (root / "bad" / "plugin.yaml").write_text("id: bad\nversion: [\n")
    write_plugin(root, "future", extra_yaml="jupiter:\n  version: '>=99'\n")
    return root


def test_a_second_sync_with_nothing_changed_writes_nothing(plugin_root: Path) -> None:
    first = sync_installed_plugins(discover([plugin_root]))
    assert InstalledPlugin.objects.count() == 32
    assert PluginConfig.objects.count() == 31  # not for the invalid manifest
    with CaptureQueriesContext(connection) as queries:
        second = sync_installed_plugins(discover([plugin_root]))
    assert _writes(queries) == []
    selects = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    assert len(selects) == 3, selects  # rows, config rows, statuses
    assert second == first
    assert set(second.refused) == {"bad", "future"}


def test_bulk_sync_writes_only_what_changed_and_announces_each_change(
    plugin_root: Path, django_capture_on_commit_callbacks: Any
) -> None:
    sync_installed_plugins(discover([plugin_root]))
    before = dict(InstalledPlugin.objects.values_list("plugin_id", "updated_at"))
    write_plugin(plugin_root, "p03", version="2.0.0")
    write_plugin(plugin_root, "new")
    for path in (plugin_root / "p05").iterdir():
        path.unlink()
    (plugin_root / "p05").rmdir()
    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, signal: Any, **kwargs: Any) -> None:
        seen.append(kwargs)

    plugin_status_changed.connect(receiver, weak=False, dispatch_uid="test_sync")
    try:
        with (
            django_capture_on_commit_callbacks(execute=True),
            CaptureQueriesContext(connection) as queries,
        ):
            report = sync_installed_plugins(discover([plugin_root]))
    finally:
        plugin_status_changed.disconnect(dispatch_uid="test_sync")
    writes = _writes(queries)
    assert len(writes) == 4, writes  # one INSERT plugin, one UPDATE, one INSERT config, status
    after = {p.plugin_id: p for p in InstalledPlugin.objects.all()}
    changed = {pid for pid, at in before.items() if after[pid].updated_at != at}
    assert changed == {"p03", "p05"}
    assert after["p03"].version == "2.0.0"
    assert after["p05"].status == PluginStatus.ERROR
    assert report.missing == ("p05",)
    assert PluginConfig.objects.filter(plugin__plugin_id="new").exists()
    assert [(c["plugin_id"], c["status"]) for c in seen] == [("p05", PluginStatus.ERROR)]
