"""Issue 16 part 1: fresh-token saves never lose an update (SPEC X7).

100 clients each read a settings form and save ``counter + 1`` with the token they were
given, concurrently, through the console (each thread its own database connection, against
the file-backed test database). The token and the values come from one read and the save is
a conditional UPDATE, so the counter rises by exactly the number of saves answered 200; the
others are answered 409 and change nothing.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import reverse

from plugins_app.manifest.load import load_manifest
from plugins_app.models import InstalledPlugin, PluginConfig, ProjectPlugin
from plugins_app.projects.projectfile import read_project_file
from plugins_app.projects.service import project_file_path, register_project

from .plugin_factory import write_plugin

CLIENTS = 100
HTMX = {"HTTP_HX_REQUEST": "true"}
SCHEMA = """config_schema:
  version: 1
  schema:
    type: object
    properties:
      counter: {type: integer, default: 0}
"""


@pytest.fixture
def counter_plugin(tmp_path: Path) -> InstalledPlugin:
    folder = write_plugin(tmp_path / "plugins", "counter", extra_yaml=SCHEMA)
    manifest = load_manifest(folder).manifest
    assert manifest is not None
    return InstalledPlugin.objects.create(
        plugin_id="counter", name="Counter", manifest=manifest.to_snapshot()
    )


def _increment_concurrently(url: str) -> Counter[int]:
    """Every client reads the form, then all save ``counter + 1`` at once."""
    # Staff: global settings are for staff, and staff may operate every project.
    user = get_user_model().objects.create_user("racer", password="pw-racer-123", is_staff=True)
    barrier, statuses, lock = threading.Barrier(CLIENTS), Counter[int](), threading.Lock()

    def client_run() -> None:
        try:
            client = Client()
            client.force_login(user)
            barrier.wait(60)
            html = client.get(url, **HTMX).content.decode()
            token = re.search(r'name="token" value="([^"]*)"', html)
            value = re.search(r'name="cfg\.counter"[^>]*value="(\d+)"', html)
            assert token and value, html
            response = client.post(
                url, {"token": token[1], "cfg.counter": str(int(value[1]) + 1)}, **HTMX
            )
            status = response.status_code
        except Exception:  # any failure is an outcome the test reports
            status = -1
        finally:
            connection.close()
        with lock:
            statuses[status] += 1

    threads = [threading.Thread(target=client_run) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return statuses


@pytest.mark.django_db(transaction=True)
def test_global_fresh_token_increments_are_never_lost(counter_plugin):
    PluginConfig.objects.create(plugin=counter_plugin, values={"counter": 0})
    statuses = _increment_concurrently(reverse("plugins_app:plugin-settings", args=["counter"]))
    assert set(statuses) <= {200, 409}, statuses
    assert statuses[200] >= 1
    stored = PluginConfig.objects.get(plugin=counter_plugin)
    assert stored.values["counter"] == statuses[200] == stored.revision


@pytest.mark.django_db(transaction=True)
def test_project_fresh_token_increments_are_never_lost(counter_plugin, tmp_path: Path):
    root = tmp_path / "acme"
    root.mkdir()
    project = register_project("acme", root)
    url = reverse("plugins_app:project-plugin-settings", args=["acme", "counter"])
    statuses = _increment_concurrently(url)
    assert set(statuses) <= {200, 409}, statuses
    assert statuses[200] >= 1
    row = ProjectPlugin.objects.get(project=project, plugin=counter_plugin)
    assert row.overrides.get("counter", 0) == statuses[200] == row.revision
    on_disk = read_project_file(project_file_path(project)).plugins["counter"]
    assert on_disk.overrides == row.overrides  # the file was rewritten in the same step
