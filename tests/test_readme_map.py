"""The README's map of ``plugins_app`` describes every module, and nothing that isn't there."""

from __future__ import annotations

import re

from tests.test_layers import LAYERS, PACKAGE

README = PACKAGE.parent / "README.md"
AREA = re.compile(r"^  (\w+)/\s")
ROOT_MODULE = re.compile(r"^  (\w+\.py)\s")
ENTRY = re.compile(r"^    (\w+\.py|\w+/)\s")


def _map_lines() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## How it is built", 1)[1]
    return section.split("```", 2)[1].splitlines()


def described() -> tuple[list[str], set[str]]:
    """The areas in the order the map lists them, and every path it names."""
    areas: list[str] = []
    paths: set[str] = set()
    inside = False
    for line in _map_lines():
        if line.startswith("plugins_app/"):
            inside = True
            continue
        if inside and line and not line.startswith(" "):
            break
        if not inside:
            continue
        if match := AREA.match(line):
            areas.append(match.group(1))
            paths.add(f"{match.group(1)}/")
        elif match := ROOT_MODULE.match(line):
            paths.add(match.group(1))
        elif (match := ENTRY.match(line)) and areas:
            paths.add(f"{areas[-1]}/{match.group(1)}")
    return areas, paths


def present() -> set[str]:
    """Every module and sub-package of the areas, as the map names them."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).parts
        if "migrations" in parts or (parts[-1] == "__init__.py" and len(parts) == 1):
            continue
        if len(parts) == 1:
            found.add(parts[0])
        elif len(parts) == 2:
            found.add(f"{parts[0]}/")
            if parts[1] != "__init__.py":
                found.add(f"{parts[0]}/{parts[1]}")
        else:
            found.add(f"{parts[0]}/{parts[1]}/")
    return found


def test_the_map_lists_the_areas_in_layer_order() -> None:
    areas, _ = described()
    assert areas == [layer for layer in LAYERS if layer != "apps"]


def test_every_module_is_described_and_nothing_else() -> None:
    _, paths = described()
    actual = present()
    assert sorted(actual - paths) == [], "modules missing from the README map"
    assert sorted(paths - actual) == [], "the README map describes modules that do not exist"
