"""Hardened YAML reading: size cap, no anchors/aliases, JSON-like data, lines in errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plugins_app.manifest.safe_yaml import (
    DEFAULT_MAX_BYTES,
    MAX_DEPTH,
    UnsafeYamlError,
    YamlError,
    parse_yaml,
    read_yaml,
)

FIXTURES = Path(__file__).parent / "fixtures" / "plugins" / "manifests"


def test_parses_a_mapping_with_json_like_values() -> None:
    document = parse_yaml("a: 1\nb: [x, y]\nwhen: 2024-01-01\non: yes\n1: one\n")

    assert document.data == {"a": 1, "b": ["x", "y"], "when": "2024-01-01", "on": True, "1": "one"}


def test_line_of_points_at_keys_and_items() -> None:
    document = parse_yaml("a:\n  b:\n    - c: 1\n      d: 2\ne: 3\n")

    assert document.line_of(["a", "b", 0, "d"]) == 4
    assert document.line_of(["e"]) == 5
    assert document.line_of(["a", "missing"]) == 1
    assert document.line_of(["missing"]) is None


def test_oversize_text_is_refused_before_parsing() -> None:
    text = "key: value\n" + "# " + "x" * DEFAULT_MAX_BYTES + "\n"

    with pytest.raises(UnsafeYamlError, match="larger than"):
        parse_yaml(text)


def test_oversize_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plugin.yaml"
    path.write_text("a: 1\n" + "# pad\n" * 200)

    with pytest.raises(UnsafeYamlError, match="larger than 100 bytes"):
        read_yaml(path, max_bytes=100)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: &anchor 1\n", 1),
        ("a: 1\nb: *alias\n", 2),
        ("a: x\nb:\n  c: &c [1]\n  d: *c\n", 3),
    ],
)
def test_anchors_and_aliases_are_refused_with_their_line(text: str, line: int) -> None:
    with pytest.raises(UnsafeYamlError) as caught:
        parse_yaml(text)

    assert caught.value.line == line
    assert "not allowed" in str(caught.value)


def test_billion_laughs_fixture_is_refused_at_the_first_anchor() -> None:
    with pytest.raises(UnsafeYamlError) as caught:
        read_yaml(FIXTURES / "alias_bomb" / "plugin.yaml")

    assert caught.value.line == 6


def test_star_and_ampersand_inside_strings_are_fine() -> None:
    document = parse_yaml("glob: '*.py'\ntitle: Lint & format\n")

    assert document.data == {"glob": "*.py", "title": "Lint & format"}


def test_syntax_error_reports_line_and_column() -> None:
    with pytest.raises(YamlError) as caught:
        parse_yaml("a: 1\nb: [1, 2\n")

    assert caught.value.line == 3
    assert caught.value.column == 1
    assert "started at line 2" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n- b\n", "got a list"),
        ("just text\n", "got a single value"),
        ("", "empty"),
        ("# only a comment\n", "empty"),
    ],
)
def test_non_mapping_documents_are_refused(text: str, expected: str) -> None:
    with pytest.raises(YamlError, match=expected):
        parse_yaml(text)


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(YamlError, match="duplicate key 'permissions'") as caught:
        parse_yaml("permissions: []\nname: x\npermissions: [fs_write]\n")

    assert caught.value.line == 3


@pytest.mark.parametrize(
    "text",
    [
        "a: !!python/object/apply:os.system ['true']\n",
        "a: !!binary aGVsbG8=\n",
        "a: !!set {x: null}\n",
    ],
)
def test_unsafe_and_non_json_tags_are_refused(text: str) -> None:
    with pytest.raises(YamlError) as caught:
        parse_yaml(text)

    assert caught.value.line == 1


def test_several_documents_are_refused() -> None:
    with pytest.raises(YamlError, match="single document"):
        parse_yaml("a: 1\n---\nb: 2\n")


def test_control_characters_are_reported_with_their_line() -> None:
    with pytest.raises(YamlError) as caught:
        parse_yaml("a: 1\nb: \x00\n")

    assert caught.value.line == 2


def test_read_refuses_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "plugin.yaml"
    path.write_bytes(b"a: 1\nb: \xff\n")

    with pytest.raises(YamlError, match="UTF-8") as caught:
        read_yaml(path)

    assert caught.value.line == 2


def test_read_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "plugin.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")

    assert read_yaml(path).data == {"a": 1}


def test_read_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(YamlError, match="cannot read"):
        read_yaml(tmp_path / "plugin.yaml")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_read_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "plugin.yaml"
    os.mkfifo(path)

    with pytest.raises(YamlError, match="not a regular file"):
        read_yaml(path)


def test_nesting_is_bounded() -> None:
    shallow = "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n"
    deep = "a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n"

    assert parse_yaml(shallow).data["a"] is not None
    with pytest.raises(YamlError, match="nested deeper than") as caught:
        parse_yaml(deep)
    assert caught.value.line == 1
