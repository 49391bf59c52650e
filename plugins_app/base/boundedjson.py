"""JSON from outside with its nesting bounded (SPEC X6).

``json.loads`` recurses once per level: a body of 30,000 ``[`` raises ``RecursionError``
(an HTTP 500), and a few hundred levels still make every later recursive walk (validation,
canonical form, rendering) slow or fragile. Untrusted JSON is read here instead: too deep is
a ``JsonTooDeep``, a ``ValueError`` like any other malformed input, so callers answer 4xx.
"""

from __future__ import annotations

import json
from typing import Any

from plugins_app.base.errors import JupiterError

__all__ = ["MAX_DEPTH", "JsonTooDeep", "loads"]

MAX_DEPTH = 32


class JsonTooDeep(JupiterError, ValueError):
    """The document nests deeper than allowed; it was not used."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"JSON nested deeper than {max_depth} levels")
        self.max_depth = max_depth


def _depth_exceeds(value: Any, max_depth: int) -> bool:
    """Walked with an explicit stack, so checking never recurses either."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > max_depth:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return False


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads``, refusing documents nested deeper than ``max_depth`` containers."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonTooDeep(max_depth) from None
    if _depth_exceeds(value, max_depth):
        raise JsonTooDeep(max_depth)
    return value
