"""The manifest reference for plugin authors, generated from the published JSON Schema.

``docs/manifest-reference.md`` is this module's output (``manage.py jupiter_docs``); a test
fails when the committed file differs, so the reference can never drift from the schema the
host validates with. Every field gets a row: its path (``dependencies[].version``), type,
whether it is required, its title and description, and its constraints and default.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from plugins_app.manifest.schema import SCHEMA_PATH

REFERENCE_PATH = Path(__file__).resolve().parents[2] / "docs" / "manifest-reference.md"
_CONSTRAINTS = (
    ("enum", "one of"),
    ("pattern", "pattern"),
    ("minimum", "minimum"),
    ("exclusiveMinimum", "greater than"),
    ("maximum", "maximum"),
    ("minLength", "min length"),
    ("maxLength", "max length"),
    ("minItems", "min items"),
    ("maxItems", "max items"),
    ("minProperties", "min entries"),
)


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """``node`` with a ``#/$defs/`` reference merged in (the node's own keys win)."""
    ref = node.get("$ref", "")
    if not ref.startswith("#/$defs/"):
        return dict(node)
    target = _resolve(defs[ref.rsplit("/", 1)[1]], defs)
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}


def _type(node: Mapping[str, Any]) -> str:
    enum_types = sorted({type(v).__name__.replace("str", "string") for v in node.get("enum", [])})
    kind = node.get("type", enum_types or "any")
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _constraints(node: Mapping[str, Any]) -> str:
    parts = []
    for key, label in _CONSTRAINTS:
        if key in node:
            value = node[key]
            shown = ", ".join(f"`{v}`" for v in value) if key == "enum" else f"`{value}`"
            parts.append(f"{label} {shown}")
    if "default" in node:
        parts.append(f"default `{json.dumps(node['default'])}`")
    if node.get("examples"):
        parts.append("e.g. " + ", ".join(f"`{e}`" for e in node["examples"]))
    return "; ".join(parts)


def _rows(
    node: Mapping[str, Any], path: str, required: bool, defs: Mapping[str, Any]
) -> Iterator[tuple[str, str, str, str, str]]:
    node = _resolve(node, defs)
    about = node.get("title", "")
    if node.get("description"):
        about = f"**{about}.** {node['description']}" if about else node["description"]
    yield path, _type(node), "yes" if required else "", about, _constraints(node)
    needed = set(node.get("required", []))
    for name, child in (node.get("properties") or {}).items():
        yield from _rows(child, f"{path}.{name}", name in needed, defs)
    items = node.get("items")
    if isinstance(items, Mapping):
        item = _resolve(items, defs)
        if item.get("properties"):
            needed = set(item.get("required", []))
            for name, child in item["properties"].items():
                yield from _rows(child, f"{path}[].{name}", name in needed, defs)
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping) and extra:
        yield from _rows(extra, f"{path}.<name>", False, defs)


def render(schema: Mapping[str, Any]) -> str:
    """The Markdown reference of ``schema`` (deterministic: same schema, same text)."""
    defs = schema.get("$defs", {})
    needed = set(schema.get("required", []))
    lines = [
        "# Manifest reference (`plugin.yaml`)",
        "",
        "<!-- Generated from plugins_app/schemas/plugin.schema.json by "
        "`manage.py jupiter_docs`; do not edit by hand. -->",
        "",
        schema.get("description", ""),
        "",
        "Exactly one of `entrypoint` (a single `module:function`) and `entrypoints` (a table) "
        "is needed. Check a manifest with `manage.py jupiter_plugins validate PATH`: every "
        "problem is printed with its field path and line.",
        "",
    ]
    for name, node in schema.get("properties", {}).items():
        if name == "$schema":
            continue
        lines += [f"## `{name}`", ""]
        lines += [
            "| field | type | required | meaning | constraints |",
            "| --- | --- | --- | --- | --- |",
        ]
        for path, kind, req, about, constraints in _rows(node, name, name in needed, defs):
            cells = (f"`{_cell(path)}`", _cell(kind), req, _cell(about), _cell(constraints))
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def current() -> str:
    return render(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
