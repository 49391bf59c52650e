"""Shared fixtures. Browser fixtures live in tests/e2e/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

RUNTIME_FIXTURES = Path(__file__).parent / "fixtures" / "plugins" / "runtime"


@pytest.fixture(autouse=True)
def _fresh_runtime():
    """Every test starts and ends with no plugin loaded in this process."""
    from plugins_app.kernel.runtime import reset_runtime

    reset_runtime()
    yield
    reset_runtime()


@pytest.fixture(autouse=True)
def _install_dir(settings, tmp_path_factory):
    """Plugins installed by a test land in a folder of its own, never in the shared var/."""
    settings.JUPITER_INSTALL_DIR = tmp_path_factory.mktemp("installed-plugins")
    return settings.JUPITER_INSTALL_DIR


@pytest.fixture(autouse=True)
def _project_roots(settings, tmp_path_factory):
    """Projects registered by a test live in its tmp folders: allow those (and only those)."""
    settings.JUPITER_PROJECT_ROOTS = [tmp_path_factory.getbasetemp()]
    return settings.JUPITER_PROJECT_ROOTS


@pytest.fixture
def runtime_dirs(settings):
    """Point discovery at the test plugins (good, hostile and odd ones) only."""
    settings.JUPITER_PLUGIN_DIRS = [RUNTIME_FIXTURES]
    return RUNTIME_FIXTURES


@pytest.fixture
def user(db):
    """An ordinary (non-staff) console user."""
    return get_user_model().objects.create_user("ada", password="pw-ada-123")


@pytest.fixture
def job_worker():
    """A worker inside the test process (web processes only enqueue; workers run jobs).

    Jobs then run on its threads and in the plugins' processes, as in ``jupiter_worker``.
    """
    from plugins_app.jobs.api import executor

    return executor()


@pytest.fixture(autouse=True)
def _empty_cache():
    """Cached page fragments never leak from one test into another (ids are reused)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
