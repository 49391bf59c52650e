"""An old-style plugin: module-level ``on_scan``/``on_analyze``, no ``register()``.

Jupiter wraps it with the legacy adapter and flags it ``legacy: true`` (SPEC L5).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any


def on_scan(project_root: str, files: list[str] | None = None) -> dict[str, Any]:
    root = Path(project_root)
    names = (
        files
        if files is not None
        else [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
    )
    counts = Counter(Path(name).suffix or "(none)" for name in names)
    return {"files": len(names), "by_extension": dict(counts.most_common())}


def on_analyze(scan: dict[str, Any]) -> dict[str, Any]:
    by_ext = scan.get("by_extension", {})
    top = max(by_ext, key=by_ext.get) if by_ext else None
    return {"most_common_extension": top, "distinct_extensions": len(by_ext)}
