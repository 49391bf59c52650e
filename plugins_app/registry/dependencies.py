"""Dependency checks and load order between plugins (SPEC L3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from plugins_app.base.graphs import cycles
from plugins_app.manifest.model import Manifest


@dataclass(frozen=True)
class LoadPlan:
    """Plugins in a safe load order, and the ones that cannot load with the reason why."""

    order: tuple[str, ...]
    blocked: Mapping[str, str]


def dependency_problem(
    manifest: Manifest, versions: Mapping[str, str], *, absent: str = "not installed or not enabled"
) -> str | None:
    """Why ``manifest``'s dependencies are not met by ``versions`` (id -> version), or None.

    The runtime asks about the plugins it may load, the installer about those installed;
    ``absent`` says which, in the message a person reads.
    """
    for dep in manifest.dependencies:
        version = versions.get(dep.id)
        if version is None:
            if dep.optional:
                continue
            return f"requires plugin '{dep.id}', which is {absent}"
        try:
            if dep.specifier and Version(version) not in SpecifierSet(dep.specifier):
                return f"requires '{dep.id}' {dep.specifier} but version {version} is installed"
        except (InvalidSpecifier, InvalidVersion) as exc:
            return f"cannot check dependency '{dep.id}': {exc}"
    return None


def _edges(manifest: Manifest, available: Mapping[str, Manifest]) -> list[str]:
    wanted = [d.id for d in manifest.dependencies] + list(manifest.extends)
    return [pid for pid in wanted if pid in available and pid != manifest.id]


def plan_load_order(manifests: Mapping[str, Manifest]) -> LoadPlan:
    """Order ``manifests`` so dependencies load first; block what cannot load.

    Blocking propagates: a plugin whose dependency is blocked is blocked too, naming it.
    """
    available = dict(manifests)
    blocked: dict[str, str] = {}
    graph = {pid: _edges(m, available) for pid, m in available.items()}
    for cycle in cycles(graph):
        text = " -> ".join([*cycle, cycle[0]])
        for member in cycle:
            blocked[member] = f"dependency cycle: {text}"
    versions = {pid: m.version for pid, m in available.items()}
    changed = True
    while changed:
        changed = False
        for pid, manifest in available.items():
            if pid in blocked:
                continue
            problem = next(
                (f"depends on '{d}', which cannot load" for d in graph[pid] if d in blocked),
                None,
            ) or dependency_problem(manifest, versions)
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
