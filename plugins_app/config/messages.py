"""jsonschema's validation errors in words a person reads next to a field (SPEC U2, issue 15).

jsonschema writes for developers (``'x' is not a 'email'``, ``9 is greater than the maximum
of 5``, ``[] is too short``). The settings form shows each error beside its input, so the
field is already named: the message says what to enter instead. A validator this table does
not know keeps jsonschema's own text, which is still right if less friendly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jsonschema.exceptions import ValidationError

__all__ = ["human_message"]

_TYPES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a group of settings",
    "null": "nothing",
}
_FORMATS = {
    "email": "Enter a valid email address, such as name@example.com.",
    "idn-email": "Enter a valid email address, such as name@example.com.",
    "uri": "Enter a full URL, such as https://example.com/path.",
    "iri": "Enter a full URL, such as https://example.com/path.",
    "uri-reference": "Enter a URL or a path.",
    "hostname": "Enter a host name, such as example.com.",
    "ipv4": "Enter an IPv4 address, such as 192.0.2.1.",
    "ipv6": "Enter an IPv6 address, such as 2001:db8::1.",
    "date": "Enter a date as YYYY-MM-DD.",
    "date-time": "Enter a date and time as YYYY-MM-DDTHH:MM:SSZ.",
    "time": "Enter a time as HH:MM:SS.",
    "regex": "Enter a valid regular expression.",
    "uuid": "Enter a UUID, such as 123e4567-e89b-12d3-a456-426614174000.",
}


def _plural(count: Any, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _number(value: Any) -> str:
    return (
        repr(value)
        if isinstance(value, int | float) and not isinstance(value, bool)
        else str(value)
    )


def _type(value: Any) -> str:
    names = value if isinstance(value, list) else [value]
    wanted = [_TYPES.get(str(n), str(n)) for n in names if n != "null"]
    return f"Enter {' or '.join(wanted) or 'nothing'}."


def _enum(value: Any) -> str:
    choices = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return f"Choose one of: {choices}."


def _min_length(value: Any) -> str:
    if value == 1:
        return "This field cannot be empty."
    return f"Enter at least {_plural(value, 'character')}."


_MESSAGES: dict[str, Callable[[Any], str]] = {
    "required": lambda _: "This field is required.",
    "type": _type,
    "format": lambda v: _FORMATS.get(str(v), f"Enter a valid {v}."),
    "minLength": _min_length,
    "maxLength": lambda v: f"Enter at most {_plural(v, 'character')}.",
    "pattern": lambda v: f"Enter a value in the expected form (the pattern {v}).",
    "minimum": lambda v: f"Enter {_number(v)} or more.",
    "maximum": lambda v: f"Enter {_number(v)} or less.",
    "exclusiveMinimum": lambda v: f"Enter a number greater than {_number(v)}.",
    "exclusiveMaximum": lambda v: f"Enter a number less than {_number(v)}.",
    "multipleOf": lambda v: f"Enter a multiple of {_number(v)}.",
    "enum": _enum,
    "const": lambda v: f"The only accepted value is {v}.",
    "minItems": lambda v: f"Add at least {_plural(v, 'item')}.",
    "maxItems": lambda v: f"Keep at most {_plural(v, 'item')}.",
    "uniqueItems": lambda _: "Each item must be different.",
    "minProperties": lambda v: f"Set at least {_plural(v, 'value')}.",
    "maxProperties": lambda v: f"Set at most {_plural(v, 'value')}.",
}


def human_message(error: ValidationError) -> str:
    """What to enter instead, for the field ``error`` is about."""
    if error.validator == "additionalProperties":
        extra = error.message.split("(", 1)[-1].rstrip(")")
        return f"Not a setting of this plugin: {extra}."
    describe = _MESSAGES.get(str(error.validator))
    return describe(error.validator_value) if describe else error.message
