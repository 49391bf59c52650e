"""Signatures and the trust policy (SPEC X2): verify at sync and at every load."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from plugins_app.base.keys import KeyFileError, generate_keypair, load_private_key, public_key_text
from plugins_app.kernel.runtime import boot
from plugins_app.models import InstalledPlugin, PluginStatus, TrustedKey, TrustLevel
from plugins_app.projects.service import register_project, set_plugin_enabled
from plugins_app.trust.policy import assess
from plugins_app.trust.signing import SIGNATURE_FILENAME, SignatureError, sign_plugin, verify_plugin
from tests.plugin_factory import signed_plugin, write_plugin


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def signed(tmp_path: Path, key) -> Path:
    folder = signed_plugin(tmp_path / "src", "signed_one", key)
    (folder / "lib").mkdir()
    (folder / "lib" / "helpers.py").write_text("X = 1\n")
    sign_plugin(folder, key, "signed_one", "1.0.0")
    return folder


def test_keygen_writes_a_private_key_only_its_owner_can_read(tmp_path: Path) -> None:
    private, public = generate_keypair(tmp_path / "keys" / "author")
    assert private.stat().st_mode & 0o777 == 0o600
    assert public_key_text(load_private_key(private).public_key()) == public.read_text().strip()
    with pytest.raises(KeyFileError, match="already exists"):
        generate_keypair(tmp_path / "keys" / "author")


def test_a_signed_folder_verifies_and_lists_every_file(signed: Path, key) -> None:
    result = verify_plugin(signed)
    assert (result.plugin_id, result.version, result.file_count) == ("signed_one", "1.0.0", 3)
    assert result.public_key == public_key_text(key.public_key())
    (signed / "__pycache__").mkdir()
    (signed / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    assert verify_plugin(signed).file_count == 3, "bytecode written at import is not signed"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda f: (f / "main.py").write_text("import os\n"),
            "file changed since signing: main.py",
        ),
        (lambda f: (f / "extra.py").write_text("\n"), "file added since signing: extra.py"),
        (
            lambda f: (f / "lib" / "helpers.py").unlink(),
            "file removed since signing: lib/helpers.py",
        ),
    ],
    ids=["tampered", "added", "removed"],
)
def test_any_change_after_signing_is_named(signed: Path, change, message: str) -> None:
    change(signed)
    with pytest.raises(SignatureError, match=message):
        verify_plugin(signed)


def test_a_signature_claiming_another_key_fails(signed: Path) -> None:
    path = signed / SIGNATURE_FILENAME
    document = json.loads(path.read_text())
    document["payload"]["public_key"] = public_key_text(Ed25519PrivateKey.generate().public_key())
    path.write_text(json.dumps(document))
    with pytest.raises(SignatureError, match="wrong key"):
        verify_plugin(signed)


def test_a_link_in_a_signed_plugin_is_refused(signed: Path, tmp_path: Path) -> None:
    (signed / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(SignatureError, match="passwd is a link"):
        verify_plugin(signed)


@pytest.mark.django_db
def test_trust_levels_follow_the_key(signed: Path, key, settings) -> None:
    assert assess(signed, "signed_one", "1.0.0").level == TrustLevel.COMMUNITY
    TrustedKey.objects.create(name="ACME", public_key=public_key_text(key.public_key()))
    assert assess(signed, "signed_one", "1.0.0").level == TrustLevel.VERIFIED
    settings.JUPITER_OFFICIAL_KEYS = [public_key_text(key.public_key())]
    assert assess(signed, "signed_one", "1.0.0").level == TrustLevel.OFFICIAL


@pytest.mark.django_db
def test_the_minimum_level_is_a_setting(signed: Path, settings) -> None:
    settings.JUPITER_TRUST_MINIMUM = "verified"
    refusal = assess(signed, "signed_one", "1.0.0").refusal
    assert refusal == (
        "trust level 'community' is below the policy minimum 'verified' (JUPITER_TRUST_MINIMUM)"
    )


@pytest.mark.django_db
def test_a_signature_for_another_version_is_refused(signed: Path) -> None:
    verdict = assess(signed, "signed_one", "2.0.0")
    assert verdict.tampered
    assert "signed as signed_one 1.0.0 but plugin.yaml says signed_one 2.0.0" in verdict.refusal


@pytest.mark.django_db
def test_bundled_plugins_are_official_by_provenance(settings) -> None:
    verdict = assess(settings.JUPITER_BUNDLED_PLUGIN_DIR / "code_analyzer", "code_analyzer", "1")
    assert (verdict.level, verdict.refusal) == (TrustLevel.OFFICIAL, None)


@pytest.fixture
def plugin_root(tmp_path: Path, settings, key) -> Path:
    root = tmp_path / "plugins"
    signed_plugin(root, "good", key)
    write_plugin(root, "loose")
    settings.JUPITER_PLUGIN_DIRS = [root]
    return root


@pytest.mark.django_db(transaction=True)
def test_sync_records_trust_and_refuses_unsigned_when_not_allowed(plugin_root, settings) -> None:
    settings.JUPITER_ALLOW_UNSIGNED_LOCAL_PLUGINS = False
    boot()
    assert InstalledPlugin.objects.get(plugin_id="good").trust_level == TrustLevel.COMMUNITY
    loose = InstalledPlugin.objects.get(plugin_id="loose")
    assert (loose.trust_level, loose.status) == (TrustLevel.UNSIGNED, PluginStatus.DISABLED)
    assert "JUPITER_ALLOW_UNSIGNED_LOCAL_PLUGINS is off" in loose.status_reason


@pytest.mark.django_db(transaction=True)
def test_a_plugin_tampered_before_sync_is_an_error_naming_the_file(plugin_root) -> None:
    (plugin_root / "good" / "main.py").write_text("import os\n")
    boot()
    good = InstalledPlugin.objects.get(plugin_id="good")
    assert good.status == PluginStatus.ERROR
    assert good.status_reason == "signature check failed: file changed since signing: main.py"


@pytest.mark.django_db(transaction=True)
def test_a_plugin_tampered_after_sync_is_refused_at_load(plugin_root, tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    boot()
    project = register_project("proj", tmp_path / "proj")
    (plugin_root / "good" / "main.py").write_text("raise SystemExit('pwned')\n")
    set_plugin_enabled(project, "good", True)
    good = InstalledPlugin.objects.get(plugin_id="good")
    assert good.status == PluginStatus.ERROR
    assert "file changed since signing: main.py" in good.status_reason
    assert "jupiter_plugins.good.main" not in sys.modules
