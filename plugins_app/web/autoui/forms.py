"""A plugin's ``config_schema.schema`` as a server-rendered settings form (SPEC U2, S3).

``build_form`` turns a schema and the values to show into a tree of ``FormField`` values
that ``templates/plugins_app/autoui/field.html`` renders recursively; everything shown comes
from the plugin (titles, descriptions, enum labels) and is autoescaped there. Field names are
``cfg.<dotted path>`` (list rows ``cfg.<path>.<index>``), read back by ``submit.py``.

No library was used: the Django JSON-Schema form packages render in the browser with
JavaScript widgets, which cannot show per-field provenance, "reset to global", HTMX inline
errors or write-only secrets; this renderer is small and tested instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from plugins_app.web.autoui.schema import Kind, kind_of, label_of, properties, text_of

Scope = Literal["global", "project"]
NEW_ROW = "__index__"
PREFIX = "cfg"
_SOURCE_LABELS = {
    ("project", "project"): "overridden here",
    ("project", "global"): "inherited from global",
    ("project", "default"): "default",
    ("global", "global"): "set globally",
    ("global", "default"): "default",
}
_INPUT_TYPES = {"email": "email", "uri": "url", "date": "date", "time": "time"}


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    selected: bool


@dataclass(frozen=True)
class FormField:
    """One field (or fieldset, or list) of the settings form."""

    path: str
    name: str
    html_id: str
    kind: Kind
    label: str
    help: str = ""
    constraints: str = ""
    required: bool = False
    read_only: bool = False
    value: str = ""
    checked: bool = False
    input_type: str = "text"
    attrs: tuple[tuple[str, str], ...] = ()
    choices: tuple[Choice, ...] = ()
    children: tuple[FormField, ...] = ()
    rows: tuple[FormField, ...] = ()
    new_row: FormField | None = None
    errors: tuple[str, ...] = ()
    source: str = ""
    source_label: str = ""
    secret_set: bool = False
    is_row: bool = False
    resettable: bool = False

    @property
    def is_scalar(self) -> bool:
        return self.kind in ("string", "integer", "number")


@dataclass(frozen=True)
class SettingsForm:
    """The whole form; ``errors`` are whole-config errors and those no field can show."""

    scope: Scope
    fields: tuple[FormField, ...]
    errors: tuple[str, ...] = ()

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(_has_errors(f) for f in self.fields)


def _has_errors(node: FormField) -> bool:
    return bool(node.errors) or any(_has_errors(c) for c in (*node.children, *node.rows))


def choice_value(choice: Any) -> str:
    """What an ``<option>`` submits: strings as they are, other JSON values as JSON."""
    return choice if isinstance(choice, str) else json.dumps(choice)


def html_id(path: str) -> str:
    return f"{PREFIX}-" + re.sub(r"[^A-Za-z0-9_]+", "-", path)


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    return repr(value)


def _characters(count: int) -> str:
    return "1 character" if count == 1 else f"{count} characters"


def _constraints(schema: Mapping[str, Any], kind: Kind) -> tuple[list[tuple[str, str]], str]:
    """HTML attributes and a human summary of the schema's limits."""
    attrs: list[tuple[str, str]] = []
    notes: list[str] = []
    if kind == "string":
        low, high = schema.get("minLength"), schema.get("maxLength")
        if isinstance(low, int):
            attrs.append(("minlength", str(low)))
        if isinstance(high, int):
            attrs.append(("maxlength", str(high)))
        if isinstance(low, int) and isinstance(high, int):
            notes.append(f"{low}-{high} characters")
        elif isinstance(high, int):
            notes.append(f"at most {_characters(high)}")
        elif low == 1:
            notes.append("not empty")
        elif isinstance(low, int) and low > 0:
            notes.append(f"at least {_characters(low)}")
        if isinstance(schema.get("pattern"), str):
            notes.append(f"must match {schema['pattern']}")
        if isinstance(schema.get("format"), str):
            notes.append(f"format: {schema['format']}")
    elif kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if isinstance(low, int | float):
            attrs.append(("min", _number(low)))
        if isinstance(high, int | float):
            attrs.append(("max", _number(high)))
        step = schema.get("multipleOf")
        attrs.append(("step", _number(step) if step else ("1" if kind == "integer" else "any")))
        if low is not None and high is not None:
            notes.append(f"from {_number(low)} to {_number(high)}")
        elif low is not None:
            notes.append(f"at least {_number(low)}")
        elif high is not None:
            notes.append(f"at most {_number(high)}")
    return attrs, "; ".join(notes)


class _Builder:
    def __init__(
        self,
        scope: Scope,
        sources: Mapping[str, str],
        errors: Mapping[str, list[str]],
        raw: Mapping[str, str],
    ) -> None:
        self.scope = scope
        self.sources = sources
        self.errors = errors
        self.raw = raw
        self.shown: set[str] = set()

    def source(self, path: str) -> str:
        """A leaf's layer; for a value made of several leaves, the most specific layer."""
        if path in self.sources:
            return self.sources[path]
        found = {s for p, s in self.sources.items() if p.startswith(f"{path}.")}
        return next((s for s in ("project", "global", "default") if s in found), "")

    def errors_at(self, path: str) -> tuple[str, ...]:
        self.shown.add(path)
        return tuple(self.errors.get(path, ()))

    def fields(self, schema: Mapping[str, Any], values: Any, prefix: str) -> tuple[FormField, ...]:
        required = schema.get("required")
        required = set(required) if isinstance(required, list) else set()
        values = values if isinstance(values, Mapping) else {}
        return tuple(
            self.field(name, sub, f"{prefix}{name}", values.get(name), name in required)
            for name, sub in properties(schema)
        )

    def field(
        self,
        name: str,
        schema: Mapping[str, Any],
        path: str,
        value: Any,
        required: bool,
        *,
        is_row: bool = False,
        label: str = "",
    ) -> FormField:
        kind = kind_of(schema)
        source = "" if is_row else self.source(path)
        common: dict[str, Any] = {
            "path": path,
            "name": f"{PREFIX}.{path}",
            "html_id": html_id(path),
            "kind": kind,
            "label": label or label_of(name, schema),
            "help": text_of(schema, "description"),
            "required": required,
            "read_only": schema.get("readOnly") is True,
            "errors": self.errors_at(path),
            "source": source,
            "source_label": _SOURCE_LABELS.get((self.scope, source), ""),
            "is_row": is_row,
            "resettable": not is_row
            and source == ("project" if self.scope == "project" else "global"),
        }
        if kind == "object":
            return FormField(**common, children=self.fields(schema, value, f"{path}."))
        if kind == "list":
            return self.list_field(schema, value, common)
        if kind in ("enum", "multi"):
            return self.choice_field(schema, value, common)
        if kind == "boolean":
            return FormField(**common, checked=value is True)
        if kind == "secret":
            return FormField(**common, input_type="password", secret_set=bool(value))
        if kind == "json":
            text = "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)
            return FormField(**common, value=self.raw.get(path, text))
        attrs, notes = _constraints(schema, kind)
        shown = (
            _number(value)
            if kind in ("integer", "number")
            else ("" if value is None else str(value))
        )
        input_type = (
            "number" if kind != "string" else _INPUT_TYPES.get(str(schema.get("format")), "text")
        )
        return FormField(
            **common,
            value=self.raw.get(path, shown),
            input_type=input_type,
            attrs=tuple(attrs),
            constraints=notes,
        )

    def list_field(
        self, schema: Mapping[str, Any], value: Any, common: dict[str, Any]
    ) -> FormField:
        items = schema.get("items")
        items = items if isinstance(items, Mapping) else {}
        path, label = common["path"], common["label"]
        rows = tuple(
            self.field(
                str(i), items, f"{path}.{i}", item, True, is_row=True, label=f"{label} {i + 1}"
            )
            for i, item in enumerate(value if isinstance(value, list) else [])
        )
        new_row = self.field(
            NEW_ROW, items, f"{path}.{NEW_ROW}", None, True, is_row=True, label=f"{label} (new)"
        )
        notes = []
        if isinstance(schema.get("minItems"), int):
            notes.append(f"at least {schema['minItems']} items")
        if isinstance(schema.get("maxItems"), int):
            notes.append(f"at most {schema['maxItems']} items")
        return FormField(**common, rows=rows, new_row=new_row, constraints="; ".join(notes))

    def choice_field(
        self, schema: Mapping[str, Any], value: Any, common: dict[str, Any]
    ) -> FormField:
        multi = common["kind"] == "multi"
        options = (schema["items"] if multi else schema)["enum"]
        chosen = value if multi and isinstance(value, list) else [value]
        labels = schema.get("x-enum-labels") if not multi else schema["items"].get("x-enum-labels")
        labels = labels if isinstance(labels, Mapping) else {}
        choices = tuple(
            Choice(choice_value(o), str(labels.get(choice_value(o), choice_value(o))), o in chosen)
            for o in options
        )
        return FormField(**common, choices=choices)


def build_form(
    schema: Mapping[str, Any] | None,
    values: Mapping[str, Any],
    *,
    scope: Scope,
    sources: Mapping[str, str] | None = None,
    errors: Mapping[str, list[str]] | None = None,
    raw: Mapping[str, str] | None = None,
) -> SettingsForm:
    """The form showing ``values``; ``raw`` holds what was typed where it could not be parsed
    (shown back as typed), ``errors`` the messages by dotted path, ``sources`` each leaf's layer.
    """
    errors = errors or {}
    builder = _Builder(scope, sources or {}, errors, raw or {})
    fields = builder.fields(schema or {}, values, "")
    leftover = tuple(
        f"{path}: {message}" if path else message
        for path, messages in errors.items()
        if path not in builder.shown
        for message in messages
    )
    return SettingsForm(scope=scope, fields=fields, errors=leftover)


_KIND_WORDS = {
    "boolean": "On or off",
    "integer": "A whole number",
    "number": "A number",
    "string": "Text",
    "enum": "One of the choices",
    "multi": "Any of the choices",
    "secret": "A secret, stored and never shown again",
    "list": "A list",
    "object": "A group of settings",
    "json": "A JSON value",
}


def _summary(schema: Mapping[str, Any]) -> str:
    """What a setting without a description holds, from its schema: kind, limits, default."""
    kind = kind_of(schema)
    parts = [_KIND_WORDS.get(kind, "A value")]
    _attrs, notes = _constraints(schema, kind)
    if notes:
        parts[0] += f" ({notes})"
    if kind in ("enum", "multi"):
        options = schema["enum"] if kind == "enum" else schema["items"]["enum"]
        parts.append("choices: " + ", ".join(choice_value(o) for o in options))
    if "default" in schema and kind not in ("object", "secret"):
        default = schema["default"]
        shown = json.dumps(default, ensure_ascii=False) if not isinstance(default, str) else default
        parts.append(f"default: {shown or '(empty)'}")
    return "; ".join(parts) + "."


def _described(path: str, schema: Mapping[str, Any], texts: Mapping[str, str]) -> str:
    """The schema's description, else the plugin's translated one, else a summary."""
    own = text_of(schema, "description")
    if own:
        return own
    for key in (f"settings.{path}.description", f"settings.{path}", f"config.{path}.description"):
        text = texts.get(key)
        if isinstance(text, str) and text.strip():
            return text
    return _summary(schema)


def help_entries(
    schema: Mapping[str, Any] | None, texts: Mapping[str, str] | None = None, prefix: str = ""
) -> list[tuple[str, str, str]]:
    """(dotted path, label, description) of every setting, for the plugin's help panel.

    ``texts`` is the plugin's i18n table in the reader's language: a key
    ``settings.<path>.description`` describes a setting the schema leaves undescribed.
    """
    entries: list[tuple[str, str, str]] = []
    for name, sub in properties(schema or {}):
        path = f"{prefix}{name}"
        entries.append((path, label_of(name, sub), _described(path, sub, texts or {})))
        if kind_of(sub) == "object":
            entries.extend(help_entries(sub, texts, f"{path}."))
    return entries
