"""Canonical JSON: the one byte form of a value, for signatures, digests and cache keys.

Signed documents (plugin signatures, Meeting plans) are verified over these bytes, so the
form must never vary: sorted keys, no spaces, ASCII only.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["canonical_json"]


def canonical_json(value: Any) -> bytes:
    """``value`` as canonical JSON bytes; values JSON cannot hold are written as ``str()``."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str
    ).encode("ascii")
