"""Browser tests: a real Daphne serving the real ASGI app, driven by Debian's chromium.

The server is Daphne's own test process (``daphne.testing.DaphneProcess``, what
``channels.testing.ChannelsLiveServerTestCase`` runs), started per test: it forks after the
test database and the plugin folder are set up, so it boots its plugin runtime from a clean
slate and shares the file-backed SQLite test database with the test. Static files come from
the app itself (WhiteNoise), as in production: no wrapper hides a missing asset.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from channels.routing import get_default_application
from daphne.testing import DaphneProcess
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import override_settings

from plugins_app.jobs.api import executor
from plugins_app.kernel.runtime import boot

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "pw-e2e-123"  # a test account in a throwaway database

# Plugins owned by these tests, so they never depend on what is bundled in plugins/.
PLUGINS = {
    "e2e_probe": {
        "plugin.yaml": (
            "id: e2e_probe\n"
            "name: E2E probe\n"
            "version: 1.0.0\n"
            "type: tool\n"
            "description: A small, well-behaved plugin the browser tests enable.\n"
            "permissions: [fs_read]\n"
            "entrypoint: 'probe:register'\n"
        ),
        "probe.py": "def register(bridge):\n    pass\n",
    },
    "e2e_sync": {
        "plugin.yaml": (
            "id: e2e_sync\n"
            "name: E2E sync\n"
            "version: 0.4.0\n"
            "type: system\n"
            "description: A system plugin nobody enables.\n"
            "entrypoint: 'sync:register'\n"
        ),
        "sync.py": "def register(bridge):\n    pass\n",
    },
    "e2e_broken": {"plugin.yaml": "id: e2e_broken\nname: [not, a, name]\nversion: 1\n"},
}


def _application():
    """Module-level so the forked server can build the app itself (runs ``boot()``)."""
    return get_default_application()


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    """Playwright's sync API keeps an event loop running in this thread while a browser is
    open; the ORM calls tests make between browser steps are still plain synchronous code.

    Set for these tests only (autouse: set up first, torn down last, after the browser
    closed and the database was flushed), so other tests keep Django's async-safety check.
    """
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("e2e-plugins")
    for plugin_id, files in PLUGINS.items():
        (root / plugin_id).mkdir()
        for name, text in files.items():
            (root / plugin_id / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def live_server_url(transactional_db: None, django_db_blocker, plugin_dir: Path) -> Iterator[str]:
    """Start Daphne on a free port for one test; the database is flushed after it."""
    with override_settings(JUPITER_PLUGIN_DIRS=[plugin_dir]):
        connections.close_all()  # never share an open SQLite handle with the fork
        process = DaphneProcess("127.0.0.1", _application)
        with django_db_blocker.unblock():  # the child inherits DB access at fork time
            process.start()
        if not process.ready.wait(timeout=30):
            process.terminate()
            error = "" if process.errors.empty() else process.errors.get()[1]
            raise RuntimeError(f"Daphne did not start:\n{error}")
        with django_db_blocker.unblock():  # jobs run in a worker, as beside a real server
            boot()
            executor()
        try:
            yield f"http://127.0.0.1:{process.port.value}"
        finally:
            process.terminate()
            process.join(timeout=10)


@pytest.fixture
def browser() -> Iterator:
    """One browser per test: Playwright's loop must not outlive ``_orm_beside_playwright``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _is_problem(message) -> bool:
    """Console errors, minus Chromium's line for every 4xx answer: 409/422 are expected here."""
    return message.type == "error" and not message.text.startswith("Failed to load resource")


@pytest.fixture
def page(browser, live_server_url: str) -> Iterator:
    """A fresh page, closed before the server stops so no poll ever hits a dead server."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"JS error: {exc}"))
    page.on("console", lambda msg: _is_problem(msg) and problems.append(msg.text))
    page.on(
        "response",
        lambda r: (
            "/static/" in r.url and r.status >= 400 and problems.append(f"{r.status} {r.url}")
        ),
    )
    yield page
    context.close()
    assert not problems, f"broken page (CSP violation, script error or missing asset): {problems}"


@pytest.fixture
def user(transactional_db: None):
    return get_user_model().objects.create_user("e2e", password=PASSWORD)


@pytest.fixture
def staff(user):
    """The e2e user made staff (installs, updates, trust decisions)."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def logged_in(page, live_server_url: str, user):
    """A page with a session, obtained through the real login form."""
    page.goto(f"{live_server_url}/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server_url}/plugins/")
    return page
