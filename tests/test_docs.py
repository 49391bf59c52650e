"""The manifest reference in docs/ is generated from the schema and never stale."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from plugins_app.manifest.reference import REFERENCE_PATH, current, render
from plugins_app.manifest.schema import SCHEMA_PATH


def test_committed_reference_matches_the_schema():
    assert REFERENCE_PATH.read_text(encoding="utf-8") == current(), (
        "docs/manifest-reference.md is stale: run manage.py jupiter_docs"
    )


def test_every_schema_field_has_a_row():
    text = current()
    schema = json.loads(SCHEMA_PATH.read_text())
    for name in schema["properties"]:
        if name != "$schema":
            assert f"| `{name}` |" in text
    for row in ("`dependencies[].version`", "`config_schema.migrations[].entrypoint`"):
        assert row in text
    assert "| `capabilities.health.timeout` |" in text


def test_render_shows_types_requirements_and_constraints():
    schema = {
        "required": ["a"],
        "properties": {
            "a": {"title": "A", "description": "first", "type": "integer", "minimum": 1},
            "b": {"enum": ["x", "y"], "default": "x"},
        },
    }
    text = render(schema)
    assert "| `a` | integer | yes | **A.** first | minimum `1` |" in text
    assert '| `b` | string |  |  | one of `x`, `y`; default `"x"` |' in text


def test_check_flag_fails_when_stale(monkeypatch, tmp_path):
    stale = tmp_path / "reference.md"
    stale.write_text("old")
    monkeypatch.setattr("plugins_app.management.commands.jupiter_docs.REFERENCE_PATH", stale)
    with pytest.raises(CommandError, match="stale") as error:
        call_command("jupiter_docs", "--check")
    assert error.value.returncode == 1
    call_command("jupiter_docs")
    assert stale.read_text() == current()
    call_command("jupiter_docs", "--check")
