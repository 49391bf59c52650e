"""A posted settings form back into config values, and into the layer to store (SPEC U2, S3).

Reading follows the schema, not the posted keys, so a forged field the schema does not
describe is never stored. An empty input means "not set": the layer below (default, or
global for a project) applies again, except for a required field, where it is an error (a
required setting is one the person must give, not one that silently reverts). Secrets left
empty keep their current value, because the form never shows them (``forms.py``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from plugins_app.base import boundedjson
from plugins_app.base.errors import JupiterError
from plugins_app.config.secrets import get_path
from plugins_app.web.autoui.forms import PREFIX, choice_value
from plugins_app.web.autoui.schema import kind_of, properties

_MISSING = object()


class FormData(Protocol):
    """What a ``QueryDict`` offers (and a plain test double can)."""

    def get(self, key: str, default: Any = None) -> Any: ...
    def getlist(self, key: str) -> list[Any]: ...
    def __iter__(self) -> Any: ...


class _Invalid(JupiterError, ValueError):
    """A typed value that cannot be the schema's type; the message is shown by the field."""


@dataclass(frozen=True)
class Submission:
    """Parsed values, messages for inputs that could not be read, and what was typed there."""

    values: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)


class _Reader:
    def __init__(self, data: FormData, previous: Mapping[str, Any]) -> None:
        self.data = data
        self.previous = previous
        self.errors: dict[str, list[str]] = {}
        self.raw: dict[str, str] = {}
        self.keys = [str(key) for key in data]

    def object(self, schema: Mapping[str, Any], prefix: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        required = schema.get("required")
        required = set(required) if isinstance(required, list) else set()
        for name, subschema in properties(schema):
            path = f"{prefix}{name}"
            value = self.value(subschema, path)
            if value is not _MISSING:
                result[name] = value
            elif name in required and self.emptied(subschema, path):
                self.fail(path, "This field is required.")
        return result

    def emptied(self, schema: Mapping[str, Any], path: str) -> bool:
        """A required input the person cleared: posted, empty, and not already refused.

        Only a posted input counts: a field the form did not send (a partial post from a
        script) keeps inheriting, and schema validation still applies to the result.
        """
        if path in self.errors or kind_of(schema) in ("object", "list", "boolean"):
            return False
        return f"{PREFIX}.{path}" in self.keys

    def value(self, schema: Mapping[str, Any], path: str) -> Any:
        kind = kind_of(schema)
        key = f"{PREFIX}.{path}"
        if schema.get("readOnly") is True:
            return get_path(self.previous, path, _MISSING)
        if kind == "object":
            return self.object(schema, f"{path}.") or _MISSING
        if kind == "list":
            return self.rows(schema, path)
        if kind == "boolean":
            return self.data.get(key) == "true"
        if kind == "multi":
            options = schema["items"]["enum"]
            picked = [str(v) for v in self.data.getlist(key)]
            unknown = set(picked) - {choice_value(o) for o in options}
            if unknown:
                self.fail(path, f"{sorted(unknown)[0]!r} is not one of the choices")
            return [o for o in options if choice_value(o) in picked]
        text = self.data.get(key)
        text = text if isinstance(text, str) else ""
        if kind == "secret":
            return text if text else get_path(self.previous, path, _MISSING)
        if text == "":
            return _MISSING
        try:
            return _parse(schema, kind, text)
        except _Invalid as exc:
            self.raw[path] = text
            self.fail(path, str(exc))
            return _MISSING

    def rows(self, schema: Mapping[str, Any], path: str) -> Any:
        """Row indices as posted (rows can be removed or added client-side), in page order."""
        if f"{PREFIX}.{path}.__list" not in self.keys:
            return _MISSING
        prefix = f"{PREFIX}.{path}."
        indices: list[str] = []
        for key in self.keys:
            if key.startswith(prefix):
                index = key[len(prefix) :].split(".", 1)[0]
                if index.isdigit() and index not in indices:
                    indices.append(index)
        items = schema.get("items")
        items = items if isinstance(items, Mapping) else {}
        result = []
        for index in indices:
            item = self.value(items, f"{path}.{index}")
            if item is not _MISSING:
                result.append(item)
        return result

    def fail(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)


def _parse(schema: Mapping[str, Any], kind: str, text: str) -> Any:
    if kind == "enum":
        for option in schema["enum"]:
            if choice_value(option) == text:
                return option
        raise _Invalid(f"{text!r} is not one of the choices")
    if kind == "integer":
        try:
            return int(text.strip())
        except ValueError:
            raise _Invalid("Enter a whole number.") from None
    if kind == "number":
        try:
            return int(text.strip())
        except ValueError:
            pass
        try:
            number = float(text.strip())
        except ValueError:
            raise _Invalid("Enter a number.") from None
        if not math.isfinite(number):
            raise _Invalid("Enter a finite number.")
        return number
    if kind == "json":
        try:
            return boundedjson.loads(text)
        except json.JSONDecodeError as exc:
            raise _Invalid(f"Enter valid JSON ({exc.msg}, line {exc.lineno}).") from None
        except boundedjson.JsonTooDeep as exc:
            raise _Invalid(f"Enter valid JSON ({exc}).") from None
    return text


def parse_submission(
    schema: Mapping[str, Any] | None, data: FormData, previous: Mapping[str, Any]
) -> Submission:
    """Read the form for ``schema``; ``previous`` supplies secrets and read-only values."""
    reader = _Reader(data, previous)
    values = reader.object(schema or {}, "")
    return Submission(values=values, errors=reader.errors, raw=reader.raw)


def layer_from(
    submitted: Mapping[str, Any], inherited: Mapping[str, Any], existing: Mapping[str, Any]
) -> dict[str, Any]:
    """The layer to store so that ``inherited`` <- layer == ``submitted``, keeping pins.

    A leaf is stored when it differs from what it would inherit, or when the layer already
    held it (an explicit override stays one until "reset"). Leaves left unset are dropped, so
    clearing a field makes it inherit again; so is an empty list where nothing is inherited.
    Lists are leaves, objects are walked.
    """
    result: dict[str, Any] = {}
    for key, value in submitted.items():
        below = inherited.get(key, _MISSING)
        held = existing.get(key, _MISSING)
        below_map = below if isinstance(below, Mapping) else ({} if below is _MISSING else None)
        if isinstance(value, Mapping) and value and below_map is not None:
            nested = layer_from(value, below_map, held if isinstance(held, Mapping) else {})
            if nested:
                result[key] = nested
        elif held is not _MISSING or (value != below and not (below is _MISSING and value == [])):
            result[key] = value
    return result
