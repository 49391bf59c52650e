"""``jupiter_plugins keygen|sign|verify|pack|install|check-updates|update|uninstall`` (SPEC T2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from plugins_app.models import AuditAction, AuditEvent, InstalledPlugin, TrustLevel
from tests.plugin_factory import write_plugin

pytestmark = pytest.mark.django_db(transaction=True)


def run(capsys, *args: str) -> str:
    call_command("jupiter_plugins", *args)
    return capsys.readouterr().out


def publish(capsys, folder: Path, keys: Path, index: Path) -> str:
    """``pack``: sign, archive beside the index, add the version to the index."""
    args = ("--key", f"{keys}.key", "--out", str(index.parent), "--index", str(index))
    return run(capsys, "pack", str(folder), *args)


def test_the_publishing_and_install_cycle(runtime_dirs, tmp_path: Path, capsys) -> None:
    keys = tmp_path / "keys" / "author"
    assert "keep it secret" in run(capsys, "keygen", str(keys))
    folder = write_plugin(tmp_path / "src", "cli_demo", extra_yaml="permissions: [fs_read]\n")
    assert "signed cli_demo 1.0.0" in run(capsys, "sign", str(folder), "--key", f"{keys}.key")
    assert "cli_demo 1.0.0: community by ed25519:" in run(capsys, "verify", str(folder))

    index = tmp_path / "catalogue" / "index.json"
    publish(capsys, folder, keys, index)
    shown = run(capsys, "install", "cli_demo", "--catalogue", str(index), "--yes")
    assert "trust: Community (signed by ed25519:" in shown
    assert "permission fs_read: Read files inside the project's root directory" in shown
    assert "installed cli_demo 1.0.0: disabled" in shown
    assert InstalledPlugin.objects.get(plugin_id="cli_demo").trust_level == TrustLevel.COMMUNITY

    assert "up to date" in run(capsys, "check-updates", "--catalogue", str(index))
    (folder / "plugin.yaml").write_text(
        (folder / "plugin.yaml").read_text().replace("1.0.0", "1.1.0")
    )
    publish(capsys, folder, keys, index)
    assert "cli_demo: 1.0.0 -> 1.1.0" in run(capsys, "check-updates", "--catalogue", str(index))
    assert "updated cli_demo to 1.1.0" in run(
        capsys, "update", "cli_demo", "--catalogue", str(index), "--yes"
    )
    assert "uninstalled cli_demo and forget its settings" in run(
        capsys, "uninstall", "cli_demo", "--purge", "--yes"
    )
    assert [e.action for e in AuditEvent.objects.order_by("id")][-3:] == [
        AuditAction.INSTALL,
        AuditAction.UPDATE,
        AuditAction.UNINSTALL,
    ]


def test_verify_names_the_tampered_file_and_exits_1(tmp_path: Path, capsys) -> None:
    run(capsys, "keygen", str(tmp_path / "k"))
    folder = write_plugin(tmp_path, "fragile")
    run(capsys, "sign", str(folder), "--key", str(tmp_path / "k.key"))
    (folder / "main.py").write_text("import os\n")
    with pytest.raises(CommandError, match=r"file changed since signing: main\.py") as error:
        call_command("jupiter_plugins", "verify", str(folder))
    assert error.value.returncode == 1


def test_install_without_yes_is_refused_when_nobody_can_answer(
    runtime_dirs, tmp_path: Path, monkeypatch, settings
) -> None:
    settings.JUPITER_ALLOW_UNSIGNED_ARCHIVES = True  # the operator opted in: the prompt is next
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    folder = write_plugin(tmp_path, "asks")
    with pytest.raises(CommandError, match="re-run with --yes"):
        call_command("jupiter_plugins", "install", str(folder))
    assert not InstalledPlugin.objects.filter(plugin_id="asks").exists()
