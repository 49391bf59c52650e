"""Schema -> form fields, and a posted form -> values and the layer to store (SPEC U2, S3)."""

from __future__ import annotations

from django.http import QueryDict

from plugins_app.web.autoui.forms import build_form, html_id
from plugins_app.web.autoui.submit import layer_from, parse_submission

SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "title": "Name", "minLength": 2, "maxLength": 12},
        "mode": {"type": "string", "enum": ["quick", "thorough"]},
        "retries": {"type": "integer", "minimum": 0, "maximum": 5},
        "ratio": {"type": "number", "multipleOf": 0.05},
        "on": {"type": "boolean"},
        "token": {"type": "string", "writeOnly": True},
        "build": {"type": "string", "readOnly": True},
        "db": {"type": "object", "properties": {"port": {"type": "integer"}}},
        "tags": {"type": "array", "items": {"type": "string"}},
        "channels": {"type": "array", "items": {"enum": ["console", "email"]}},
        "servers": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"host": {"type": "string"}, "tls": {"type": "boolean"}},
            },
        },
        "extra": {"anyOf": [{"type": "object"}, {"type": "null"}]},
    },
}


def _by_path(form):
    found = {}

    def walk(fields):
        for field in fields:
            found[field.path] = field
            walk(field.children)
            walk(field.rows)

    walk(form.fields)
    return found


def test_each_schema_shape_gets_its_widget_and_limits():
    values = {
        "name": "ab",
        "db": {"port": 5432},
        "tags": ["x", "y"],
        "channels": ["email"],
        "servers": [{"host": "h", "tls": True}],
        "token": "s3cret",
        "extra": {"k": 1},
    }
    fields = _by_path(build_form(SCHEMA, values, scope="global"))
    assert fields["name"].kind == "string" and fields["name"].required
    assert ("minlength", "2") in fields["name"].attrs and ("maxlength", "12") in fields[
        "name"
    ].attrs
    assert fields["name"].constraints == "2-12 characters"
    assert fields["mode"].kind == "enum" and [c.value for c in fields["mode"].choices] == [
        "quick",
        "thorough",
    ]
    assert ("step", "1") in fields["retries"].attrs and ("max", "5") in fields["retries"].attrs
    assert ("step", "0.05") in fields["ratio"].attrs
    assert fields["on"].kind == "boolean"
    assert (
        fields["token"].kind == "secret"
        and fields["token"].value == ""
        and fields["token"].secret_set
    )
    assert fields["build"].read_only
    assert fields["db"].kind == "object" and fields["db.port"].value == "5432"
    assert [r.value for r in fields["tags"].rows] == ["x", "y"] and fields[
        "tags"
    ].new_row.name == "cfg.tags.__index__"
    assert [c.selected for c in fields["channels"].choices] == [False, True]
    assert fields["servers.0"].kind == "object" and fields["servers.0.tls"].checked
    assert fields["extra"].kind == "json" and '"k": 1' in fields["extra"].value


def test_errors_land_on_their_field_and_unknown_paths_on_the_form():
    form = build_form(
        SCHEMA, {}, scope="global", errors={"db.port": ["too big"], "nope": ["odd"], "": ["whole"]}
    )
    fields = _by_path(form)
    assert fields["db.port"].errors == ("too big",)
    assert form.errors == ("nope: odd", "whole")
    assert form.has_errors


def test_provenance_labels_and_reset_depend_on_the_scope():
    sources = {"name": "project", "retries": "global", "mode": "default"}
    project = _by_path(build_form(SCHEMA, {}, scope="project", sources=sources))
    assert project["name"].source_label == "overridden here" and project["name"].resettable
    assert (
        project["retries"].source_label == "inherited from global"
        and not project["retries"].resettable
    )
    glob = _by_path(build_form(SCHEMA, {}, scope="global", sources={"retries": "global"}))
    assert glob["retries"].resettable and glob["retries"].source_label == "set globally"


def _post(pairs):
    data = QueryDict(mutable=True)
    for key, value in pairs:
        data.appendlist(key, value)
    return data


def test_submission_round_trips_every_shape():
    data = _post(
        [
            ("cfg.name", "abc"),
            ("cfg.mode", "thorough"),
            ("cfg.retries", "3"),
            ("cfg.ratio", "0.25"),
            ("cfg.on", "true"),
            ("cfg.token", ""),
            ("cfg.build", "forged"),
            ("cfg.db.port", "6543"),
            ("cfg.tags.__list", "1"),
            ("cfg.tags.4", "b"),
            ("cfg.tags.1", "a"),
            ("cfg.tags.9", ""),
            ("cfg.channels", "email"),
            ("cfg.servers.__list", "1"),
            ("cfg.servers.0.__row", "1"),
            ("cfg.servers.0.host", "db1"),
            ("cfg.extra", '{"k": [1]}'),
            ("cfg.forged", "x"),
        ]
    )
    result = parse_submission(SCHEMA, data, {"token": "kept", "build": "b-1"})
    assert not result.errors
    assert result.values == {
        "name": "abc",
        "mode": "thorough",
        "retries": 3,
        "ratio": 0.25,
        "on": True,
        "token": "kept",
        "build": "b-1",
        "db": {"port": 6543},
        "tags": ["b", "a"],
        "channels": ["email"],
        "servers": [{"host": "db1", "tls": False}],
        "extra": {"k": [1]},
    }


def test_unparseable_input_is_reported_and_kept_as_typed():
    data = _post(
        [
            ("cfg.retries", "three"),
            ("cfg.ratio", "inf"),
            ("cfg.extra", "{oops"),
            ("cfg.mode", "bogus"),
        ]
    )
    result = parse_submission(SCHEMA, data, {})
    assert result.errors["retries"] == ["Enter a whole number."]
    assert result.errors["ratio"] == ["Enter a finite number."]
    assert result.errors["extra"][0].startswith("Enter valid JSON")
    assert "not one of the choices" in result.errors["mode"][0]
    form = build_form(SCHEMA, result.values, scope="global", errors=result.errors, raw=result.raw)
    assert _by_path(form)["retries"].value == "three"


def test_empty_list_is_an_empty_list_and_absent_list_is_unset():
    assert parse_submission(SCHEMA, _post([("cfg.tags.__list", "1")]), {}).values["tags"] == []
    assert "tags" not in parse_submission(SCHEMA, _post([]), {}).values


def test_layer_keeps_only_changes_and_existing_pins():
    inherited = {"name": "probe", "db": {"host": "h", "port": 1}, "tags": ["a"]}
    submitted = {"name": "probe", "db": {"host": "h", "port": 2}, "tags": ["a"]}
    assert layer_from(submitted, inherited, {}) == {"db": {"port": 2}}
    assert layer_from(submitted, inherited, {"name": "probe"}) == {
        "name": "probe",
        "db": {"port": 2},
    }
    assert layer_from({"db": {"port": 1}}, {}, {}) == {"db": {"port": 1}}


def test_html_ids_are_safe_for_any_property_name():
    assert html_id('a b."<x>') == "cfg-a-b-x-"


def test_help_uses_the_schema_then_the_plugins_texts_then_a_summary():
    from plugins_app.web.autoui.forms import help_entries

    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "description": "Own words"},
            "b": {"type": "boolean", "default": True},
            "c": {"type": "string", "enum": ["x", "y"], "default": "x"},
            "d": {"type": "string", "minLength": 1},
        },
    }
    texts = {"settings.b.description": "Translated words"}
    assert help_entries(schema, texts) == [
        ("a", "A", "Own words"),
        ("b", "B", "Translated words"),
        ("c", "C", "One of the choices; choices: x, y; default: x."),
        ("d", "D", "Text (not empty)."),
    ]


def test_validator_messages_are_mapped_to_words():
    from plugins_app.config.layering import validate_config

    schema = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "mail": {"type": "string", "format": "email"},
            "n": {"type": "integer", "maximum": 3},
            "tags": {"type": "array", "minItems": 2},
        },
    }
    errors = validate_config(schema, {"mail": "x", "n": "4", "tags": ["a"]})
    assert {e.path: e.message for e in errors} == {
        "name": "This field is required.",
        "mail": "Enter a valid email address, such as name@example.com.",
        "n": "Enter a whole number.",
        "tags": "Add at least 2 items.",
    }
    assert str(errors[0]) == f"{errors[0].path}: {errors[0].message}"
