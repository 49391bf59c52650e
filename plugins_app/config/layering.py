"""Plugin configuration layering and validation (SPEC S3), without Django.

A plugin's effective config is its schema defaults, overlaid by the global config, overlaid
by the per-project overrides. Dicts merge key by key; lists and scalars replace, because a
merged list (which items? in what order?) is never what the person editing it meant. The
merged result is validated against the plugin's JSON Schema, and every leaf records which layer
it came from so the settings UI can show "inherited" vs "overridden" and offer "reset to
global".

Field paths are dotted (``"db.port"``); list items in validation errors appear as their index
(``"hosts.2"``). Property names that contain a dot cannot be addressed by such paths.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from jsonschema import exceptions as jsonschema_exceptions
from jsonschema import validators

from plugins_app.base import patterns
from plugins_app.base.canonical import canonical_json
from plugins_app.config.messages import human_message

Source = Literal["default", "global", "project"]


@dataclass(frozen=True)
class ConfigError:
    """One validation failure; ``path`` is the dotted field path, ``""`` for the whole config."""

    path: str
    message: str

    def __str__(self) -> str:  # never the dataclass repr, wherever an error is shown
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass(frozen=True)
class EffectiveConfig:
    """Merged config of one plugin (in one project), where each leaf came from, and errors.

    ``values`` and ``sources`` are plain dicts (JSON-serialisable for views and exports);
    treat them as read-only, like the rest of the value.
    """

    values: Mapping[str, Any]
    sources: Mapping[str, Source]
    errors: tuple[ConfigError, ...] = ()

    @property
    def is_valid(self) -> bool:
        return not self.errors


def schema_defaults(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """Collect ``default`` values from an object schema's properties, recursively.

    A nested object without its own ``default`` still contributes its properties' defaults;
    an object that has both gets its properties' defaults overlaid by its own ``default``
    (the more specific statement wins). Only ``properties`` are followed: defaults inside
    ``anyOf``/``oneOf`` branches are ambiguous and ``$ref`` targets are not resolved.
    """
    if not isinstance(schema, Mapping):
        return {}
    result: dict[str, Any] = {}
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        for name, subschema in properties.items():
            if not isinstance(subschema, Mapping):
                continue
            nested = schema_defaults(subschema)
            if "default" in subschema:
                own = copy.deepcopy(subschema["default"])
                result[name] = deep_merge(nested, own) if isinstance(own, dict) else own
            elif nested:
                result[name] = nested
    return result


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` overlaid by ``override``: dicts merge recursively, anything else replaces.

    Neither input is mutated and the result shares no mutable value with them, so callers can
    edit it freely.
    """
    result = {key: copy.deepcopy(value) for key, value in base.items()}
    for key, value in override.items():
        current = result.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            result[key] = deep_merge(current, value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def effective_config(
    schema: Mapping[str, Any] | None,
    global_values: Mapping[str, Any] | None,
    project_overrides: Mapping[str, Any] | None = None,
) -> EffectiveConfig:
    """Merge defaults <- global <- project, record each leaf's layer, and validate the result."""
    global_values = global_values or {}
    project_overrides = project_overrides or {}
    values = deep_merge(deep_merge(schema_defaults(schema), global_values), project_overrides)
    sources: dict[str, Source] = {}
    for keys in _leaf_paths(values):
        if _has_path(project_overrides, keys):
            sources[".".join(keys)] = "project"
        elif _has_path(global_values, keys):
            sources[".".join(keys)] = "global"
        else:
            sources[".".join(keys)] = "default"
    return EffectiveConfig(values=values, sources=sources, errors=validate_config(schema, values))


def validate_config(
    schema: Mapping[str, Any] | None, values: Mapping[str, Any]
) -> tuple[ConfigError, ...]:
    """Validate ``values`` against ``schema`` (formats checked); errors sorted by path.

    An invalid schema is reported as one whole-config error rather than raised: a plugin
    with a broken schema must not break the settings page of the console.
    """
    if not schema:
        return ()
    compiled = _compiled(canonical_json(schema))
    if compiled.schema_error:
        return (ConfigError("", f"the plugin's config schema is invalid: {compiled.schema_error}"),)
    errors = {
        ConfigError(_error_path(error), human_message(error))
        for error in compiled.validator.iter_errors(values)
    }
    return tuple(sorted(errors, key=lambda e: (e.path, e.message)))


def remove_override(overrides: Mapping[str, Any], dotted_path: str) -> dict[str, Any]:
    """Return ``overrides`` without the field at ``dotted_path`` ("reset to global").

    Parent objects left empty by the removal are pruned too, so resetting the last overridden
    field of a nested object leaves no ``{}`` behind (which would still mask nothing, but
    would show up as an override). A path that is not overridden returns an equal copy.
    """
    result = deep_merge({}, overrides)
    keys = dotted_path.split(".")
    parents: list[dict[str, Any]] = [result]
    for key in keys[:-1]:
        child = parents[-1].get(key)
        if not isinstance(child, dict):
            return result
        parents.append(child)
    if keys[-1] not in parents[-1]:
        return result
    del parents[-1][keys[-1]]
    for depth in range(len(keys) - 1, 0, -1):
        if parents[depth]:
            break
        del parents[depth - 1][keys[depth - 1]]
    return result


@dataclass(frozen=True)
class _Compiled:
    validator: Any
    schema_error: str


@functools.lru_cache(maxsize=256)
def _compiled(schema_json: bytes) -> _Compiled:
    """Build a validator once per distinct schema (keyed by canonical JSON: dicts don't hash)."""
    schema = json.loads(schema_json)
    cls = patterns.validator_class(validators.validator_for(schema))
    try:
        cls.check_schema(schema)
    except jsonschema_exceptions.SchemaError as exc:
        return _Compiled(validator=None, schema_error=exc.message)
    if problems := patterns.pattern_problems(schema):
        return _Compiled(validator=None, schema_error="; ".join(m for _, m in problems))
    return _Compiled(validator=cls(schema, format_checker=cls.FORMAT_CHECKER), schema_error="")


def _error_path(error: jsonschema_exceptions.ValidationError) -> str:
    """Dotted path of the failing field; a missing required field is named, not its parent.

    Pointing "required" at the missing field lets a form show the message next to the input
    that needs filling instead of at the top of the form.
    """
    keys = [str(part) for part in error.absolute_path]
    if error.validator == "required" and isinstance(error.validator_value, list):
        for name in error.validator_value:
            if error.message == f"{name!r} is a required property":
                keys.append(str(name))
                break
    return ".".join(keys)


def _leaf_paths(
    values: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    """Paths of non-dict values and of empty dicts (an empty object is a value of its own)."""
    for key, value in values.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and value:
            yield from _leaf_paths(value, path)
        else:
            yield path


def _has_path(values: Mapping[str, Any], keys: tuple[str, ...]) -> bool:
    node: Any = values
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return True
