"""One storage-fault scenario against a Jupiter whose var/ is ``argv[1]`` (a tmpfs mount).

Run by ``tests/test_storage_faults.py`` and ``bench/faults.py`` in a child process, because
the database lives in var/ and settings read ``JUPITER_VAR_DIR`` once. ``argv[2]`` is the
fault: ``full`` (the mount filled to its last byte) or ``readonly`` (remounted read-only).
Prints one JSON object: every request made during the fault with its status and whether the
answer named the problem, and what was stored after recovery.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

VAR, FAULT = Path(sys.argv[1]), sys.argv[2]
os.environ["JUPITER_VAR_DIR"] = str(VAR)
# The project below is made in the temp folder, which projects may not live in by default.
os.environ["JUPITER_PROJECT_ROOTS"] = tempfile.gettempdir()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jupiter_site.settings")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402

from plugins_app.logs.hub import close_hub, get_hub, plugin_logger  # noqa: E402
from plugins_app.manifest.load import load_manifest  # noqa: E402
from plugins_app.models import InstalledPlugin, PluginConfig, Project, ProjectPlugin  # noqa: E402
from plugins_app.projects.service import register_project, sync_from_file  # noqa: E402

HTMX = {"HTTP_HX_REQUEST": "true"}
PASSWORD = "pw-admin-123"
WORDS = ("disk is full", "read-only", "cannot be opened", "quota", "may not write")


def _setup() -> Client:
    call_command("migrate", verbosity=0)
    get_user_model().objects.create_superuser("admin", "a@example.org", PASSWORD)
    plugins = Path(tempfile.mkdtemp(prefix="jupiter-fault-plugins-"))
    folder = plugins / "counter"
    folder.mkdir()
    (folder / "plugin.yaml").write_text(
        "id: counter\nname: Counter\nversion: 1.0.0\ntype: tool\nentrypoint: 'main:register'\n"
        "config_schema:\n  version: 1\n  schema:\n    type: object\n    properties:\n"
        "      counter: {type: integer, default: 0}\n"
    )
    (folder / "main.py").write_text("def register(bridge):\n    pass\n")
    manifest = load_manifest(folder).manifest
    assert manifest is not None
    plugin = InstalledPlugin.objects.create(
        plugin_id="counter", name="Counter", manifest=manifest.to_snapshot()
    )
    PluginConfig.objects.create(plugin=plugin, values={"counter": 0})
    register_project("acme", Path(tempfile.mkdtemp(prefix="jupiter-fault-project-")))
    plugin_logger("counter").info("before the fault")
    get_hub().drain()
    client = Client(SERVER_NAME="localhost", raise_request_exception=False)
    client.force_login(get_user_model().objects.get(username="admin"))
    return client


def _fill(path: Path) -> None:
    # Unbuffered: a buffered file would raise ENOSPC again when it is closed.
    with open(path / "filler", "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
        except OSError:
            pass
    with open(path / "filler-small", "wb", buffering=0) as small:
        try:
            while True:
                small.write(b"\0")
        except OSError:
            pass


def _fault(on: bool) -> None:
    connections.close_all()
    if FAULT == "full":
        if on:
            _fill(VAR)
        else:
            (VAR / "filler").unlink()
            (VAR / "filler-small").unlink()
    else:
        close_hub()  # files open for writing make the mount "busy"
        mode = "remount,ro" if on else "remount,rw"
        subprocess.run(["mount", "-o", mode, str(VAR)], check=True)


def _token(client: Client, url: str) -> str:
    html = client.get(url, **HTMX).content.decode()
    return html.split('name="token" value="', 1)[1].split('"', 1)[0] if "token" in html else "0"


def main() -> None:
    client = _setup()
    settings_url = "/plugins/counter/settings/"
    token = _token(client, settings_url)
    _fault(True)
    requests = []

    def record(name: str, response: object) -> None:
        body = response.content.decode(errors="replace").lower()  # type: ignore[attr-defined]
        status = response.status_code  # type: ignore[attr-defined]
        requests.append(
            {"name": name, "status": status, "explained": any(w in body for w in WORDS)}
        )

    record("save settings", client.post(settings_url, {"token": token, "cfg.counter": "5"}, **HTMX))
    record("enable", client.post("/projects/acme/plugins/counter/", {"enabled": "true"}, **HTMX))
    for page in ("/", "/projects/", "/projects/acme/", "/plugins/counter/", "/jobs/", "/audit/"):
        record(f"GET {page}", client.get(page))
    record("GET settings form", client.get(settings_url, **HTMX))
    record("GET storage status", client.get("/status/storage/"))
    record(
        "login",
        Client(SERVER_NAME="localhost", raise_request_exception=False).post(
            "/login/", {"username": "admin", "password": PASSWORD}
        ),
    )
    plugin_logger("counter").info("during the fault")
    get_hub().drain()
    _fault(False)
    project = Project.objects.get(name="acme")
    sync_from_file(project)
    after = client.post(
        settings_url, {"token": _token(client, settings_url), "cfg.counter": "7"}, **HTMX
    )
    stored = PluginConfig.objects.get(plugin__plugin_id="counter").values
    enabled = ProjectPlugin.objects.filter(project=project, enabled=True).exists()
    status_page = client.get("/status/storage/")
    print(
        json.dumps(
            {
                "requests": requests,
                "save_after_recovery": after.status_code,
                "stored_after_recovery": stored,
                "failed_enable_came_back": enabled,
                "status_page_after_recovery": status_page.status_code,
            }
        )
    )


main()
