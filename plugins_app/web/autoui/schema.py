"""How one JSON Schema property is shown and read back by the settings form (SPEC U2).

Plugin schemas are arbitrary JSON Schema; the form handles the shapes people write for
settings (scalars with constraints, enums, arrays of scalars or of objects, nested objects)
and shows anything else (``anyOf``, ``$ref``, maps...) as a JSON text area, validated like
the rest, so no schema makes a setting impossible to edit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from plugins_app.config.secrets import COMPOSITE_KEYWORDS, is_secret

Kind = Literal[
    "object", "boolean", "integer", "number", "string", "enum", "secret", "multi", "list", "json"
]
_SCALARS = ("boolean", "integer", "number", "string")


def main_type(schema: Mapping[str, Any]) -> str:
    """The schema's type; ``["string", "null"]`` counts as ``string`` (null means unset)."""
    declared = schema.get("type")
    if isinstance(declared, list):
        declared = next((t for t in declared if t != "null"), None)
    if declared is None and isinstance(schema.get("properties"), Mapping):
        return "object"
    return declared if isinstance(declared, str) else ""


def _scalar_enum(schema: Mapping[str, Any]) -> bool:
    choices = schema.get("enum")
    return (
        isinstance(choices, list)
        and bool(choices)
        and all(value is None or isinstance(value, str | int | float | bool) for value in choices)
    )


def kind_of(schema: Any) -> Kind:
    """Which widget family edits values of ``schema``."""
    if not isinstance(schema, Mapping) or any(key in schema for key in COMPOSITE_KEYWORDS):
        return "json"
    if is_secret(schema):
        return "secret"
    if _scalar_enum(schema):
        return "enum"
    kind = main_type(schema)
    if kind == "object":
        return "object" if isinstance(schema.get("properties"), Mapping) else "json"
    if kind == "array":
        items = schema.get("items")
        if isinstance(items, Mapping) and _scalar_enum(items):
            return "multi"
        item_kind = kind_of(items)
        return "list" if item_kind in (*_SCALARS, "enum", "object") else "json"
    return kind if kind in _SCALARS else "json"  # type: ignore[return-value]


def properties(schema: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """An object schema's properties that are themselves schemas, in declaration order."""
    props = schema.get("properties")
    if isinstance(props, Mapping):
        for name, subschema in props.items():
            if isinstance(subschema, Mapping):
                yield str(name), subschema


def label_of(name: str, schema: Mapping[str, Any]) -> str:
    title = schema.get("title")
    return title if isinstance(title, str) and title.strip() else name.replace("_", " ").title()


def text_of(schema: Mapping[str, Any], key: str) -> str:
    value = schema.get(key)
    return value if isinstance(value, str) else ""
