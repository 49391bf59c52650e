"""Install, uninstall, update with rollback (SPEC MK1-MK3): refusals leave nothing behind."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from plugins_app.base.keys import sign_bytes
from plugins_app.kernel.runtime import boot, get_runtime
from plugins_app.lifecycle.installer import (
    REFUSALS,
    InstallError,
    install,
    stage_archive,
    stage_catalogue,
    stage_directory,
    uninstall,
)
from plugins_app.lifecycle.updates import UpdateFailed, check_updates, update
from plugins_app.models import (
    AuditAction,
    AuditEvent,
    InstalledPlugin,
    PluginConfig,
    PluginStatus,
    TrustLevel,
)
from plugins_app.projects.service import register_project, set_plugin_enabled
from plugins_app.trust.catalogue import find_entry, read_index
from plugins_app.trust.signing import sign_plugin, verify_plugin
from tests.plugin_factory import add_tar_member, signed_plugin, tar_of, write_plugin

pytestmark = pytest.mark.django_db(transaction=True)

SETTINGS_SCHEMA = """config_schema:
  version: {version}
  schema:
    type: object
    properties:
      {field}: {{type: string, default: hi}}
"""


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def install_dir(_install_dir) -> Path:
    return Path(_install_dir)


@pytest.fixture
def project(runtime_dirs, tmp_path: Path):
    (tmp_path / "proj").mkdir()
    boot()
    return register_project("proj", tmp_path / "proj")


def archive_of(tmp_path: Path, key, plugin_id: str, version: str = "1.0.0", **kwargs) -> Path:
    folder = signed_plugin(
        tmp_path / f"src-{plugin_id}-{version}", plugin_id, key, version=version, **kwargs
    )
    return tar_of(folder, tmp_path / f"{plugin_id}-{version}.tar.gz")


def installed(plugin_id: str) -> InstalledPlugin:
    return InstalledPlugin.objects.get(plugin_id=plugin_id)


def assert_nothing_left(install_dir: Path, plugin_id: str) -> None:
    assert not InstalledPlugin.objects.filter(plugin_id=plugin_id).exists()
    leftovers = [p for p in install_dir.rglob("*") if p.name != ".lock" and not p.is_dir()]
    assert leftovers == [], leftovers
    assert not (install_dir / plugin_id).exists()


def test_install_a_signed_archive_then_enable_it(project, tmp_path, key, install_dir) -> None:
    staged = stage_archive(
        archive_of(tmp_path, key, "greeter", extra_yaml="permissions: [fs_read]\n")
    )
    assert (staged.manifest.id, staged.trust.level) == ("greeter", TrustLevel.COMMUNITY)
    assert staged.manifest.permissions == ("fs_read",)
    plugin = install(staged.token)
    assert plugin.source_path == str(install_dir / "greeter")
    assert plugin.trust_level == TrustLevel.COMMUNITY
    assert not list((install_dir / ".staging").iterdir())
    set_plugin_enabled(project, "greeter", True)
    assert InstalledPlugin.objects.get(plugin_id="greeter").status == PluginStatus.READY
    event = AuditEvent.objects.get(action=AuditAction.INSTALL)
    assert event.plugin_id == "greeter"
    assert event.after["trust_level"] == "community"


def test_a_tampered_archive_is_refused_naming_the_file(project, tmp_path, key, install_dir) -> None:
    folder = signed_plugin(tmp_path / "src", "greeter", key)
    (folder / "main.py").write_text("import os\n")
    with pytest.raises(InstallError, match=r"file changed since signing: main\.py"):
        stage_archive(tar_of(folder, tmp_path / "g.tar.gz"))
    assert_nothing_left(install_dir, "greeter")


def test_an_unsigned_archive_is_refused_unless_allowed(
    project, tmp_path, install_dir, settings
) -> None:
    settings.JUPITER_ALLOW_UNSIGNED_LOCAL_PLUGINS = False
    archive = tar_of(write_plugin(tmp_path / "src", "loose"), tmp_path / "loose.tar.gz")
    with pytest.raises(InstallError, match="unsigned plugin refused"):
        stage_archive(archive)
    assert_nothing_left(install_dir, "loose")


def test_a_duplicate_id_is_refused(project, runtime_dirs, tmp_path, key, install_dir) -> None:
    with pytest.raises(InstallError, match="plugin 'hello' is already installed"):
        stage_archive(archive_of(tmp_path, key, "hello"))
    assert not list((install_dir / ".staging").iterdir())
    assert installed("hello").source_path == str(runtime_dirs / "hello")


def test_an_incompatible_version_is_refused(project, tmp_path, key, install_dir) -> None:
    archive = archive_of(tmp_path, key, "future", extra_yaml="jupiter_version: '>=9.0'\n")
    with pytest.raises(InstallError, match=r"incompatible: requires Jupiter >=9.0"):
        stage_archive(archive)
    assert_nothing_left(install_dir, "future")


def test_a_missing_dependency_is_refused(project, tmp_path, key, install_dir) -> None:
    archive = archive_of(tmp_path, key, "needy", extra_yaml="dependencies: {ghost: '>=1'}\n")
    with pytest.raises(InstallError, match="requires plugin 'ghost', which is not installed"):
        stage_archive(archive)
    assert_nothing_left(install_dir, "needy")


def test_a_hostile_archive_leaves_nothing_in_staging(project, tmp_path, install_dir) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        add_tar_member(tar, "evil/../../../escape.py")
    with pytest.raises(REFUSALS, match=r"'\.\.'"):
        stage_archive(archive)
    assert_nothing_left(install_dir, "evil")


def test_a_directory_is_copied_without_bytecode(project, tmp_path, key, install_dir) -> None:
    folder = signed_plugin(tmp_path / "src", "fromdir", key)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    plugin = install(stage_directory(folder).token)
    assert plugin.trust_level == TrustLevel.COMMUNITY
    assert not (install_dir / "fromdir" / "__pycache__").exists()


def test_uninstall_keeps_then_restores_settings(project, tmp_path, key, install_dir) -> None:
    schema = SETTINGS_SCHEMA.format(version=1, field="greeting")
    install(stage_archive(archive_of(tmp_path, key, "keeper", extra_yaml=schema)).token)
    PluginConfig.objects.filter(plugin__plugin_id="keeper").update(values={"greeting": "yo"})
    set_plugin_enabled(project, "keeper", True)
    assert get_runtime().bridge.registration("keeper") is not None

    uninstall("keeper", purge=False)
    assert not (install_dir / "keeper").exists()
    assert not InstalledPlugin.objects.filter(plugin_id="keeper").exists()
    assert get_runtime().bridge.registration("keeper") is None

    install(stage_archive(tmp_path / "keeper-1.0.0.tar.gz").token)
    assert PluginConfig.objects.get(plugin__plugin_id="keeper").values == {"greeting": "yo"}
    keeper = InstalledPlugin.objects.get(plugin_id="keeper")
    assert keeper.status == PluginStatus.READY, "re-enabled from the project file it was kept in"


def test_uninstall_with_purge_forgets_settings_and_project_entries(project, tmp_path, key) -> None:
    install(stage_archive(archive_of(tmp_path, key, "gone")).token)
    set_plugin_enabled(project, "gone", True)
    uninstall("gone", purge=True)
    assert "gone" not in (Path(project.root_path) / "proj.jupiter.yaml").read_text()
    install(stage_archive(tmp_path / "gone-1.0.0.tar.gz").token)
    assert InstalledPlugin.objects.get(plugin_id="gone").status == PluginStatus.DISABLED
    detail = AuditEvent.objects.filter(action=AuditAction.UNINSTALL).get().detail
    assert detail == "settings purged"


def test_bundled_and_foreign_plugins_cannot_be_uninstalled(project) -> None:
    with pytest.raises(InstallError, match="was not installed through Jupiter"):
        uninstall("hello", purge=False)
    assert InstalledPlugin.objects.filter(plugin_id="hello").exists()


def _install_enabled(project, tmp_path, key, plugin_id="evolving", **kwargs) -> None:
    install(stage_archive(archive_of(tmp_path, key, plugin_id, **kwargs)).token)
    set_plugin_enabled(project, plugin_id, True)
    assert InstalledPlugin.objects.get(plugin_id=plugin_id).status == PluginStatus.READY


def test_update_that_raises_at_import_rolls_back_to_the_old_ready_version(
    project, tmp_path, key, install_dir
) -> None:
    _install_enabled(
        project, tmp_path, key, body="def register(bridge):\n    bridge.expose('v1')\n"
    )
    broken = archive_of(
        tmp_path, key, "evolving", version="2.0.0", body="raise RuntimeError('boom')\n"
    )
    staged = stage_archive(broken, replacing=InstalledPlugin.objects.get(plugin_id="evolving"))
    with pytest.raises(UpdateFailed, match="RuntimeError: boom"):
        update(staged.token, "evolving")
    plugin = InstalledPlugin.objects.get(plugin_id="evolving")
    assert (plugin.version, plugin.status) == ("1.0.0", PluginStatus.READY)
    assert get_runtime().bridge.registration("evolving").public_api == "v1"
    assert "rolled back: RuntimeError: boom" in AuditEvent.objects.get(action="update").detail
    assert sorted(p.name for p in install_dir.iterdir() if not p.name.startswith(".")) == [
        "evolving"
    ]
    assert not [p for p in (install_dir / ".trash").iterdir()]


def test_update_migrates_settings_and_loads_the_new_version(project, tmp_path, key) -> None:
    v1 = SETTINGS_SCHEMA.format(version=1, field="greeting")
    _install_enabled(project, tmp_path, key, extra_yaml=v1)
    PluginConfig.objects.filter(plugin__plugin_id="evolving").update(values={"greeting": "yo"})
    v2 = SETTINGS_SCHEMA.format(version=2, field="salute") + (
        "  migrations:\n    - {from: 1, to: 2, entrypoint: 'main:rename'}\n"
    )
    body = (
        "def register(bridge):\n    bridge.expose('v2')\n\n"
        "def rename(old):\n    return {'salute': old.pop('greeting', 'hi')}\n"
    )
    archive = archive_of(tmp_path, key, "evolving", version="2.0.0", extra_yaml=v2, body=body)
    updated = update(stage_archive(archive, replacing=installed("evolving")).token, "evolving")
    assert (updated.version, updated.status) == ("2.0.0", PluginStatus.READY)
    config = PluginConfig.objects.get(plugin__plugin_id="evolving")
    assert (config.values, config.schema_version) == ({"salute": "yo"}, 2)
    assert get_runtime().bridge.registration("evolving").public_api == "v2"


def test_update_whose_migration_fails_is_rolled_back(project, tmp_path, key) -> None:
    _install_enabled(
        project, tmp_path, key, extra_yaml=SETTINGS_SCHEMA.format(version=1, field="a")
    )
    v2 = SETTINGS_SCHEMA.format(version=2, field="a")
    archive = archive_of(tmp_path, key, "evolving", version="2.0.0", extra_yaml=v2)
    with pytest.raises(UpdateFailed, match="no settings migration from schema version 1 to 2"):
        update(stage_archive(archive, replacing=installed("evolving")).token, "evolving")
    plugin = InstalledPlugin.objects.get(plugin_id="evolving")
    assert (plugin.version, plugin.status) == ("1.0.0", PluginStatus.READY)


def test_an_older_version_is_not_an_update(project, tmp_path, key) -> None:
    _install_enabled(project, tmp_path, key, version="1.5.0")
    plugin = InstalledPlugin.objects.get(plugin_id="evolving")
    with pytest.raises(InstallError, match=r"1\.0\.0 is older than the installed 1\.5\.0"):
        stage_archive(archive_of(tmp_path, key, "evolving"), replacing=plugin)


def _catalogue(tmp_path: Path, key, archive: Path, plugin_id: str, version: str, **entry) -> Path:
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    item = {"version": version, "archive": archive.name, "sha256": digest, **entry}
    if "signature" not in entry:
        item["signature"] = sign_bytes(key, digest.encode())
    index = tmp_path / "index.json"
    document = {"format": "jupiter-catalogue/1", "plugins": [{"id": plugin_id, "versions": [item]}]}
    index.write_text(json.dumps(document))
    return index


def test_check_updates_then_update_from_the_catalogue(project, tmp_path, key) -> None:
    _install_enabled(project, tmp_path, key)
    archive = archive_of(tmp_path, key, "evolving", version="1.1.0")
    index = _catalogue(tmp_path, key, archive, "evolving", "1.1.0")
    [available] = check_updates((str(index),))
    assert (available.plugin_id, available.installed, available.entry.version) == (
        "evolving",
        "1.0.0",
        "1.1.0",
    )
    plugin = InstalledPlugin.objects.get(plugin_id="evolving")
    assert (
        update(stage_catalogue(available.entry, replacing=plugin).token, "evolving").version
        == "1.1.0"
    )
    assert check_updates((str(index),)) == []


def test_a_catalogue_signature_by_another_key_is_refused(
    project, tmp_path, key, install_dir
) -> None:
    archive = archive_of(tmp_path, key, "catalogued")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    wrong = sign_bytes(Ed25519PrivateKey.generate(), digest.encode())
    index = _catalogue(tmp_path, key, archive, "catalogued", "1.0.0", signature=wrong)
    with pytest.raises(InstallError, match="does not match the key that signed the plugin"):
        stage_catalogue(find_entry(read_index(str(index)), "catalogued"))
    assert_nothing_left(install_dir, "catalogued")


def test_a_catalogue_archive_with_another_digest_is_refused(
    project, tmp_path, key, install_dir
) -> None:
    archive = archive_of(tmp_path, key, "catalogued")
    index = _catalogue(tmp_path, key, archive, "catalogued", "1.0.0")
    shutil.copy(archive_of(tmp_path, key, "catalogued", version="1.0.1"), archive)
    with pytest.raises(REFUSALS, match="SHA-256 is"):
        stage_catalogue(find_entry(read_index(str(index)), "catalogued"))
    assert_nothing_left(install_dir, "catalogued")


def test_resigning_a_folder_after_edits_makes_it_valid_again(tmp_path, key) -> None:
    folder = signed_plugin(tmp_path, "edited", key)
    (folder / "main.py").write_text("def register(bridge):\n    return None\n")
    sign_plugin(folder, key, "edited", "1.0.0")
    assert verify_plugin(folder).file_count == 2
