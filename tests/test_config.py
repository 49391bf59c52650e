"""Config layering (SPEC S3): defaults <- global <- project, provenance, validation, reset."""

from __future__ import annotations

import copy

from plugins_app.config.layering import (
    deep_merge,
    effective_config,
    remove_override,
    schema_defaults,
    validate_config,
)

SCHEMA = {
    "type": "object",
    "properties": {
        "max_complexity": {"type": "integer", "minimum": 1, "default": 10},
        "exclude": {"type": "array", "items": {"type": "string"}, "default": ["build"]},
        "db": {
            "type": "object",
            "properties": {
                "host": {"type": "string", "default": "localhost"},
                "port": {"type": "integer", "maximum": 65535, "default": 5432},
                "user": {"type": "string"},
            },
        },
        "contact": {"type": "string", "format": "email"},
        "token": {"type": "string"},
    },
    "required": ["token"],
}


def test_schema_defaults_recurse_into_nested_objects() -> None:
    assert schema_defaults(SCHEMA) == {
        "max_complexity": 10,
        "exclude": ["build"],
        "db": {"host": "localhost", "port": 5432},
    }


def test_object_default_overlays_property_defaults() -> None:
    schema = {
        "type": "object",
        "properties": {
            "db": {
                "type": "object",
                "default": {"port": 1},
                "properties": {"host": {"default": "h"}, "port": {"default": 2}},
            }
        },
    }
    assert schema_defaults(schema) == {"db": {"host": "h", "port": 1}}


def test_schema_defaults_without_schema() -> None:
    assert schema_defaults(None) == {}
    assert schema_defaults({"type": "object"}) == {}


def test_deep_merge_dicts_merge_lists_replace_inputs_untouched() -> None:
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1}
    override = {"a": {"y": [3]}, "c": {"z": 1}}
    base_copy, override_copy = copy.deepcopy(base), copy.deepcopy(override)
    merged = deep_merge(base, override)
    assert merged == {"a": {"x": 1, "y": [3]}, "b": 1, "c": {"z": 1}}
    assert base == base_copy and override == override_copy
    merged["c"]["z"] = 2
    merged["a"]["x"] = 2
    assert override["c"]["z"] == 1 and base["a"]["x"] == 1


def test_scalar_replaces_dict_and_dict_replaces_scalar() -> None:
    assert deep_merge({"a": {"x": 1}}, {"a": 3}) == {"a": 3}
    assert deep_merge({"a": 3}, {"a": {"x": 1}}) == {"a": {"x": 1}}


def test_precedence_and_provenance() -> None:
    result = effective_config(
        SCHEMA,
        {"token": "t", "max_complexity": 20, "db": {"host": "db.local"}},
        {"max_complexity": 12, "exclude": ["dist"], "db": {"port": 6543}},
    )
    assert result.values == {
        "token": "t",
        "max_complexity": 12,
        "exclude": ["dist"],
        "db": {"host": "db.local", "port": 6543},
    }
    assert result.sources == {
        "token": "global",
        "max_complexity": "project",
        "exclude": "project",
        "db.host": "global",
        "db.port": "project",
    }
    assert result.errors == ()
    assert result.is_valid


def test_project_layer_optional() -> None:
    result = effective_config(SCHEMA, {"token": "t"})
    assert result.sources["max_complexity"] == "default"
    assert result.sources["token"] == "global"


def test_validation_errors_carry_field_paths() -> None:
    result = effective_config(
        SCHEMA,
        {"max_complexity": 0, "contact": "not-an-email"},
        {"db": {"port": 70000}, "exclude": ["ok", 3]},
    )
    paths = {error.path for error in result.errors}
    assert paths == {"max_complexity", "contact", "db.port", "exclude.1", "token"}
    assert not result.is_valid
    token = next(e for e in result.errors if e.path == "token")
    assert "required" in token.message


def test_validate_config_without_schema_accepts_anything() -> None:
    assert validate_config(None, {"anything": 1}) == ()


def test_invalid_schema_is_reported_not_raised() -> None:
    errors = validate_config({"type": "no-such-type"}, {})
    assert len(errors) == 1
    assert errors[0].path == ""
    assert "schema is invalid" in errors[0].message


def test_validators_are_cached_per_schema() -> None:
    from plugins_app.config.layering import _compiled

    _compiled.cache_clear()
    validate_config(SCHEMA, {"token": "a"})
    validate_config(copy.deepcopy(SCHEMA), {"token": "b"})
    assert _compiled.cache_info().misses == 1
    assert _compiled.cache_info().hits == 1


def test_remove_override_resets_one_field_and_prunes_parents() -> None:
    overrides = {"db": {"port": 1}, "max_complexity": 12}
    assert remove_override(overrides, "db.port") == {"max_complexity": 12}
    assert remove_override(overrides, "max_complexity") == {"db": {"port": 1}}
    assert overrides == {"db": {"port": 1}, "max_complexity": 12}


def test_remove_override_keeps_siblings_and_ignores_missing() -> None:
    overrides = {"a": {"b": {"c": 1}, "d": 2}}
    assert remove_override(overrides, "a.b.c") == {"a": {"d": 2}}
    assert remove_override(overrides, "a.x.y") == overrides
    assert remove_override(overrides, "a.d.e") == overrides


def test_reset_to_global_changes_provenance() -> None:
    overrides = {"max_complexity": 12}
    before = effective_config(SCHEMA, {"token": "t", "max_complexity": 20}, overrides)
    after = effective_config(
        SCHEMA, {"token": "t", "max_complexity": 20}, remove_override(overrides, "max_complexity")
    )
    assert (before.values["max_complexity"], before.sources["max_complexity"]) == (12, "project")
    assert (after.values["max_complexity"], after.sources["max_complexity"]) == (20, "global")
