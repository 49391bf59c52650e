"""Dependency checks and load order between plugins (SPEC L3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from plugins_app.manifest.model import Manifest


@dataclass(frozen=True)
class LoadPlan:
    """Plugins in a safe load order, and the ones that cannot load with the reason why."""

    order: tuple[str, ...]
    blocked: Mapping[str, str]


def _dependency_problem(manifest: Manifest, available: Mapping[str, Manifest]) -> str | None:
    for dep in manifest.dependencies:
        target = available.get(dep.id)
        if target is None:
            if dep.optional:
                continue
            return f"requires plugin '{dep.id}', which is not installed or not enabled"
        try:
            if dep.specifier and Version(target.version) not in SpecifierSet(dep.specifier):
                return (
                    f"requires '{dep.id}' {dep.specifier} but version {target.version} is installed"
                )
        except (InvalidSpecifier, InvalidVersion) as exc:
            return f"cannot check dependency '{dep.id}': {exc}"
    return None


def _edges(manifest: Manifest, available: Mapping[str, Manifest]) -> list[str]:
    wanted = [d.id for d in manifest.dependencies] + list(manifest.extends)
    return [pid for pid in wanted if pid in available and pid != manifest.id]


def _cycles(graph: Mapping[str, list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member, or a self-loop (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, []):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def plan_load_order(manifests: Mapping[str, Manifest]) -> LoadPlan:
    """Order ``manifests`` so dependencies load first; block what cannot load.

    Blocking propagates: a plugin whose dependency is blocked is blocked too, naming it.
    """
    available = dict(manifests)
    blocked: dict[str, str] = {}
    graph = {pid: _edges(m, available) for pid, m in available.items()}
    for cycle in _cycles(graph):
        text = " -> ".join([*cycle, cycle[0]])
        for member in cycle:
            blocked[member] = f"dependency cycle: {text}"
    changed = True
    while changed:
        changed = False
        for pid, manifest in available.items():
            if pid in blocked:
                continue
            problem = next(
                (f"depends on '{d}', which cannot load" for d in graph[pid] if d in blocked),
                None,
            ) or _dependency_problem(manifest, available)
            if problem:
                blocked[pid] = problem
                changed = True
    order: list[str] = []
    placed: set[str] = set()

    def place(pid: str) -> None:
        if pid in placed or pid in blocked:
            return
        placed.add(pid)
        for dep in graph[pid]:
            place(dep)
        order.append(pid)

    for pid in sorted(available):
        place(pid)
    return LoadPlan(tuple(order), blocked)
