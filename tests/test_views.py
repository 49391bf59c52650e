"""Console views: login, plugin list/detail/JSON, project registration, toggles, conflicts."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from plugins_app.manifest.model import Author, Dependency, Manifest
from plugins_app.models import AuditEvent, InstalledPlugin, Project, ProjectPlugin
from plugins_app.projects.projectfile import read_project_file
from plugins_app.projects.service import project_file_path, register_project

HOSTILE = "<script>alert('x')</script>"
HTMX = {"HTTP_HX_REQUEST": "true"}
SCANNER = Manifest(
    id="scanner",
    name="Scanner",
    version="1.2.0",
    kind="system",
    entrypoints={"register": "plugin:register"},
    root=Path("/plugins/scanner"),
    permissions=("fs_read", "emit_events"),
    dependencies=(Dependency("graph", ">=1.0", optional=True),),
    author=Author("Ada", "ada@example.org", "https://a.example"),
    license="MIT",
    homepage="https://scanner.example/docs",
    jupiter_version=">=1.0,<2.0",
    changelog=("1.2.0: faster walks",),
)
BROKEN = Manifest(
    id="broken",
    name="Broken tool",
    version="0.1",
    kind="tool",
    entrypoints={"on_scan": "plugin:on_scan"},
    root=Path("/plugins/broken"),
    homepage="javascript:alert(1)",
)

_WRITES = {"INSERT", "UPDATE", "DELETE", "REPLACE"}


@pytest.fixture
def client(user) -> Client:
    """Logged in as ``user``."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff_client(user) -> Client:
    """Logged in as ``user`` made staff: registering projects administers the installation."""
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def plugins(db) -> dict[str, InstalledPlugin]:
    """A healthy system plugin, a failing legacy tool and a core row (never shown as toggle)."""
    return {
        "scanner": InstalledPlugin.objects.create(
            plugin_id="scanner",
            name="Scanner",
            version="1.2.0",
            kind="system",
            status="ready",
            trust_level="official",
            manifest=SCANNER.to_snapshot(),
            warnings=["unknown section 'monitoring' ignored"],
        ),
        "broken": InstalledPlugin.objects.create(
            plugin_id="broken",
            name="Broken tool",
            version="0.1",
            kind="tool",
            status="error",
            status_reason="ImportError: no module named 'missing'",
            legacy=True,
            trust_level="unsigned",
            manifest=BROKEN.to_snapshot(),
        ),
        "bridge": InstalledPlugin.objects.create(
            plugin_id="bridge", name="Bridge", kind="core", status="ready"
        ),
    }


@pytest.fixture
def project(tmp_path: Path, user, plugins) -> Project:
    root = tmp_path / "demo"
    root.mkdir()
    return register_project("demo", str(root), actor=user)


def _csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _token(client: Client, url: str) -> str:
    """The token the page puts in ``hx-headers`` on <body>, as HTMX sends it."""
    html = client.get(url).content.decode()
    match = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', html)
    assert match, "the page must carry the CSRF token for HTMX"
    return match.group(1)


def _toggle_url(project: Project, plugin_id: str) -> str:
    return reverse("plugins_app:project-plugin-toggle", args=[project.name, plugin_id])


def _hand_edit(project: Project, text: str) -> None:
    project_file_path(project).write_text(text, encoding="utf-8")


def _import_url(project: Project) -> str:
    return reverse("plugins_app:project-import", args=[project.name])


# --- login -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["/", "/plugins/", "/plugins/scanner/", "/plugins.json", "/api/plugins", "/projects/"],
)
def test_pages_require_login(db, url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_login_page_is_public_and_has_no_inline_script(db) -> None:
    html = Client().get("/login/").content.decode()
    assert "Log in to Jupiter" in html
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    assert "<style" not in html


def test_login_lands_on_plugins(user) -> None:
    response = Client().post("/login/", {"username": "ada", "password": "pw-ada-123"})
    assert response["Location"] == reverse("plugins_app:plugin-list")


def test_nav_shows_admin_to_staff_only(client, user) -> None:
    assert "/admin/" not in client.get("/plugins/").content.decode()
    user.is_staff = True
    user.save()
    assert 'href="/admin/"' in client.get("/plugins/").content.decode()


def test_logout_is_a_post_form(client) -> None:
    html = client.get("/plugins/").content.decode()
    assert re.search(r'<form class="account" method="post" action="/logout/">', html)


# --- plugins ---------------------------------------------------------------------------


def test_plugin_list_shows_status_reason_and_badges(client, plugins, project) -> None:
    ProjectPlugin.objects.create(project=project, plugin=plugins["scanner"], enabled=True)
    html = client.get("/plugins/").content.decode()
    assert "Jupiter core" in html and "Settings update" in html
    assert 'id="category-system"' in html and 'id="category-tool"' in html
    assert 'class="status status-ready"' in html
    assert 'id="plugin-broken" class="is-error"' in html
    assert "ImportError: no module named &#x27;missing&#x27;" in html
    assert "Dev / Unsigned" in html and "Legacy" in html and "Official" in html
    assert '<li class="perm">emit_events</li>' in html
    assert 'href="/projects/demo/">demo</a>' in html
    assert 'href="/plugins/bridge/"' not in html  # core: part of Jupiter, no toggle page


def test_root_is_the_plugin_list(client, plugins) -> None:
    assert client.get("/").templates[0].name == "plugins_app/plugin_list.html"


@pytest.mark.parametrize("url", ["/plugins.json", "/api/plugins"])
def test_plugins_json(client, plugins, project, url: str) -> None:
    ProjectPlugin.objects.create(project=project, plugin=plugins["scanner"], enabled=True)
    data = client.get(url).json()
    by_id = {p["id"]: p for p in data["plugins"]}
    assert set(by_id) == {"scanner", "broken"}
    assert by_id["broken"] == {
        "id": "broken",
        "name": "Broken tool",
        "version": "0.1",
        "kind": "tool",
        "status": "error",
        "reason": "ImportError: no module named 'missing'",
        "legacy": True,
        "trust_level": "unsigned",
        "permissions": [],
        "warnings": [],
        "enabled_projects": [],
    }
    assert by_id["scanner"]["enabled_projects"] == ["demo"]
    assert by_id["scanner"]["permissions"] == ["fs_read", "emit_events"]
    assert [c["id"] for c in data["core"]] == ["bridge", "settings_update"]


def test_plugin_detail_shows_manifest_facts(client, plugins, project) -> None:
    html = client.get("/plugins/scanner/").content.decode()
    assert "Read files inside the project" in html  # fs_read, described before enabling
    assert "Custom permission" in html  # emit_events kept and shown (M7)
    assert 'href="https://scanner.example/docs" rel="noopener noreferrer nofollow"' in html
    assert "&gt;=1.0,&lt;2.0" in html
    assert "<code>graph</code>" in html and "(optional)" in html
    assert "unknown section &#x27;monitoring&#x27; ignored" in html
    assert "1.2.0: faster walks" in html
    assert 'aria-label="Enable Scanner in demo"' in html


def test_plugin_detail_never_links_a_javascript_homepage(client, plugins) -> None:
    html = client.get("/plugins/broken/").content.decode()
    assert "javascript:alert(1)" in html
    assert 'href="javascript:' not in html


def test_a_plugin_whose_manifest_is_unreadable_still_has_its_pages(client, plugins) -> None:
    InstalledPlugin.objects.filter(plugin_id="broken").update(manifest={})
    html = client.get("/plugins/broken/").content.decode()
    assert "Broken tool" in html and "javascript:" not in html
    for name in ("plugin-contributions", "plugin-metrics-card"):
        assert client.get(reverse(f"plugins_app:{name}", args=["broken"])).status_code == 200


def test_core_and_unknown_plugins_have_no_detail_page(client, plugins) -> None:
    assert client.get("/plugins/bridge/").status_code == 404
    assert client.get("/plugins/nope/").status_code == 404


def test_plugin_provided_text_is_escaped(client, plugins, project) -> None:
    InstalledPlugin.objects.filter(plugin_id="broken").update(
        name=HOSTILE,
        description=HOSTILE,
        status_reason=HOSTILE,
        version=HOSTILE,
        warnings=[HOSTILE],
        manifest=dataclasses.replace(
            BROKEN, permissions=(HOSTILE,), license=HOSTILE, changelog=HOSTILE
        ).to_snapshot(),
    )
    for url in ("/plugins/", "/plugins/broken/", "/projects/demo/"):
        html = client.get(url).content.decode()
        assert HOSTILE not in html, url
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html, url


# --- toggles ---------------------------------------------------------------------------


def test_toggle_requires_csrf_token_even_for_htmx(user, project) -> None:
    client = _csrf_client(user)
    url = _toggle_url(project, "scanner")
    assert client.post(url, {"enabled": "true"}, **HTMX).status_code == 403
    token = _token(client, "/projects/demo/")
    response = client.post(url, {"enabled": "true"}, HTTP_X_CSRFTOKEN=token, **HTMX)
    assert response.status_code == 200


def test_htmx_toggle_swaps_the_row_and_writes_the_file(client, project) -> None:
    response = client.post(_toggle_url(project, "scanner"), {"enabled": "true"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<tr id="project-plugin-scanner"')
    assert 'aria-label="Disable Scanner in demo"' in html
    assert "HX-Request" in response["Vary"]
    assert read_project_file(project_file_path(project)).plugins["scanner"].enabled

    response = client.post(_toggle_url(project, "scanner"), {"enabled": "false"}, **HTMX)
    assert 'aria-label="Enable Scanner in demo"' in response.content.decode()
    assert not read_project_file(project_file_path(project)).plugins["scanner"].enabled


def test_toggle_from_plugin_page_refreshes_status_out_of_band(client, project) -> None:
    url = reverse("plugins_app:plugin-project-toggle", args=["scanner", "demo"])
    html = client.post(url, {"enabled": "true"}, **HTMX).content.decode()
    assert html.lstrip().startswith('<tr id="plugin-project-demo"')
    assert 'id="plugin-status-scanner" hx-swap-oob="true"' in html


def test_toggle_without_htmx_redirects_back(client, project) -> None:
    response = client.post(_toggle_url(project, "scanner"), {"enabled": "true"})
    assert response.status_code == 302
    assert response["Location"] == "/projects/demo/"


def test_toggle_is_post_only_and_validates_input(client, project) -> None:
    assert client.get(_toggle_url(project, "scanner")).status_code == 405
    assert client.post(_toggle_url(project, "scanner"), {"enabled": "yes"}).status_code == 400
    assert client.post(_toggle_url(project, "bridge"), {"enabled": "true"}).status_code == 404


@pytest.fixture
def live_plugin_dir(tmp_path: Path, settings) -> Iterator[Path]:
    """A real, loadable plugin and a runtime booted on it; torn down so no state leaks."""
    from plugins_app.kernel.runtime import boot, reset_runtime

    plugin = tmp_path / "plugins" / "probe"
    plugin.mkdir(parents=True)
    (plugin / "plugin.yaml").write_text(
        "id: probe\nname: Probe\nversion: 1.0.0\ntype: tool\nentrypoint: 'probe:register'\n"
    )
    (plugin / "probe.py").write_text("def register(bridge):\n    pass\n")
    settings.JUPITER_PLUGIN_DIRS = [tmp_path / "plugins"]
    reset_runtime()
    boot()
    yield plugin
    reset_runtime()


def test_enabling_loads_the_plugin_and_the_row_shows_ready(
    transactional_db, live_plugin_dir: Path, tmp_path: Path
) -> None:
    user = get_user_model().objects.create_user("bob", password="pw-bob-123")
    client = Client()
    client.force_login(user)
    (tmp_path / "live").mkdir()
    project = register_project("live", str(tmp_path / "live"), actor=user)
    assert InstalledPlugin.objects.get(plugin_id="probe").status == "disabled"

    html = client.post(_toggle_url(project, "probe"), {"enabled": "true"}, **HTMX)
    assert 'class="status status-ready"' in html.content.decode()


# --- projects --------------------------------------------------------------------------


def test_register_project_shows_inline_errors(staff_client, tmp_path: Path) -> None:
    client = staff_client
    cases = {
        ("demo", "relative/path"): "must be an absolute path",
        ("demo", str(tmp_path / "missing")): "does not exist",
        ("not a slug", str(tmp_path)): "use only letters, digits",
        ("", str(tmp_path)): "This field is required.",
    }
    for (name, root), message in cases.items():
        response = client.post("/projects/", {"name": name, "root_path": root}, **HTMX)
        html = response.content.decode()
        assert response.status_code == 422
        assert html.lstrip().startswith('<form id="project-form"'), "a partial, not a page"
        assert message in html
        assert 'class="field has-error"' in html
    assert not Project.objects.exists()


def test_register_project_without_htmx_rerenders_the_page(staff_client) -> None:
    client = staff_client
    response = client.post("/projects/", {"name": "demo", "root_path": "rel"})
    assert response.status_code == 422
    assert "<html" in response.content.decode()
    assert "must be an absolute path" in response.content.decode()


def test_register_project_redirects_to_it(staff_client, tmp_path: Path) -> None:
    client = staff_client
    response = client.post("/projects/", {"name": "demo", "root_path": str(tmp_path)}, **HTMX)
    assert response["HX-Redirect"] == "/projects/demo/"
    assert project_file_path(Project.objects.get(name="demo")).exists()
    assert "HX-Request" in response["Vary"]


def test_project_pages(client, project) -> None:
    html = client.get("/projects/").content.decode()
    assert 'href="/projects/demo/">demo</a>' in html
    html = client.get("/projects/demo/").content.decode()
    assert "demo.jupiter.yaml" in html and "In sync with the console." in html
    assert 'id="project-plugin-scanner"' in html and 'id="project-plugin-broken"' in html
    assert 'id="project-plugin-bridge"' not in html


def test_project_page_shows_hand_edits_and_imports_them_on_a_click(client, project) -> None:
    _hand_edit(project, "plugins:\n  scanner: {enabled: true}\n  elsewhere: {enabled: true}\n")
    html = client.get("/projects/demo/").content.decode()
    assert "Edited by hand since Jupiter last read it: not imported yet." in html
    assert ">Import hand edits</button>" in html
    assert 'aria-label="Enable Scanner in demo"' in html
    assert not ProjectPlugin.objects.exists()

    response = client.post(_import_url(project), follow=True)
    html = response.content.decode()
    assert response.redirect_chain == [("/projects/demo/", 302)]
    assert "Hand edits were imported just now." in html
    assert "not installed here: elsewhere" in html
    assert 'aria-label="Disable Scanner in demo"' in html
    assert "In sync with the console." in html and "Import hand edits" not in html


def test_htmx_import_refreshes_the_page_and_records_who_clicked(client, user, project) -> None:
    _hand_edit(project, "plugins:\n  scanner: {enabled: true}\n")
    response = client.post(_import_url(project), **HTMX)
    assert response["HX-Refresh"] == "true"
    assert ProjectPlugin.objects.get(plugin__plugin_id="scanner").enabled
    assert AuditEvent.objects.latest("id").actor == user
    html = client.get("/projects/demo/").content.decode()
    assert "Hand edits were imported just now." in html


def test_import_with_nothing_to_import_says_so(client, project) -> None:
    html = client.post(_import_url(project), follow=True).content.decode()
    assert "Nothing to import: the file already matches the console." in html


def test_import_is_post_only_and_needs_the_csrf_token(user, project) -> None:
    _hand_edit(project, "plugins:\n  scanner: {enabled: true}\n")
    client = _csrf_client(user)
    assert client.get(_import_url(project)).status_code == 405
    assert client.post(_import_url(project), **HTMX).status_code == 403
    assert not ProjectPlugin.objects.exists()
    token = _token(client, "/projects/demo/")
    response = client.post(_import_url(project), HTTP_X_CSRFTOKEN=token, **HTMX)
    assert response["HX-Refresh"] == "true"
    assert ProjectPlugin.objects.get(plugin__plugin_id="scanner").enabled


def test_project_page_reports_a_broken_file(client, project) -> None:
    _hand_edit(project, "plugins: [1, 2]\n")
    html = client.get("/projects/demo/").content.decode()
    assert "Cannot be used: plugins must be a mapping" in html
    assert "Import hand edits" not in html
    html = client.post(_import_url(project), follow=True).content.decode()
    assert "demo.jupiter.yaml was not imported: plugins must be a mapping" in html


@pytest.mark.parametrize(
    "url", ["/plugins/", "/plugins/scanner/", "/plugins.json", "/projects/", "/projects/demo/"]
)
def test_pages_never_write_nor_load_plugins_after_a_hand_edit(
    client, project, url: str, django_capture_on_commit_callbacks
) -> None:
    """Importing the edit would enable plugins, and so load their code, inside the GET."""
    _hand_edit(project, "plugins:\n  scanner: {enabled: true}\n  broken: {enabled: true}\n")
    audit_before = AuditEvent.objects.count()
    with (
        django_capture_on_commit_callbacks() as on_commit,
        CaptureQueriesContext(connection) as queries,
    ):
        assert client.get(url).status_code == 200
    writes = [q["sql"] for q in queries if q["sql"].lstrip().split()[0].upper() in _WRITES]
    assert writes == []
    assert on_commit == [], "no project_plugins_changed (which loads plugins) is queued"
    assert not ProjectPlugin.objects.exists()
    assert AuditEvent.objects.count() == audit_before
    assert Project.objects.get(pk=project.pk).file_hash == project.file_hash


def test_conflict_banner_shows_and_nothing_is_written(client, project) -> None:
    client.get("/projects/demo/")  # the page is shown, then the file is edited by hand
    edited = "plugins:\n  scanner: {enabled: false}\n  broken: {enabled: true}\n"
    _hand_edit(project, edited)
    response = client.post(_toggle_url(project, "scanner"), {"enabled": "true"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 409
    assert response["HX-Retarget"] == "#project-conflict"
    assert response["HX-Reswap"] == "innerHTML"
    assert "demo.jupiter.yaml was edited by hand" in html
    assert "Use the file's version" in html and "Keep the console's version" in html
    assert project_file_path(project).read_text() == edited
    assert not ProjectPlugin.objects.filter(enabled=True).exists()


def test_conflict_without_htmx_renders_the_project_page_with_the_banner(client, project) -> None:
    _hand_edit(project, "plugins:\n  scanner: {enabled: true}\n")
    response = client.post(_toggle_url(project, "broken"), {"enabled": "true"})
    html = response.content.decode()
    assert response.status_code == 409
    assert "was edited by hand" in html
    assert "Import hand edits" not in html, "the banner offers the choice, not a second button"


def test_resolve_conflict_keeping_the_console(client, project) -> None:
    _hand_edit(project, "plugins:\n  scanner: {enabled: true}\n")
    url = reverse("plugins_app:project-resolve-conflict", args=["demo"])
    response = client.post(url, {"keep": "console"}, **HTMX)
    assert response["HX-Refresh"] == "true"
    assert "scanner" not in read_project_file(project_file_path(project)).plugins


def test_resolve_conflict_keeping_the_file(client, project) -> None:
    _hand_edit(project, "plugins:\n  scanner: {enabled: true}\n")
    url = reverse("plugins_app:project-resolve-conflict", args=["demo"])
    response = client.post(url, {"keep": "file"})
    assert response["Location"] == "/projects/demo/"
    assert ProjectPlugin.objects.get(plugin__plugin_id="scanner").enabled


def test_resolve_conflict_with_an_unreadable_file_explains_why(client, project) -> None:
    _hand_edit(project, "plugins: [oops]\n")
    url = reverse("plugins_app:project-resolve-conflict", args=["demo"])
    response = client.post(url, {"keep": "file"}, **HTMX)
    assert response.status_code == 409
    assert "cannot be used" in response.content.decode()
    assert client.post(url, {"keep": "both"}).status_code == 400
