"""Hardened YAML reading for files written by plugin authors.

A `plugin.yaml` is untrusted input that the host reads before any trust decision, so the
reader is defensive (SPEC X6):

- the size is capped before anything is parsed, and only regular files are read (a FIFO or a
  device named `plugin.yaml` must not hang or exhaust the host);
- anchors and aliases are refused outright: they are the "billion laughs" expansion vector and
  no manifest needs them;
- only the safe loader is used (libyaml's `CSafeLoader` when present), and the result is plain
  JSON-compatible data: string keys (the key's source text, so `on:` stays `"on"`), dates kept
  as strings, no `!!binary`/`!!set`/`!!omap`/`!!pairs`, duplicate keys refused (a second
  `permissions:` must not silently replace the reviewed one), at most MAX_DEPTH levels deep;
- every problem is a `YamlError` carrying a 1-based line (and column when known), so the
  author can find it.

The parsed node tree is kept next to the data so callers can report the line of any field
(`YamlDocument.line_of`) without parsing twice.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from plugins_app.base.errors import JupiterError

DEFAULT_MAX_BYTES = 256 * 1024

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_DEPTH = 64

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_NON_JSON_TAGS = ("binary", "set", "omap", "pairs")


class YamlError(JupiterError, ValueError):
    """A YAML document that cannot be used: unreadable, malformed or of the wrong shape."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        where = (
            f"line {self.line}"
            if self.column is None
            else f"line {self.line}, column {self.column}"
        )
        return f"{self.message} ({where})"


class UnsafeYamlError(YamlError):
    """A YAML document refused for safety reasons (too large, anchors/aliases, odd tags)."""


@dataclass(frozen=True, eq=False)
class YamlDocument:
    """A parsed top-level mapping plus its node tree, to locate fields by line."""

    data: dict[str, Any]
    root: yaml.MappingNode

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """Return the 1-based line of the deepest part of `path` present in the document.

        A mapping key reports the line of the key itself; a list index the line of the item.
        A missing top-level key gives None (there is no better place to point at).
        """
        node: yaml.Node = self.root
        line: int | None = None
        for part in path:
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                for key_node, value_node in node.value:
                    if key_node.value == part:
                        line, node = key_node.start_mark.line + 1, value_node
                        break
                else:
                    return line
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                return line
        return line


def _refuse_tag(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    raise yaml.constructor.ConstructorError(
        None, None, f"tag {node.tag!r} is not allowed (plain JSON-like data only)", node.start_mark
    )


class _JsonLikeLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """Safe loader producing JSON-compatible data: string keys, no duplicates, bounded depth."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP_TAG]
        for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
    }

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: tuple[bool, bool]) -> str:
        """PyYAML's implicit tag resolution without its path-resolver machinery (unused here).

        Called once per node by the composer, so the shortcut is measurable.
        """
        if kind is yaml.ScalarNode:
            if implicit[0]:
                for tag, regexp in self.yaml_implicit_resolvers.get(value[:1], ()):
                    if regexp.match(value):
                        return tag
            return _STR_TAG
        return _SEQ_TAG if kind is yaml.SequenceNode else _MAP_TAG

    def construct_json(self, node: yaml.Node, depth: int = 0) -> Any:
        """Build plain data from `node` directly (faster than PyYAML's generic constructor).

        Only untagged maps, lists and strings take the fast path; any other tag goes through
        the safe constructor, which refuses unknown and non-JSON tags.
        """
        if depth > MAX_DEPTH:
            raise yaml.constructor.ConstructorError(
                None, None, f"nested deeper than {MAX_DEPTH} levels", node.start_mark
            )
        tag = node.tag
        if tag == _STR_TAG and isinstance(node, yaml.ScalarNode):
            return node.value
        if tag == _MAP_TAG and isinstance(node, yaml.MappingNode):
            mapping: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise yaml.constructor.ConstructorError(
                        None, None, "mapping keys must be plain strings", key_node.start_mark
                    )
                if key_node.value in mapping:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                    )
                mapping[key_node.value] = self.construct_json(value_node, depth + 1)
            return mapping
        if tag == _SEQ_TAG and isinstance(node, yaml.SequenceNode):
            return [self.construct_json(item, depth + 1) for item in node.value]
        return self.construct_object(node, deep=True)


_JsonLikeLoader.add_constructor(_TIMESTAMP_TAG, _JsonLikeLoader.construct_yaml_str)
for _name in _NON_JSON_TAGS:
    _JsonLikeLoader.add_constructor(f"tag:yaml.org,2002:{_name}", _refuse_tag)


def _error_from(exc: yaml.YAMLError, text: str) -> YamlError:
    """Turn a PyYAML exception into a YamlError with a 1-based line and column."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        context = exc.context or ""
        if context.startswith("while ") and exc.problem and exc.context_mark:
            opened = exc.context_mark.line + 1
            message = f"invalid YAML: {exc.problem} ({context} started at line {opened})"
        else:
            message = "invalid YAML: " + ", ".join(p for p in (context, exc.problem) if p)
        if mark is None:
            return YamlError(message)
        return YamlError(message, mark.line + 1, mark.column + 1)
    if isinstance(exc, yaml.reader.ReaderError):
        return YamlError(exc.reason, text.count("\n", 0, exc.position) + 1)
    return YamlError(str(exc))


def _refuse_anchors(text: str) -> None:
    """Raise UnsafeYamlError at the first anchor or alias in `text`.

    An anchor needs `&` and an alias needs `*`, so text without either is skipped without a
    second pass; otherwise libyaml's event stream is scanned (no nodes are built).
    """
    if "&" not in text and "*" not in text:
        return
    loader = _JsonLikeLoader(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                kind = "alias" if isinstance(event, yaml.AliasEvent) else "anchor"
                mark = event.start_mark
                raise UnsafeYamlError(
                    f"YAML {kind} {event.anchor!r} refused: anchors and aliases are not allowed",
                    mark.line + 1,
                    mark.column + 1,
                )
    except yaml.YAMLError as exc:
        raise _error_from(exc, text) from None
    finally:
        loader.dispose()


def parse_yaml(text: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> YamlDocument:
    """Parse `text` as one YAML document whose top level must be a mapping.

    Raises UnsafeYamlError for oversize input or anchors/aliases, YamlError otherwise
    (including nesting deeper than MAX_DEPTH, which no manifest needs and which would make
    every later recursive walk, such as JSON Schema validation, a stack risk).
    """
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise UnsafeYamlError(f"document is larger than {max_bytes} bytes")
    return _parse(text)


def _parse(text: str) -> YamlDocument:
    _refuse_anchors(text)
    loader = _JsonLikeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise YamlError("document is empty; expected a mapping")
        if not isinstance(root, yaml.MappingNode):
            kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
            raise YamlError(
                f"expected a mapping at the top level, got {kind}", root.start_mark.line + 1
            )
        data = loader.construct_json(root)
    except yaml.YAMLError as exc:
        raise _error_from(exc, text) from None
    except RecursionError:
        raise YamlError(f"document is nested deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
    return YamlDocument(data=data, root=root)


def read_yaml(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> YamlDocument:
    """Read and parse the YAML file at `path`, refusing anything but a small regular file.

    At most `max_bytes + 1` bytes are read, so an oversize file is refused without being
    loaded whole. Raises YamlError (or UnsafeYamlError); OSError becomes YamlError too.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise YamlError(f"{path.name} is not a regular file")
        with open(path, "rb") as stream:
            raw = stream.read(max_bytes + 1)
    except OSError as exc:
        raise YamlError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise UnsafeYamlError(f"{path.name} is larger than {max_bytes} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise YamlError(f"{path.name} is not valid UTF-8", line) from None
    return _parse(text)
