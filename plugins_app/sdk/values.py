"""Plain values plugins receive: a project's name and root, a project's import graph."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plugins_app.base.graphs import cycles

__all__ = ["Graph", "ProjectInfo"]


@dataclass(frozen=True)
class ProjectInfo:
    name: str
    root: Path


@dataclass(frozen=True)
class Graph:
    """Files (nodes) and Python imports (edges ``source -> target``) of one project.

    ``target`` is a project file when the import resolves inside the project, else the
    imported module's dotted name with ``internal`` false.
    """

    project: str
    files: tuple[str, ...]
    edges: tuple[tuple[str, str, bool], ...]

    def imports_of(self, path: str) -> list[str]:
        return [target for source, target, _ in self.edges if source == path]

    def imported_by(self, path: str) -> list[str]:
        return [source for source, target, internal in self.edges if internal and target == path]

    def import_cycles(self) -> list[list[str]]:
        """Groups of project files that import each other, each sorted, for plugins."""
        graph: dict[str, list[str]] = {}
        for source, target, internal in self.edges:
            if internal and source != target:
                graph.setdefault(source, []).append(target)
        return sorted(cycles({k: sorted(v) for k, v in graph.items()}))
