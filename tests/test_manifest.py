"""Manifest loading: profiles, the two real-world dialects, and every kind of bad manifest."""

from __future__ import annotations

import copy
import dataclasses
import json
import random
from pathlib import Path

import jsonschema
import pytest

from plugins_app.base.version import JUPITER_VERSION
from plugins_app.manifest.dialects import parse_author
from plugins_app.manifest.load import compatibility_issue, field_name, load_manifest, parse_manifest
from plugins_app.manifest.model import (
    MANIFEST_FILENAME,
    Author,
    ChangelogEntry,
    Dependency,
    Manifest,
    ManifestIssue,
    ManifestResult,
    Migration,
)
from plugins_app.manifest.permissions import STANDARD_PERMISSIONS
from plugins_app.manifest.safe_yaml import MAX_DEPTH, read_yaml
from plugins_app.manifest.schema import (
    _VALIDATOR,
    PLUGIN_SCHEMA,
    _accepts,
    _metaschema_validator,
)

FIXTURES = Path(__file__).parent / "fixtures" / "plugins" / "manifests"
# Every valid plugin.yaml of the bundled plugins and the test fixtures.
VALID_FOLDERS = sorted(
    path.parent
    for base in (Path(__file__).parent.parent / "plugins", Path(__file__).parent / "fixtures")
    for path in base.rglob(MANIFEST_FILENAME)
    if load_manifest(path.parent).ok
)
SOURCE = Path("/plugins/sample/plugin.yaml")
MINIMAL = 'id: sample\nname: Sample\nversion: "1.0.0"\ntype: tool\nentrypoint: "plugin:register"\n'


def load_ok(case: str) -> ManifestResult:
    result = load_manifest(FIXTURES / case)
    assert result.ok, [str(error) for error in result.errors]
    return result


def parse(extra: str = "", base: str = MINIMAL) -> ManifestResult:
    return parse_manifest(base + extra, source=SOURCE)


def only_error(result: ManifestResult) -> ManifestIssue:
    assert result.manifest is None
    assert len(result.errors) == 1, [str(error) for error in result.errors]
    return result.errors[0]


# --- profiles --------------------------------------------------------------------------------


def test_minimal_profile_gets_safe_defaults() -> None:
    result = load_ok("minimal")
    manifest = result.manifest
    assert manifest is not None

    assert result.warnings == ()
    assert (manifest.id, manifest.name, manifest.version, manifest.kind) == (
        "hello_world",
        "Hello world",
        "0.1.0",
        "tool",
    )
    assert dict(manifest.entrypoints) == {"register": "plugin:register"}
    assert manifest.permissions == ()
    assert manifest.declared_permissions == frozenset()
    assert manifest.dependencies == ()
    assert manifest.jupiter_version == ""
    assert manifest.config_schema is None
    assert manifest.ui.tab is None and manifest.ui.panels == () and manifest.ui.widgets == ()
    assert manifest.capabilities.metrics.enabled is False
    assert manifest.capabilities.jobs.timeout is None
    assert (manifest.capabilities.health.interval, manifest.capabilities.health.timeout) == (60, 5)
    assert manifest.root == (FIXTURES / "minimal").absolute()
    assert manifest.legacy is False


def test_complete_profile_is_fully_typed() -> None:
    manifest = load_ok("complete").manifest
    assert manifest is not None

    assert manifest.name == "Code metrics"
    assert manifest.names["fr"] == "Métriques de code"
    assert manifest.descriptions["fr"].startswith("Compte")
    assert manifest.author == Author("Ada Lovelace", "ada@example.org", "https://example.org/ada")
    assert (manifest.license, manifest.homepage) == ("MIT", "https://example.org/code_metrics")
    assert manifest.jupiter_version == ">=1.1.0,<2.0.0"
    assert manifest.dependencies == (
        Dependency("file_index", ">=0.3"),
        Dependency("git_blame", ">=2,<3", optional=True),
    )
    assert manifest.extends == ("file_index",)
    assert manifest.permissions == ("fs_read", "run_commands")
    assert manifest.entrypoints["metrics"] == "code_metrics.metrics:collect"
    assert manifest.config_schema is not None
    assert manifest.config_schema.version == 2
    assert manifest.config_schema.schema["required"] == ["max_file_size"]
    assert manifest.config_schema.migrations == (Migration(1, 2, "migrations:v1_to_v2"),)
    assert manifest.capabilities.metrics.enabled is True
    assert manifest.capabilities.metrics.interval == 30
    assert manifest.capabilities.jobs.timeout == 600
    assert manifest.capabilities.health.interval == 120
    assert manifest.ui.tab is not None
    assert (manifest.ui.tab.id, manifest.ui.tab.title) == ("main", "Metrics")
    assert manifest.ui.panels[0].mount_point == "project.sidebar"
    assert manifest.ui.widgets[0].titles["fr"] == "Points chauds"
    assert manifest.ui.mount_points == ("project.sidebar", "dashboard")
    assert manifest.ui.i18n["fr"]["scan_done"] == "Analyse terminée"
    assert manifest.changelog[0]["date"] == "2025-11-02"
    assert manifest.signature == "plugin.sig"
    assert manifest.extra_sections == {}


def test_snapshot_is_json_and_independent_of_the_manifest() -> None:
    manifest = load_ok("complete").manifest
    assert manifest is not None

    snapshot = manifest.to_snapshot()

    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot["kind"] == "tool"
    assert snapshot["dependencies"][1] == {
        "id": "git_blame",
        "specifier": ">=2,<3",
        "optional": True,
    }
    assert snapshot["root"] == str(manifest.root)
    snapshot["config_schema"]["schema"]["required"].append("tampered")
    assert manifest.config_schema is not None
    assert manifest.config_schema.schema["required"] == ["max_file_size"]


@pytest.mark.parametrize("folder", VALID_FOLDERS, ids=lambda folder: folder.name)
def test_every_valid_manifest_comes_back_from_its_snapshot(folder: Path) -> None:
    manifest = load_manifest(folder).manifest
    assert manifest is not None

    snapshot = json.loads(json.dumps(manifest.to_snapshot()))  # as the JSONField stores it

    assert Manifest.from_snapshot(snapshot) == manifest


def test_the_round_trip_covers_bundled_plugins_and_fixtures() -> None:
    names = {folder.name for folder in VALID_FOLDERS}
    assert {"complete", "minimal", "dialect_original", "plugin_model", "autoui_probe"} <= names


def _snapshot_without(key: str) -> dict[str, object]:
    manifest = load_ok("complete").manifest
    assert manifest is not None
    snapshot = manifest.to_snapshot()
    del snapshot[key]
    return snapshot


@pytest.mark.parametrize(
    "snapshot",
    [
        {},
        None,
        [],
        "id: sample",
        {"id": ""},
        {"homepage": "javascript:alert(1)"},
        _snapshot_without("ui"),
        _snapshot_without("root"),
        {**_snapshot_without("signature"), "capabilities": "all"},
        {**load_ok("minimal").manifest.to_snapshot(), "dependencies": [{"name": "x"}]},
    ],
    ids=[
        "empty",
        "none",
        "list",
        "text",
        "no-id",
        "partial",
        "missing-ui",
        "missing-root",
        "wrong-type",
        "bad-item",
    ],
)
def test_unreadable_snapshots_give_none(snapshot: object) -> None:
    assert Manifest.from_snapshot(snapshot) is None


@pytest.mark.parametrize(
    ("changelog", "entries"),
    [
        ("", ()),
        ("  \n ", ()),
        ("  First release.\n", (ChangelogEntry("", ("First release.",)),)),
        (
            ["1.1: faster", "1.0: first"],
            (ChangelogEntry("", ("1.1: faster",)), ChangelogEntry("", ("1.0: first",))),
        ),
        (
            [
                {"version": " 2.0 ", "changes": ["New UI", "", "Fixes"]},
                {"version": "1.1", "notes": "One note"},
                {"version": "1.0", "description": "First"},
                {"date": "2025-01-01"},
                42,
            ],
            (
                ChangelogEntry("2.0", ("New UI", "Fixes")),
                ChangelogEntry("1.1", ("One note",)),
                ChangelogEntry("1.0", ("First",)),
                ChangelogEntry("", ()),
            ),
        ),
    ],
    ids=["empty", "blank", "text", "strings", "mappings"],
)
def test_changelog_entries_have_one_shape(changelog: object, entries: tuple) -> None:
    snapshot = {**load_ok("minimal").manifest.to_snapshot(), "changelog": changelog}
    manifest = Manifest.from_snapshot(snapshot)
    assert manifest is not None

    assert manifest.changelog_entries == entries


def test_complete_changelog_reads_versions_and_lines() -> None:
    manifest = load_ok("complete").manifest
    assert manifest is not None

    assert manifest.changelog_entries == (
        ChangelogEntry("1.4.0", ("Complexity per function",)),
        ChangelogEntry("", ("1.3.0: first public release",)),
    )


def test_manifest_is_immutable() -> None:
    manifest = load_ok("minimal").manifest
    assert manifest is not None

    with pytest.raises(dataclasses.FrozenInstanceError):
        manifest.id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        manifest.entrypoints["register"] = "evil:code"  # type: ignore[index]


# --- M7 dialects -----------------------------------------------------------------------------


def test_original_dialect_is_normalised() -> None:
    result = load_ok("dialect_original")
    manifest = result.manifest
    assert manifest is not None

    assert manifest.names == {}
    assert manifest.author == Author("Jane Doe", "jane@example.org", "https://example.org/jane")
    assert manifest.jupiter_version == ">=1.0"
    assert manifest.permissions == ("fs_read", "network_outbound", "emit_events", "register_api")
    assert set(STANDARD_PERMISSIONS) & manifest.declared_permissions == {
        "fs_read",
        "network_outbound",
    }
    assert manifest.dependencies == (Dependency("code_metrics", ">=1.2"), Dependency("file_index"))
    assert manifest.capabilities.metrics.interval == 15
    assert manifest.capabilities.jobs.timeout == 120
    assert (manifest.capabilities.health.interval, manifest.capabilities.health.timeout) == (45, 3)
    sections = ("monitoring", "governance", "i18n", "trust_level")
    assert tuple(manifest.extra_sections) == sections
    assert [command.name for command in manifest.cli_commands] == ["suggest"]
    assert manifest.api is not None and manifest.api.router == ""
    assert manifest.extra_sections["trust_level"] == "community"
    assert [warning.field for warning in result.warnings] == list(sections)
    assert result.warnings[0].line == 26
    assert "kept" in result.warnings[0].message


def test_both_dialects_give_the_same_manifest() -> None:
    canonical = parse(
        """description: {en: Does things, fr: Fait des choses}
author: {name: Jane Doe, email: jane@example.org}
jupiter: {version: ">=1.0,<2"}
permissions: [fs_read, emit_events]
dependencies: [{id: other, version: ">=2"}]
capabilities:
  health: {interval: 30, timeout: 2}
  jobs: {timeout: 90}
  metrics: {enabled: true, interval: 10}
"""
    )
    original = parse(
        """description: {fr: Fait des choses, en: Does things}
author: Jane Doe <jane@example.org>
jupiter_version: ">=1.0,<2"
permissions: {fs_read: true, emit_events: true, fs_write: false}
dependencies: {other: ">=2"}
capabilities:
  health_check: {interval_seconds: 30, default_timeout: 2}
  jobs: {default_timeout: 90}
  metrics: {enabled: true, interval_seconds: 10}
"""
    )
    assert canonical.manifest is not None and original.manifest is not None

    first, second = canonical.manifest.to_snapshot(), original.manifest.to_snapshot()
    assert first.pop("descriptions") == second.pop("descriptions")
    assert first == second
    assert canonical.warnings == original.warnings == ()


def test_empty_or_null_dependencies_and_legacy_entrypoints() -> None:
    manifest = load_ok("legacy_null_dependencies").manifest
    assert manifest is not None

    assert manifest.dependencies == ()
    assert manifest.permissions == ()
    assert dict(manifest.entrypoints) == {
        "on_scan": "legacy_counter.hooks",
        "on_analyze": "hooks:analyze",
    }
    assert manifest.legacy is True
    assert manifest.kind == "system"


def test_second_spellings_and_unknown_fields_are_warned_about() -> None:
    result = load_ok("both_spellings")
    manifest = result.manifest
    assert manifest is not None

    assert manifest.jupiter_version == ">=1.0"
    assert manifest.capabilities.health.interval == 30
    assert {str(warning) for warning in result.warnings} == {
        "jupiter_version: ignored: jupiter.version is given and takes precedence (line 8)",
        "capabilities.health_check: ignored: health is given and takes precedence (line 13)",
        "capabilities.health.interval_seconds: ignored: interval is given and takes precedence"
        " (line 12)",
        "author.nickname: unknown field, ignored (line 17)",
    }


def test_name_defaults_to_english_then_first_language() -> None:
    english = parse(base=MINIMAL.replace("name: Sample", "name: {fr: Exemple, en-GB: Sample}"))
    french = parse(base=MINIMAL.replace("name: Sample", "name: {fr: Exemple, de: Beispiel}"))
    assert english.manifest is not None and french.manifest is not None

    assert english.manifest.name == "Sample"
    assert french.manifest.name == "Exemple"


def test_single_entrypoint_merges_with_the_table() -> None:
    merged = parse('entrypoints: {health: "plugin:health"}\n')
    conflicting = parse('entrypoints: {register: "other:register"}\n')
    assert merged.manifest is not None and conflicting.manifest is not None

    assert dict(merged.manifest.entrypoints) == {
        "register": "plugin:register",
        "health": "plugin:health",
    }
    assert conflicting.manifest.entrypoints["register"] == "other:register"
    assert conflicting.warnings[0].field == "entrypoint"


def test_tab_and_tabs_are_one_tab() -> None:
    listed = parse("ui:\n  tabs: [{title: Overview}]\n")
    both = parse("ui:\n  tab: {title: Main}\n  tabs: [{title: Other}]\n")
    assert listed.manifest is not None and both.manifest is not None

    assert listed.manifest.ui.tab is not None and listed.manifest.ui.tab.title == "Overview"
    assert both.manifest.ui.tab is not None and both.manifest.ui.tab.title == "Main"
    assert both.warnings[0].field == "ui.tabs"


def test_tab_title_defaults_to_the_plugin_name() -> None:
    result = parse("ui:\n  tab: {icon: chart}\n")
    assert result.manifest is not None and result.manifest.ui.tab is not None

    assert result.manifest.ui.tab.title == "Sample"


# --- invalid manifests -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "field", "line", "fragment"),
    [
        ("missing_field", "version", None, "required field is missing"),
        ("wrong_type", "capabilities.metrics.enabled", 8, "expected boolean, got 'sometimes'"),
        ("bad_specifier", "dependencies[1].version", 10, "'abc' is not a valid version specifier"),
        ("bad_version", "version", 3, "not a valid PEP 440 version"),
        ("yaml_syntax", "", 7, "invalid YAML"),
        ("alias_bomb", "", 6, "anchors and aliases are not allowed"),
        ("non_mapping", "", 1, "expected a mapping at the top level"),
        ("two_tabs", "ui.tabs", 7, "at most one tab"),
        ("bad_id", "id", 1, "lowercase Python identifier"),
        ("bad_config_schema", "config_schema.schema.properties.port.type", 12, "'integr'"),
    ],
)
def test_invalid_fixture_names_the_field_and_line(
    case: str, field: str, line: int | None, fragment: str
) -> None:
    error = only_error(load_manifest(FIXTURES / case))

    assert error.field == field
    assert error.line == line
    assert fragment in error.message


def test_oversize_fixture_is_refused_before_parsing() -> None:
    error = only_error(load_manifest(FIXTURES / "oversize", max_bytes=4096))

    assert "larger than 4096 bytes" in error.message
    assert load_manifest(FIXTURES / "oversize").ok


def test_issue_text_names_field_message_and_line() -> None:
    issue = ManifestIssue("dependencies[0].version", "'abc' is not a valid version specifier", 12)

    assert str(issue) == "dependencies[0].version: 'abc' is not a valid version specifier (line 12)"
    assert str(ManifestIssue("", "invalid YAML")) == "invalid YAML"


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        (MINIMAL.replace('version: "1.0.0"', "version: 1.0"), "version", "quote the value"),
        (
            MINIMAL.replace("type: tool", "type: plugin"),
            "type",
            "expected one of system, tool, core",
        ),
        (MINIMAL.replace('entrypoint: "plugin:register"\n', ""), "entrypoint", "or entrypoints"),
        (MINIMAL.replace("plugin:register", "plugin:register()"), "entrypoint", "module:function"),
        (MINIMAL.replace("id: sample", "id: class"), "id", "Python keyword"),
        (MINIMAL + "permissions: fs_read\n", "permissions", "expected list or mapping"),
        (MINIMAL + "permissions: {fs_read: maybe}\n", "permissions.fs_read", "expected boolean"),
        (MINIMAL + "permissions: [Write Files]\n", "permissions[0]", "permission name"),
        (MINIMAL + "dependencies: {sample: '>=1'}\n", "dependencies.sample", "itself"),
        (MINIMAL + "dependencies: {other: '1.0'}\n", "dependencies.other", "did you mean '==1.0'"),
        (MINIMAL + "dependencies: [{id: a}, {id: a}]\n", "dependencies[1]", "duplicate"),
        (MINIMAL + "jupiter: {version: '>=1.0;<2'}\n", "jupiter.version", "specifier"),
        (MINIMAL + "jupiter_version: 2\n", "jupiter_version", "expected string"),
        (MINIMAL + "extends: sample\n", "extends", "itself"),
        (MINIMAL + "capabilities: {jobs: {timeout: -1}}\n", "capabilities.jobs.timeout", "> 0"),
        (
            MINIMAL + "ui: {panels: [{id: p, template: ../../etc/passwd}]}\n",
            "ui.panels[0].template",
            "inside",
        ),
        (
            MINIMAL + "ui: {panels: [{id: p}], widgets: [{id: p}]}\n",
            "ui.widgets[0].id",
            "duplicate",
        ),
        (MINIMAL + "ui: {panels: [{title: x}]}\n", "ui.panels[0].id", "required"),
        (MINIMAL + "author: {email: a@b.c}\n", "author.name", "required"),
        (MINIMAL.replace("name: Sample", "name: {}"), "name", "must not be empty"),
        (
            MINIMAL + "config_schema:\n  version: 2\n  schema: {}\n  migrations:\n"
            "    - {from: 2, to: 3, entrypoint: 'm:up'}\n",
            "config_schema.migrations[0].to",
            "config_schema.version is 2",
        ),
        (
            MINIMAL + "config_schema: {schema: {$schema: 'https://example.org/mine'}}\n",
            "config_schema.schema.$schema",
            "unsupported",
        ),
        (MINIMAL + "config_schema: {version: 1}\n", "config_schema.schema", "required"),
    ],
)
def test_invalid_value_names_the_field(text: str, field: str, fragment: str) -> None:
    result = parse_manifest(text, source=SOURCE)

    assert result.manifest is None
    assert field in [error.field for error in result.errors], [str(e) for e in result.errors]
    assert any(fragment in error.message for error in result.errors if error.field == field)


def test_all_errors_are_reported_at_once() -> None:
    result = parse(
        "dependencies: [{id: a, version: nope}]\npermissions: 3\n",
        base=MINIMAL.replace('"1.0.0"', '"v1 beta"'),
    )

    assert {error.field for error in result.errors} == {
        "version",
        "dependencies[0].version",
        "permissions",
    }


def test_load_never_raises_for_a_missing_manifest(tmp_path: Path) -> None:
    error = only_error(load_manifest(tmp_path))

    assert "cannot read plugin.yaml" in error.message


def test_manifest_link_leading_outside_the_plugin_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text(MINIMAL)
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "plugin.yaml").symlink_to(secret)

    assert "outside the plugin folder" in only_error(load_manifest(plugin)).message


def test_manifest_link_inside_the_plugin_is_followed(tmp_path: Path) -> None:
    (tmp_path / "manifest.yaml").write_text(MINIMAL)
    (tmp_path / "plugin.yaml").symlink_to(tmp_path / "manifest.yaml")

    assert load_manifest(tmp_path).ok


# --- compatibility (M4) ----------------------------------------------------------------------


def test_incompatible_jupiter_version_gives_a_reason() -> None:
    manifest = load_ok("incompatible").manifest
    assert manifest is not None

    assert compatibility_issue(manifest, "1.2.0") == ("requires Jupiter >=2.0,<3 but this is 1.2.0")
    assert compatibility_issue(manifest, "2.5.0") is None


def test_compatible_and_unconstrained_manifests() -> None:
    complete = load_ok("complete").manifest
    minimal = load_ok("minimal").manifest
    assert complete is not None and minimal is not None

    assert compatibility_issue(complete) is None
    assert compatibility_issue(complete, "1.9.0.dev3") is None
    assert compatibility_issue(minimal, "99.0") is None
    assert compatibility_issue(complete, JUPITER_VERSION) is None


# --- the schemas -----------------------------------------------------------------------------


def test_published_schema_documents_every_property() -> None:
    missing: list[str] = []

    def visit(schema: object, path: str) -> None:
        if isinstance(schema, dict):
            for name, sub in schema.get("properties", {}).items():
                if not (sub.get("title") and sub.get("description")):
                    missing.append(f"{path}.{name}")
            for key, sub in schema.items():
                visit(sub, f"{path}.{key}")
        elif isinstance(schema, list):
            for index, sub in enumerate(schema):
                visit(sub, f"{path}[{index}]")

    visit(PLUGIN_SCHEMA, "")

    assert missing == []
    jsonschema.Draft202012Validator.check_schema(PLUGIN_SCHEMA)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "string", "default": "x"}}},
        {"type": "strin"},
        {"properties": {"a": {"minimum": "x"}}, "required": "a"},
        {"properties": {"a": {"pattern": "(("}}},
        {"$defs": {"x": {"type": 3}}, "items": {"$ref": "#/$defs/x"}},
        {"anyOf": []},
        {"dependencies": {"a": ["b", 1]}},
        {"$id": "#frag"},
        True,
    ],
)
def test_fast_metaschema_agrees_with_the_official_one(schema: object) -> None:
    official = jsonschema.Draft202012Validator(
        jsonschema.Draft202012Validator.META_SCHEMA,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    fast = _metaschema_validator(jsonschema.Draft202012Validator)

    def paths(validator: jsonschema.protocols.Validator) -> set[tuple[object, ...]]:
        return {tuple(error.absolute_path) for error in validator.iter_errors(schema)}

    assert paths(fast) == paths(official)


def test_fast_path_never_accepts_what_jsonschema_rejects() -> None:
    """`_accepts` may only skip jsonschema for documents the published schema accepts."""
    official = jsonschema.Draft202012Validator(
        PLUGIN_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    meta = _metaschema_validator(jsonschema.Draft202012Validator)
    official_meta = jsonschema.Draft202012Validator(
        jsonschema.Draft202012Validator.META_SCHEMA,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    originals = [
        read_yaml(FIXTURES / case / "plugin.yaml").data for case in ("complete", "dialect_original")
    ]
    replacements = [None, True, 0, -1, 1.5, "", "Bad Name", "../x", [], [1], {}, {"type": "strin"}]
    rng = random.Random(2024)
    accepted = 0
    for _ in range(400):
        document = copy.deepcopy(rng.choice(originals))
        node, key = document, rng.choice(list(document))
        while isinstance(node[key], dict | list) and node[key] and rng.random() < 0.7:
            node = node[key]
            key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        node[key] = copy.deepcopy(rng.choice(replacements))

        fast = _accepts(_VALIDATOR, _VALIDATOR.schema, document, _VALIDATOR.schema)
        assert _VALIDATOR.is_valid(document) == official.is_valid(document)
        assert not fast or official.is_valid(document)
        accepted += fast
        config = document.get("config_schema")
        if isinstance(config, dict) and isinstance(config.get("schema"), dict):
            schema = config["schema"]
            assert not _accepts(meta, meta.schema, schema, meta.schema) or official_meta.is_valid(
                schema
            )
    assert accepted > 0


def test_valid_manifests_take_the_fast_path() -> None:
    for case in ("minimal", "complete", "dialect_original", "legacy_null_dependencies"):
        data = read_yaml(FIXTURES / case / "plugin.yaml").data

        assert _accepts(_VALIDATOR, _VALIDATOR.schema, data, _VALIDATOR.schema), case


def test_deeply_nested_config_schema_is_an_error_not_a_crash() -> None:
    schema = "{properties: {a: " * MAX_DEPTH + "{}" + "}}" * MAX_DEPTH

    error = only_error(parse(f"config_schema: {{schema: {schema}}}\n"))

    assert "nested deeper than" in error.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Jane Doe <jane@example.org> (https://example.org)",
            ("Jane Doe", "jane@example.org", "https://example.org"),
        ),
        ("Jane Doe <jane@example.org>", ("Jane Doe", "jane@example.org", "")),
        ("Jane Doe (https://example.org)", ("Jane Doe", "", "https://example.org")),
        ("  Jane Doe  ", ("Jane Doe", "", "")),
    ],
)
def test_author_strings_are_split(text: str, expected: tuple[str, str, str]) -> None:
    assert tuple(parse_author(text).values()) == expected


def test_field_names_use_dots_and_indexes() -> None:
    assert field_name(("dependencies", 0, "version")) == "dependencies[0].version"
    assert field_name(("ui", "tabs")) == "ui.tabs"
    assert field_name(()) == ""
