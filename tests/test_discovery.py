"""Discovery: plugin folders found, manifests loaded, duplicates and links handled, no imports."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from plugins_app.registry.discovery import DiscoveredPlugin, discover

MANIFESTS = Path(__file__).parent / "fixtures" / "plugins" / "manifests"


def add_plugin(directory: Path, folder: str, case: str = "minimal") -> Path:
    target = directory / folder
    shutil.copytree(MANIFESTS / case, target)
    return target


def by_path(found: list[DiscoveredPlugin]) -> dict[str, DiscoveredPlugin]:
    return {plugin.path.name: plugin for plugin in found}


def test_finds_plugin_folders_in_name_order(tmp_path: Path) -> None:
    add_plugin(tmp_path, "b_metrics", "complete")
    add_plugin(tmp_path, "a_hello", "minimal")

    found = discover([tmp_path])

    assert [plugin.path.name for plugin in found] == ["a_hello", "b_metrics"]
    assert [plugin.id for plugin in found] == ["hello_world", "code_metrics"]
    assert all(plugin.result.ok for plugin in found)


def test_skips_hidden_cache_and_non_plugin_entries(tmp_path: Path) -> None:
    add_plugin(tmp_path, ".hidden")
    add_plugin(tmp_path, "__pycache__")
    (tmp_path / "helpers").mkdir()
    (tmp_path / "plugin.yaml").write_text("id: stray\n")
    (tmp_path / "README.md").write_text("not a plugin")

    assert discover([tmp_path]) == []


def test_missing_directories_have_no_plugins(tmp_path: Path) -> None:
    assert discover([tmp_path / "nowhere", tmp_path / "file.txt"]) == []


def test_invalid_manifest_is_an_error_result_named_after_its_folder(tmp_path: Path) -> None:
    add_plugin(tmp_path, "broken_plugin", "yaml_syntax")
    add_plugin(tmp_path, "good", "minimal")

    found = by_path(discover([tmp_path]))

    broken = found["broken_plugin"]
    assert broken.id == "broken_plugin"
    assert broken.result.manifest is None
    assert broken.result.errors[0].line == 7
    assert found["good"].result.ok


def test_duplicate_id_across_directories_keeps_the_first(tmp_path: Path) -> None:
    bundled, user = tmp_path / "bundled", tmp_path / "user"
    first = add_plugin(bundled, "hello")
    second = add_plugin(user, "hello_again")

    found = discover([bundled, user])

    assert found[0].result.ok and found[0].path == first
    duplicate = found[1]
    assert duplicate.path == second
    assert duplicate.duplicate_of == first
    assert duplicate.result.manifest is None
    error = duplicate.result.errors[0]
    assert error.field == "id"
    assert "duplicate plugin id 'hello_world'" in error.message
    assert str(first) in error.message and str(second) in error.message


def test_link_to_a_folder_outside_is_not_followed(tmp_path: Path) -> None:
    scanned, elsewhere = tmp_path / "plugins", tmp_path / "elsewhere"
    scanned.mkdir()
    outside = add_plugin(elsewhere, "sneaky")
    (scanned / "sneaky").symlink_to(outside, target_is_directory=True)

    [found] = discover([scanned])

    assert found.result.manifest is None
    assert "not followed" in found.result.errors[0].message
    assert found.id == "sneaky"


def test_link_to_a_folder_inside_is_followed(tmp_path: Path) -> None:
    real = add_plugin(tmp_path, "real")
    (tmp_path / "zz_alias").symlink_to(real, target_is_directory=True)

    found = by_path(discover([tmp_path]))

    assert found["real"].result.ok
    assert found["zz_alias"].duplicate_of == real


def test_discovery_never_imports_plugin_code(tmp_path: Path) -> None:
    plugin = add_plugin(tmp_path, "trap")
    marker = tmp_path / "imported"
    code = f"open({str(marker)!r}, 'w').close()\nraise SystemExit('imported!')\n"
    (plugin / "__init__.py").write_text(code)
    (plugin / "plugin.py").write_text(code)

    [found] = discover([tmp_path])

    assert found.result.ok
    assert not marker.exists()


def test_unreadable_directory_is_logged_and_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    add_plugin(tmp_path, "good")
    locked = tmp_path / "locked"
    real_scandir = os.scandir

    def scandir(path: Path) -> object:
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)

    found = discover([locked, tmp_path])

    assert [plugin.id for plugin in found] == ["hello_world"]
    assert "cannot scan plugin directory" in caplog.text
