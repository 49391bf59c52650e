"""Updates from the person's side (issue 15): permission diff and per-project consent, upload
updates, downgrade, pinning, scheduled checks with badges, update-all, changelog, uninstall."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from plugins_app.base.keys import sign_bytes
from plugins_app.kernel.runtime import boot, get_runtime
from plugins_app.lifecycle.changes import changelog_between, changes_of
from plugins_app.lifecycle.consent import ConsentError, accept, pending_in
from plugins_app.lifecycle.installer import InstallError, Replacing, install, stage_archive
from plugins_app.lifecycle.updates import record_check, set_pinned, update, update_all
from plugins_app.manifest.load import load_manifest
from plugins_app.models import (
    AuditAction,
    AuditEvent,
    InstalledPlugin,
    PluginConfig,
    ProjectPlugin,
)
from plugins_app.projects.roles import grant
from plugins_app.projects.service import register_project, set_plugin_enabled
from plugins_app.sdk.errors import PermissionRefused
from plugins_app.services.provider import ServiceProvider
from tests.plugin_factory import signed_plugin, tar_of

pytestmark = pytest.mark.django_db(transaction=True)

WRITER = (
    "class Api:\n"
    "    def __init__(self, bridge):\n"
    "        self.bridge = bridge\n"
    "    def write(self, project):\n"
    "        files = self.bridge.services.get_project_manager().files(project)\n"
    "        return str(files.write_text('out.txt', 'written'))\n\n"
    "def register(bridge):\n"
    "    bridge.expose(Api(bridge))\n"
)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def project(runtime_dirs, tmp_path: Path):
    (tmp_path / "proj").mkdir()
    boot()
    return register_project("proj", tmp_path / "proj")


@pytest.fixture
def staff(runtime_dirs) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_user("op", password="pw", is_staff=True))
    return client


def archive(tmp_path: Path, key, version: str, permissions: str = "[fs_read]", **kw) -> Path:
    extra = f"permissions: {permissions}\n" + kw.pop("extra_yaml", "")
    folder = signed_plugin(
        tmp_path / f"src-{version}", "evolving", key, version=version, extra_yaml=extra, **kw
    )
    return tar_of(folder, tmp_path / f"evolving-{version}.tar.gz")


def installed() -> InstalledPlugin:
    return InstalledPlugin.objects.get(plugin_id="evolving")


def install_enabled(project, tmp_path, key, **kw) -> None:
    install(stage_archive(archive(tmp_path, key, "0.1.0", **kw)).token)
    set_plugin_enabled(project, "evolving", True)


def upgrade(tmp_path, key, version="0.2.0", permissions="[fs_read, fs_write]", **kw):
    staged = stage_archive(
        archive(tmp_path, key, version, permissions, **kw), replacing=installed()
    )
    return update(staged.token, "evolving")


def files_of(project_name: str):
    manifest = installed().typed_manifest
    services = ServiceProvider().for_plugin(manifest)
    return services.get_project_manager().files(project_name, manifest)


def test_new_permissions_are_refused_in_a_project_until_a_maintainer_accepts(
    project, tmp_path, key
) -> None:
    install_enabled(project, tmp_path, key, body=WRITER)
    upgrade(tmp_path, key, body=WRITER)
    row = ProjectPlugin.objects.get(project=project, plugin__plugin_id="evolving")
    assert row.granted_permissions == ["fs_read"]
    [waiting] = pending_in(project)
    assert [name for name, _ in waiting.permissions] == ["fs_write"]

    with pytest.raises(PermissionRefused, match="fs_write"):
        files_of("proj").write_text("out.txt", "x")
    api = get_runtime().bridge.registration("evolving").public_api
    with pytest.raises(Exception, match="fs_write"):
        api.write("proj")  # through the plugin process: the host refuses it the same way
    assert not (Path(project.root_path) / "out.txt").exists()
    assert AuditEvent.objects.filter(action=AuditAction.PERMISSION_DENIED).exists()

    assert accept(project, "evolving") == ("fs_write",)
    assert pending_in(project) == []
    api = get_runtime().bridge.registration("evolving").public_api  # restarted: new policy
    api.write("proj")
    assert (Path(project.root_path) / "out.txt").read_text() == "written"
    event = AuditEvent.objects.get(action=AuditAction.PERMISSION_GRANT)
    assert (event.before, event.detail) == ({"granted": ["fs_read"]}, "accepted: fs_write")
    with pytest.raises(ConsentError):
        accept(project, "evolving")


def test_enabling_again_grants_what_the_version_declares(project, tmp_path, key) -> None:
    install_enabled(project, tmp_path, key)
    upgrade(tmp_path, key)
    set_plugin_enabled(project, "evolving", False)
    set_plugin_enabled(project, "evolving", True)
    assert pending_in(project) == []
    assert files_of("proj").write_text("a.txt", "ok").name == "a.txt"


def test_the_kernel_policy_follows_the_grant(project, tmp_path, key) -> None:
    from plugins_app.kernel.supervisor import confinement_for

    install_enabled(project, tmp_path, key, permissions="[fs_read]")
    upgrade(tmp_path, key, permissions="[fs_read, fs_write, network_outbound]")
    root = str(Path(project.root_path).resolve())
    policy = confinement_for(installed().typed_manifest, 512)
    assert root in policy.read_paths and root not in policy.write_paths
    assert policy.allow_tcp_connect is False
    accept(project, "evolving")
    policy = confinement_for(installed().typed_manifest, 512)
    assert root in policy.write_paths
    assert policy.allow_tcp_connect is True


def test_review_page_shows_the_diff_and_the_update_needs_consent(
    staff, project, tmp_path, key
) -> None:
    install_enabled(project, tmp_path, key)
    newer = archive(tmp_path, key, "0.2.0", "[fs_read, fs_write, run_commands]")
    upload = SimpleUploadedFile(newer.name, newer.read_bytes())
    staged = staff.post(
        reverse("plugins_app:catalogue-stage"), {"source": "upload", "archive": upload}
    )
    assert staged.status_code == 302, staged
    page = staff.get(staged.url).content.decode()
    assert "Update Evolving?" in page
    assert "0.1.0 → 0.2.0" in page
    assert "+ fs_write" in page and "+ run_commands" in page
    assert 'name="consent" value="accept" required' in page

    confirm = staged.url + "confirm/"
    refused = staff.post(confirm, {"decision": "install"})
    assert refused.url == staged.url
    assert installed().version == "0.1.0"
    done = staff.post(confirm, {"decision": "install", "consent": "accept"})
    assert installed().version == "0.2.0"
    message = staff.get(done.url).content.decode()
    assert "stay refused in proj until a maintainer" in message
    assert "Permissions waiting for consent" in staff.get("/projects/proj/").content.decode()


def test_a_maintainer_accepts_on_the_project_page_a_viewer_cannot(project, tmp_path, key) -> None:
    install_enabled(project, tmp_path, key)
    upgrade(tmp_path, key)
    users = get_user_model().objects
    viewer, maintainer = users.create_user("v"), users.create_user("m")
    grant(project, viewer, "viewer")
    grant(project, maintainer, "maintainer")
    url = reverse("plugins_app:project-plugin-accept", args=["proj", "evolving"])
    as_viewer = Client()
    as_viewer.force_login(viewer)
    assert (
        "A maintainer of the project can accept"
        in as_viewer.get("/projects/proj/").content.decode()
    )
    assert as_viewer.post(url).status_code == 403
    as_maintainer = Client()
    as_maintainer.force_login(maintainer)
    assert "Accept for proj" in as_maintainer.get("/projects/proj/").content.decode()
    as_maintainer.post(url)
    assert pending_in(project) == []


def test_an_upload_of_an_installed_plugin_is_an_update_and_equal_is_refused(
    staff, project, tmp_path, key
) -> None:
    install_enabled(project, tmp_path, key)
    same = archive(tmp_path / "again", key, "0.1.0")
    answer = staff.post(
        reverse("plugins_app:catalogue-stage"),
        {"source": "upload", "archive": SimpleUploadedFile(same.name, same.read_bytes())},
    )
    page = staff.get(answer.url).content.decode()
    assert "Refused: version 0.1.0 is already installed" in page, page[page.find("alert") :][:600]


def test_downgrade_is_asked_for_and_named(staff, project, tmp_path, key) -> None:
    install_enabled(project, tmp_path, key)
    upgrade(tmp_path, key, permissions="[fs_read]")
    with pytest.raises(InstallError, match="a downgrade must be asked for"):
        stage_archive(archive(tmp_path / "old", key, "0.1.0"), replacing=installed())
    older = archive(tmp_path / "old2", key, "0.1.0")
    answer = staff.post(
        reverse("plugins_app:catalogue-stage"),
        {"source": "upload", "archive": SimpleUploadedFile(older.name, older.read_bytes())},
    )
    page = staff.get(answer.url).content.decode()
    assert "Downgrade Evolving?" in page and "Downgrade to 0.1.0" in page
    staff.post(answer.url + "confirm/", {"decision": "install"})
    assert installed().version == "0.1.0"


def test_a_downgrade_below_the_settings_schema_is_refused(project, tmp_path, key) -> None:
    install_enabled(project, tmp_path, key)
    PluginConfig.objects.update_or_create(
        plugin=installed(), defaults={"schema_version": 3, "values": {}}
    )
    plugin = InstalledPlugin.objects.get(plugin_id="evolving")
    InstalledPlugin.objects.filter(pk=plugin.pk).update(version="0.5.0")
    with pytest.raises(InstallError, match="settings are at schema version 3"):
        stage_archive(
            archive(tmp_path, key, "0.1.1"), replacing=Replacing(installed(), downgrade=True)
        )


def _index(tmp_path: Path, key, versions: dict[str, Path]) -> Path:
    items = []
    for version, path in versions.items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        items.append(
            {
                "version": version,
                "archive": str(path),
                "sha256": digest,
                "signature": sign_bytes(key, digest.encode()),
            }
        )
    index = tmp_path / "index.json"
    index.write_text(
        json.dumps(
            {"format": "jupiter-catalogue/1", "plugins": [{"id": "evolving", "versions": items}]}
        )
    )
    return index


def test_scheduled_check_badges_pinning_and_update_all(
    staff, project, tmp_path, key, settings
) -> None:
    install_enabled(project, tmp_path, key)
    same = archive(tmp_path / "c1", key, "0.1.0")
    newer = archive(tmp_path / "c2", key, "0.1.1")
    settings.JUPITER_CATALOGUES = [str(_index(tmp_path, key, {"0.1.0": same}))]
    catalogue = staff.get(reverse("plugins_app:catalogue")).content.decode()
    assert "Up to date" in catalogue and ">Update<" not in catalogue  # equal: no Update

    settings.JUPITER_CATALOGUES = [str(_index(tmp_path, key, {"0.1.0": same, "0.1.1": newer}))]
    assert [f.entry.version for f in record_check()] == ["0.1.1"]
    assert installed().available_version == "0.1.1"
    detail = staff.get(reverse("plugins_app:plugin-detail", args=["evolving"])).content.decode()
    assert "Update available" in detail
    assert 'title="1 update available">1</span>' in detail  # the Catalogue link's badge
    listing = staff.get(reverse("plugins_app:plugin-list")).content.decode()
    assert "0.1.1 available" in listing

    set_pinned("evolving", True)
    assert "0.1.1 available" not in staff.get(reverse("plugins_app:plugin-list")).content.decode()
    assert record_check() == []
    assert installed().available_version == ""
    assert update_all() == []
    assert installed().version == "0.1.0"
    assert AuditEvent.objects.filter(action=AuditAction.PIN).count() == 1

    staff.post(reverse("plugins_app:plugin-pin", args=["evolving"]), {"pinned": "0"})
    [outcome] = update_all()
    assert (outcome.version, outcome.error, outcome.waiting_consent) == ("0.1.1", "", ())
    assert installed().version == "0.1.1"


def test_update_all_leaves_updates_that_ask_for_permissions(
    project, tmp_path, key, settings
) -> None:
    install_enabled(project, tmp_path, key)
    bigger = archive(tmp_path / "c", key, "0.2.0", "[fs_read, network_outbound]")
    settings.JUPITER_CATALOGUES = [str(_index(tmp_path, key, {"0.2.0": bigger}))]
    [outcome] = update_all()
    assert outcome.waiting_consent == ("network_outbound",)
    assert installed().version == "0.1.0"


def test_changelog_between_versions_from_the_manifest_or_changelog_md(tmp_path, key) -> None:
    listed = (
        "changelog:\n  - {version: 0.3.0, changes: [three]}\n"
        "  - {version: 0.2.0, changes: [two]}\n  - {version: 0.1.0, changes: [one]}\n"
    )
    folder = signed_plugin(tmp_path / "a", "evolving", key, version="0.3.0", extra_yaml=listed)
    manifest = load_manifest(folder).manifest
    assert [e.version for e in changelog_between(manifest, "0.1.0")] == ["0.3.0", "0.2.0"]

    folder = signed_plugin(tmp_path / "b", "evolving", key, version="0.3.0")
    (folder / "CHANGELOG.md").write_text(
        "# Changelog\n\n## [0.3.0] - 2026-01-02\n- Faster\n- Safer\n\n## 0.2.0\n* Two\n\n"
        "## 0.1.0\n- First\n"
    )
    manifest = load_manifest(folder).manifest
    entries = changelog_between(manifest, "0.1.0")
    assert [(e.version, e.notes) for e in entries] == [
        ("0.3.0", ("Faster", "Safer")),
        ("0.2.0", ("Two",)),
    ]


def test_changes_name_added_and_removed_permissions(project, tmp_path, key) -> None:
    install_enabled(project, tmp_path, key, permissions="[fs_read, network_outbound]")
    folder = signed_plugin(
        tmp_path / "n", "evolving", key, version="0.2.0", extra_yaml="permissions: [fs_write]\n"
    )
    changes = changes_of(installed(), load_manifest(folder).manifest)
    assert (changes.added, changes.removed) == (("fs_write",), ("fs_read", "network_outbound"))
    assert changes.needs_consent and not changes.downgrade


def test_uninstall_asks_first(staff, project, tmp_path, key) -> None:
    install_enabled(project, tmp_path, key)
    url = reverse("plugins_app:plugin-uninstall", args=["evolving"])
    question = staff.get(url).content.decode()
    assert "Uninstall Evolving?" in question and "enabled in 1 project: proj" in question
    staff.post(url, {"settings": "keep"})  # no confirmation: asks again, removes nothing
    assert InstalledPlugin.objects.filter(plugin_id="evolving").exists()
    done = staff.post(url, {"settings": "keep", "confirm": "uninstall"})
    assert done.url == reverse("plugins_app:plugin-list")
    assert not InstalledPlugin.objects.filter(plugin_id="evolving").exists()


def test_the_command_line_update_shows_the_diff_and_downgrades_only_when_asked(
    project, tmp_path, key
) -> None:
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    install_enabled(project, tmp_path, key)
    newer = archive(tmp_path, key, "0.2.0", "[fs_read, fs_write]")
    out = StringIO()
    call_command("jupiter_plugins", "update", "evolving", "--from", str(newer), "--yes", stdout=out)
    assert "NEW permission fs_write" in out.getvalue()
    assert installed().version == "0.2.0"
    older = archive(tmp_path / "o", key, "0.1.0")
    with pytest.raises(CommandError, match="downgrade must be asked for"):
        call_command("jupiter_plugins", "update", "evolving", "--from", str(older), "--yes")
    call_command(
        "jupiter_plugins",
        "update",
        "evolving",
        "--from",
        str(older),
        "--allow-downgrade",
        "--yes",
        stdout=StringIO(),
    )
    assert installed().version == "0.1.0"
