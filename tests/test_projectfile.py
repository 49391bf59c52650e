"""The project file format: round trip (unknown content kept), shape errors with lines."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

from plugins_app.projects.projectfile import (
    HEADER,
    PluginEntry,
    ProjectFileData,
    ProjectFileError,
    read_project_file,
    render_project_file,
    write_project_file,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "demo.jupiter.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_reads_the_documented_format(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        # Managed by Jupiter; hand edits are picked up.
        project: demo
        plugins:
          code_analyzer:
            enabled: true
            config:            # per-project overrides, optional
              max_complexity: 12
          notes:
            enabled: false
        """,
    )
    data = read_project_file(path)
    assert data.project == "demo"
    assert data.plugins == {
        "code_analyzer": PluginEntry(enabled=True, overrides={"max_complexity": 12}),
        "notes": PluginEntry(enabled=False),
    }
    assert data.extra == {}
    assert data.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_missing_enabled_means_disabled_and_null_config_means_none(tmp_path: Path) -> None:
    path = write(tmp_path, "plugins:\n  a:\n    config:\n  b: {enabled: true}\n")
    data = read_project_file(path)
    assert data.plugins["a"] == PluginEntry(enabled=False, overrides={})
    assert data.plugins["b"].enabled is True


def test_round_trip_keeps_unknown_content(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        project: demo
        owner: team-a
        plugins:
          not_installed_here:
            enabled: true
            config: {depth: 3}
            pinned: "1.2"
          code_analyzer:
            enabled: true
            note: keep me
        """,
    )
    data = read_project_file(path)
    assert data.extra == {"owner": "team-a"}
    assert data.plugins["code_analyzer"].extra == {"note": "keep me"}
    new_hash = write_project_file(path, data)
    assert new_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    again = read_project_file(path)
    assert again.plugins == data.plugins
    assert again.extra == data.extra
    assert again.project == "demo"
    assert again.sha256 == new_hash


def test_render_is_stable_sorted_and_has_the_header() -> None:
    data = ProjectFileData(
        project="demo",
        plugins={
            "zeta": PluginEntry(True, {"b": 1, "a": {"y": 2, "x": [3, 1]}}),
            "alpha": PluginEntry(False, extra={"z": 1, "m": 2}),
        },
        extra={"zz": 1, "aa": 2},
    )
    text = render_project_file(data)
    assert text.startswith(HEADER)
    assert text[len(HEADER) :] == textwrap.dedent(
        """\
        project: demo
        plugins:
          alpha:
            enabled: false
            m: 2
            z: 1
          zeta:
            enabled: true
            config:
              a:
                x:
                - 3
                - 1
                y: 2
              b: 1
        aa: 2
        zz: 1
        """
    )
    assert render_project_file(data) == text


def test_render_quotes_strings_that_yaml_would_retype(tmp_path: Path) -> None:
    data = ProjectFileData(
        project="demo",
        plugins={"a": PluginEntry(True, {"mode": "yes", "since": "2024-01-01", "n": "12"})},
    )
    path = tmp_path / "demo.jupiter.yaml"
    write_project_file(path, data)
    assert read_project_file(path).plugins["a"].overrides == {
        "mode": "yes",
        "since": "2024-01-01",
        "n": "12",
    }


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        (
            "project: demo\nplugins:\n  x:\n    enabled: maybe\n",
            "plugins.x.enabled must be true or false",
            4,
        ),
        ("project: demo\nplugins:\n  x: true\n", "plugins.x must be a mapping", 3),
        ("plugins:\n  x:\n    enabled: true\n    config: [1]\n", "plugins.x.config must be", 4),
        ("project: demo\nplugins: [a, b]\n", "plugins must be a mapping", 2),
        ("project: [demo]\n", "project must be a string", 1),
        ("project: demo\nplugins:\n  x:\n  enabled: true\n  x: {}\n", "duplicate key", 5),
        ("project: demo\nplugins:\n  x: {enabled: true\n", "", 4),
        ("- a\n- b\n", "expected a mapping", 1),
    ],
)
def test_malformed_files_name_the_problem_and_line(
    tmp_path: Path, text: str, message: str, line: int
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ProjectFileError) as caught:
        read_project_file(path)
    assert message in caught.value.message
    assert caught.value.line == line
    assert str(path) in str(caught.value)
    assert f"(line {line})" in str(caught.value)


def test_anchors_and_aliases_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "base: &b {enabled: true}\nplugins:\n  x: *b\n")
    with pytest.raises(ProjectFileError, match="anchor"):
        read_project_file(path)


def test_empty_file_is_an_error_not_a_silent_reset(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing\n")
    with pytest.raises(ProjectFileError, match="empty"):
        read_project_file(path)


def test_missing_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(ProjectFileError, match="cannot be read"):
        read_project_file(tmp_path / "nope.jupiter.yaml")
    path = tmp_path / "bad.jupiter.yaml"
    path.write_bytes(b"project: demo\nplugins: {}\nx: \xff\n")
    with pytest.raises(ProjectFileError, match="UTF-8") as caught:
        read_project_file(path)
    assert caught.value.line == 3


def test_oversize_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "project: demo\n" + "# padding\n" * 40_000)
    with pytest.raises(ProjectFileError, match="larger than"):
        read_project_file(path)


def test_write_failure_is_a_project_file_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectFileError, match="cannot be written"):
        write_project_file(tmp_path / "missing-dir" / "demo.jupiter.yaml", ProjectFileData())
