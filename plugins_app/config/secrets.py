"""Secret settings (``writeOnly`` or ``format: password``) and dotted paths into values.

Config, services and observability keep secrets out of exports and the audit trail, so these
helpers live in ``config`` rather than beside the settings form (``web.autoui.schema``), which
imports them from here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

#: Keywords that make a schema one the settings form edits as JSON text, not as a group.
COMPOSITE_KEYWORDS = ("anyOf", "oneOf", "allOf", "$ref", "patternProperties", "if")


def is_secret(schema: Any) -> bool:
    """``writeOnly`` or ``format: password``: accepted from the form, never sent back to it."""
    return isinstance(schema, Mapping) and (
        schema.get("writeOnly") is True or schema.get("format") == "password"
    )


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _is_group(schema: Mapping[str, Any]) -> bool:
    """A nested object of named fields (the form's ``object`` kind): secrets are looked for
    inside it, not inside arrays, maps, enums or composite schemas."""
    if any(key in schema for key in COMPOSITE_KEYWORDS) or is_secret(schema):
        return False
    choices = schema.get("enum")
    if isinstance(choices, list) and choices and all(_scalar(value) for value in choices):
        return False
    declared = schema.get("type")
    if isinstance(declared, list):
        declared = next((t for t in declared if t != "null"), None)
    return declared in ("object", None) and isinstance(schema.get("properties"), Mapping)


def secret_paths(schema: Any, prefix: str = "") -> list[str]:
    """Dotted paths of secret fields, through nested objects (not inside arrays)."""
    found: list[str] = []
    props = schema.get("properties") if isinstance(schema, Mapping) else None
    if not isinstance(props, Mapping):
        return found
    for name, subschema in props.items():
        if not isinstance(subschema, Mapping):
            continue
        path = f"{prefix}{name}"
        if is_secret(subschema):
            found.append(path)
        elif _is_group(subschema):
            found.extend(secret_paths(subschema, f"{path}."))
    return found


def get_path(values: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """The value at dotted ``path``, or ``default`` where any part of it is missing."""
    node: Any = values
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return node


def without_secrets(schema: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``values`` minus every secret field: for exports and the audit trail."""
    result = copy.deepcopy(dict(values))
    for path in secret_paths(schema):
        *parents, leaf = path.split(".")
        node: Any = result
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    return result
