"""Fixtures of the auto-UI tests: the probe plugin loaded and enabled in a project."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from asgiref.sync import SyncToAsync
from django.test import Client

from plugins_app.kernel.runtime import boot, get_runtime
from plugins_app.projects.service import register_project, set_plugin_enabled

FIXTURES = Path(__file__).parent.parent / "fixtures" / "plugins" / "autoui"
PROBE = "autoui_probe"


def _fresh_single_thread_executor() -> None:
    """The consumer tests here run ``database_sync_to_async`` on asgiref's class-level
    single-thread executor, whose worker thread does not survive ``fork()``: the browser
    tests' forked Daphne would queue work on it forever. Give a forked child a fresh one."""
    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)


os.register_at_fork(after_in_child=_fresh_single_thread_executor)


@pytest.fixture
def plugin_root(tmp_path: Path) -> Path:
    """A private copy of the fixture plugins (tests edit manifests and files)."""
    root = tmp_path / "plugins"
    shutil.copytree(FIXTURES, root, symlinks=True)
    return root


@pytest.fixture
def autoui_dirs(settings, plugin_root: Path, tmp_path: Path) -> Path:
    settings.JUPITER_PLUGIN_DIRS = [plugin_root]
    settings.JUPITER_LOG_DIR = tmp_path / "logs"
    return plugin_root


@pytest.fixture
def client(user) -> Client:
    """Logged in as ``user``."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def project(autoui_dirs, user, tmp_path: Path):
    """Project ``acme`` with the probe plugin enabled (so loaded in this process)."""
    boot()
    root = tmp_path / "acme"
    root.mkdir()
    project = register_project("acme", str(root), actor=user)
    set_plugin_enabled(project, PROBE, True, actor=user)
    get_runtime().reconcile()  # on-commit signals do not fire inside a test transaction
    return project
