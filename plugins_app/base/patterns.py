"""Regular expressions of JSON Schemas, matched in linear time with RE2 (SPEC X6).

Python's ``re`` backtracks: a plugin's settings schema with ``pattern: "^(a+)+$"`` and a
27-character value froze a whole server process for seconds, and every two more characters
quadruple the time. RE2 guarantees time linear in the input, and, like JSON Schema's
ECMA-262 regular expressions and unlike ``re``, its ``$`` matches only at the very end (``re``
also matches before a final newline, which let ``"code_analyzer\\n"`` pass an id pattern).

RE2 has no backreferences nor lookaround: a schema using them is refused (``pattern_problems``)
rather than matched by a backtracking engine. Validators of every schema Jupiter applies are
built by ``validator_class``, whose ``pattern``, ``patternProperties`` and
``additionalProperties`` use RE2; ``unevaluatedProperties`` beside ``patternProperties`` would
fall back to ``re``, so it is refused too.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

import re2
from jsonschema import ValidationError, validators
from jsonschema.protocols import Validator

from plugins_app.base.errors import JupiterError

__all__ = ["UnsafePattern", "compiled", "pattern_problems", "search", "validator_class"]

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is reported to its author, not to stderr


class UnsafePattern(JupiterError, ValueError):
    """A pattern RE2 cannot run (backreference, lookaround) or that does not parse."""

    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(
            f"pattern {pattern!r} cannot be matched in linear time ({reason}); "
            "avoid backreferences and lookaround"
        )
        self.pattern = pattern


@functools.lru_cache(maxsize=1024)
def compiled(pattern: str) -> Any:
    """The RE2 program of ``pattern`` (cached), or ``UnsafePattern``."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        raise UnsafePattern(pattern, text) from None


def search(pattern: str, text: str) -> bool:
    return compiled(pattern).search(text) is not None


def _nodes(schema: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every mapping in ``schema`` with its JSON pointer, walked without recursion."""
    stack: list[tuple[str, Any]] = [("", schema)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, Mapping):
            yield where, node
            stack.extend((f"{where}/{key}", value) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((f"{where}/{index}", value) for index, value in enumerate(node))


def pattern_problems(schema: Any) -> list[tuple[str, str]]:
    """(JSON pointer, message) for each pattern of ``schema`` RE2 cannot run."""
    problems: list[tuple[str, str]] = []
    for where, node in _nodes(schema):
        found = node.get("pattern")
        patterns = [(f"{where}/pattern", found)] if isinstance(found, str) else []
        by_name = node.get("patternProperties")
        if isinstance(by_name, Mapping):
            patterns += [(f"{where}/patternProperties", key) for key in by_name]
            if "unevaluatedProperties" in node:
                problems.append(
                    (where, "unevaluatedProperties beside patternProperties is not supported")
                )
        for pointer, pattern in patterns:
            try:
                compiled(pattern)
            except UnsafePattern as exc:
                problems.append((pointer, str(exc)))
    return problems


def _pattern(validator: Validator, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, by_pattern: Mapping[str, Any], instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in by_pattern.items():
        for key, value in instance.items():
            if search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _extra_keys(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    named = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    return [
        key
        for key in instance
        if key not in named and not any(search(pattern, key) for pattern in patterns)
    ]


@functools.cache
def validator_class(base: type[Validator]) -> type[Validator]:
    """``base`` (a jsonschema draft class) with its regular expressions run by RE2."""
    builtin_additional = base.VALIDATORS["additionalProperties"]

    def additional_properties(
        validator: Any, allowed: Any, instance: Any, schema: Any
    ) -> Iterator[Any]:
        if "patternProperties" not in schema or not validator.is_type(instance, "object"):
            yield from builtin_additional(validator, allowed, instance, schema)
            return
        extras = _extra_keys(instance, schema)
        if validator.is_type(allowed, "object"):
            for key in extras:
                yield from validator.descend(instance[key], allowed, path=key)
        elif allowed is False and extras:
            names = ", ".join(repr(key) for key in sorted(extras))
            yield ValidationError(f"{names} not allowed by properties nor patternProperties")

    extended: type[Validator] = validators.extend(
        base,
        validators={
            "pattern": _pattern,
            "patternProperties": _pattern_properties,
            "additionalProperties": additional_properties,
        },
    )
    return extended
