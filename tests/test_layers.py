"""The package map holds: each area of ``plugins_app`` imports only the areas below it.

Read with ``ast`` (nothing is imported), so a function-level import that dodges a cycle at
import time is caught as surely as a module-level one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from plugins_app.base.graphs import cycles

PACKAGE = Path(__file__).resolve().parent.parent / "plugins_app"

# Bottom to top. A package may import itself and any package listed before it.
LAYERS = (
    "base",
    "manifest",
    "sdk",
    "models",
    "logs",
    "trust",
    "registry",
    "projects",
    "config",
    "services",
    "kernel",
    "jobs",
    "observability",
    "lifecycle",
    "meeting",
    "authoring",
    "web",
    "management",
    "apps",
)
IGNORED = {"migrations"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """Every ``plugins_app`` module ``path`` imports, absolute or relative, at any depth."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:  # ``from plugins_app.x import y`` may name module y
                yield node.lineno, f"{target}.{alias.name}"


def area(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "plugins_app" or len(parts) < 2:
        return None
    return parts[1]


def sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if not IGNORED & set(p.parts))


def test_every_area_is_in_the_layer_order() -> None:
    areas = {area(module_name(p)) for p in sources()} - {None}
    assert areas <= set(LAYERS), f"areas missing from LAYERS: {sorted(areas - set(LAYERS))}"


def test_no_import_goes_up_the_layers() -> None:
    rank = {name: n for n, name in enumerate(LAYERS)}
    problems = []
    for path in sources():
        here = area(module_name(path))
        if here is None:
            continue
        for line, target in imported_modules(path):
            there = area(target)
            if there in rank and rank[there] > rank[here]:
                problems.append(f"{path.relative_to(PACKAGE.parent)}:{line} {here} -> {there}")
    assert not problems, "imports that go up the layer order:\n" + "\n".join(sorted(set(problems)))


def _graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in sources()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {t for _, t in imported_modules(path) if t in modules and t != name}
    return graph


def test_no_module_import_cycles() -> None:
    """A package's ``__init__`` naming its own modules is not a cycle: they never import it."""
    found = cycles(_graph())
    assert not found, f"import cycles: {found}"
