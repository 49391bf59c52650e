"""A project's import graph as a picture that stays readable at 20,000 files.

Files are grouped by folder (a package node per folder at the depth that gives at most
``MAX_NODES`` groups); edges between groups carry how many imports they stand for. One
package can be expanded (``?expand=src/app``): along its path each folder shows its
sub-folders and its own files, the most connected ``MAX_NODES`` of them, the rest as one
"more" node. Cycles are those of the file graph (``base.graphs.cycles``): a group holding a
file of a cycle, and an edge standing for an import inside one, are marked ``in-cycle``.

Layout is layered: groups that import each other share a layer, the others sit left of what
they import (longest path), ordered by their importers' positions, long layers wrapped. The
SVG is drawn here; ``static/jupiter/graph.js`` adds zoom, pan and expand in place.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from plugins_app.base.graphs import cycles
from plugins_app.models import ProjectGraph

ROOT = "."
MAX_NODES = 120
MAX_EDGES = 600
PER_COLUMN = 24
NODE_W, NODE_H, COL_W, ROW_H = 180, 26, 240, 36
LABEL_CHARS = 26
_DIGITS = re.compile(r"(\d+)")


@dataclass(frozen=True)
class Prepared:
    """The file graph reduced to what drawing needs, cached per scan."""

    files: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    cycle_of: dict[int, int]
    cycles: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class GraphNode:
    id: str
    label: str
    kind: str  # package, file or more
    files: int
    in_cycle: bool
    x: float = 0
    y: float = 0


@dataclass(frozen=True)
class GraphEdge:
    source: str
    target: str
    weight: int
    in_cycle: bool


@dataclass(frozen=True)
class GraphView:
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    edge_count: int
    depth: int
    expand: str | None
    file_count: int
    cycles: tuple[tuple[str, ...], ...]
    width: float
    height: float


def prepare(
    paths: Sequence[str],
    edges: Iterable[tuple[str, str]],
    known: Sequence[Sequence[str]] | None = None,
) -> Prepared:
    """Files, internal edges as index pairs, and each file's cycle (largest cycles first).
    ``known`` cycles are those the scan stored; without them they are found here."""
    index = {path: n for n, path in enumerate(paths)}
    pairs = tuple((index[s], index[t]) for s, t in edges if s in index and t in index and s != t)
    if known is None:
        successors: dict[str, list[str]] = defaultdict(list)
        for s, t in pairs:
            successors[paths[s]].append(paths[t])
        known = cycles(successors)
    found = sorted(
        ([str(p) for p in group if p in index] for group in known),
        key=lambda group: (-len(group), group[:1]),
    )
    found = [group for group in found if len(group) > 1]
    cycle_of = {index[path]: n for n, group in enumerate(found) for path in group}
    return Prepared(tuple(paths), pairs, cycle_of, tuple(tuple(g) for g in found))


def prepared_for(graph: ProjectGraph) -> Prepared:
    """``prepare`` of the stored graph's Python files (the others import nothing) with the
    cycles its scan found, cached by its row and build time."""
    key = f"jupiter:graph:v1:{graph.pk}:{graph.built_at.timestamp()}"
    found: Prepared | None = cache.get(key)
    if found is None:
        nodes, edges, known = ProjectGraph.objects.values_list("nodes", "edges", "cycles").get(
            pk=graph.pk
        )
        found = prepare(
            [n["path"] for n in nodes if n.get("language") == "python"],
            ((e["source"], e["target"]) for e in edges if e.get("internal")),
            known if isinstance(known, list) else None,
        )
        cache.set(key, found, 3600)
    return found


def _folder(parts: Sequence[str]) -> str:
    return "/".join(parts) or ROOT


def base_depth(paths: Sequence[str], max_nodes: int = MAX_NODES) -> int:
    """The deepest folder depth (from 1) whose groups number at most ``max_nodes``."""
    depth = 1
    deepest = max((p.count("/") for p in paths), default=0)
    while depth < deepest:
        groups = {_folder(p.split("/")[:-1][: depth + 1]) for p in paths}
        if len(groups) > max_nodes:
            break
        depth += 1
    return depth


def expanded_prefixes(expand: str | None) -> set[str]:
    """The folders shown open: ``expand`` and every folder above it."""
    if expand is None:
        return set()
    if expand == ROOT:
        return {ROOT}
    parts = expand.strip("/").split("/")
    return {"/".join(parts[: k + 1]) for k in range(len(parts))}


def group_of(path: str, depth: int, expanded: set[str]) -> tuple[str, str]:
    """(node id, kind) of the node standing for ``path``."""
    folders = path.split("/")[:-1]
    for k in range(len(folders), -1, -1):
        if _folder(folders[:k]) in expanded:
            if k == len(folders):
                return path, "file"
            return _folder(folders[: k + 1]), "package"
    return _folder(folders[:depth]), "package"


def _label(node_id: str, kind: str) -> str:
    text = node_id if kind != "package" or node_id == ROOT else node_id + "/"
    return text if len(text) <= LABEL_CHARS else "…" + text[-(LABEL_CHARS - 1) :]


def aggregate(prepared: Prepared, expand: str | None = None) -> GraphView:
    """The graph grouped by folder, ``expand`` open; laid out, ready to draw."""
    depth = base_depth(prepared.files)
    expanded = expanded_prefixes(expand)
    keys = [group_of(path, depth, expanded) for path in prepared.files]
    degree: Counter[int] = Counter()
    for s, t in prepared.edges:
        degree[s] += 1
        degree[t] += 1
    keys = _capped(prepared, keys, degree, MAX_NODES)
    members: Counter[str] = Counter(k for k, _ in keys)
    kinds = dict(keys)
    in_cycle = {keys[n][0] for n in prepared.cycle_of}
    weights: Counter[tuple[str, str]] = Counter()
    cyclic: set[tuple[str, str]] = set()
    for s, t in prepared.edges:
        a, b = keys[s][0], keys[t][0]
        if a == b:
            continue
        weights[a, b] += 1
        c = prepared.cycle_of.get(s)
        if c is not None and c == prepared.cycle_of.get(t):
            cyclic.add((a, b))
    ranked = sorted(weights, key=lambda e: (e not in cyclic, -weights[e], e))
    edges = tuple(GraphEdge(a, b, weights[a, b], (a, b) in cyclic) for a, b in ranked[:MAX_EDGES])
    positions = layout(sorted(members), [(e.source, e.target) for e in edges])
    nodes = tuple(
        GraphNode(
            node,
            _label(node, kinds[node]),
            kinds[node],
            members[node],
            node in in_cycle,
            positions[node][0],
            positions[node][1],
        )
        for node in sorted(members)
    )
    width = max((n.x for n in nodes), default=0) + NODE_W + 20
    height = max((n.y for n in nodes), default=0) + NODE_H + 20
    return GraphView(
        nodes,
        edges,
        len(weights),
        depth,
        expand,
        len(prepared.files),
        prepared.cycles,
        width,
        height,
    )


def _capped(
    prepared: Prepared, keys: list[tuple[str, str]], degree: Counter[int], limit: int
) -> list[tuple[str, str]]:
    """At most ``limit`` file nodes: the most connected; the others of a folder become one
    "more" node of that folder."""
    file_rows = [n for n, (_, kind) in enumerate(keys) if kind == "file"]
    if len(file_rows) <= limit:
        return keys
    kept = set(sorted(file_rows, key=lambda n: (-degree[n], prepared.files[n]))[:limit])
    capped = list(keys)
    for n in file_rows:
        if n not in kept:
            folder = _folder(prepared.files[n].split("/")[:-1])
            capped[n] = (f"{folder}/…", "more")
    return capped


def natural(name: str) -> list[Any]:
    """A sort key reading numbers as numbers: ``pkg2`` before ``pkg10``."""
    return [int(part) if part.isdigit() else part for part in _DIGITS.split(name)]


def layout(
    nodes: Sequence[str], edges: Sequence[tuple[str, str]]
) -> dict[str, tuple[float, float]]:
    """(x, y) of each node: layers by longest path over the graph's condensation (groups in a
    cycle share a layer), each layer ordered by its importers' rows, wrapped every
    ``PER_COLUMN`` nodes."""
    successors: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        successors[a].append(b)
    component = {node: node for node in nodes}
    for group in cycles(successors):
        for node in group:
            component[node] = group[0]
    incoming: Counter[str] = Counter()
    after: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        ca, cb = component[a], component[b]
        if ca != cb and cb not in after[ca]:
            after[ca].add(cb)
            incoming[cb] += 1
    layer = dict.fromkeys(set(component.values()), 0)
    ready = sorted(c for c in layer if not incoming[c])
    while ready:
        current = ready.pop()
        for nxt in sorted(after[current]):
            layer[nxt] = max(layer[nxt], layer[current] + 1)
            incoming[nxt] -= 1
            if not incoming[nxt]:
                ready.append(nxt)
    by_layer: dict[int, list[str]] = defaultdict(list)
    for node in nodes:
        by_layer[layer[component[node]]].append(node)
    importers: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        importers[b].append(a)
    row: dict[str, float] = {}
    positions: dict[str, tuple[float, float]] = {}
    column = 0
    for level in sorted(by_layer):

        def barycentre(node: str) -> tuple[float, list[Any]]:
            seen = [row[i] for i in importers[node] if i in row]
            return (sum(seen) / len(seen) if seen else float("inf"), natural(node))

        members = sorted(by_layer[level], key=barycentre)
        for n, node in enumerate(members):
            row[node] = n % PER_COLUMN
            positions[node] = (10 + (column + n // PER_COLUMN) * COL_W, 10 + row[node] * ROW_H)
        column += -(-len(members) // PER_COLUMN)
    return positions


def _edge_path(source: GraphNode, target: GraphNode) -> str:
    x1, y1 = source.x + NODE_W, source.y + NODE_H / 2
    x2, y2 = target.x, target.y + NODE_H / 2
    bend = max(60.0, abs(x2 - x1) / 2)
    return (
        f"M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1:.0f} {x2 - bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
    )


def graph_svg(view: GraphView, graph_url: str, findings_url: str) -> SafeString:
    """The view as SVG: packages link to their expansion, files to their findings."""
    where = {node.id: node for node in view.nodes}
    edges = format_html_join(
        "",
        '<path class="edge{}" d="{}" data-source="{}" data-target="{}" stroke-width="{}">'
        "<title>{} → {}: {} import{}</title></path>",
        (
            (
                " in-cycle" if e.in_cycle else "",
                _edge_path(where[e.source], where[e.target]),
                e.source,
                e.target,
                f"{min(6.0, 1 + e.weight**0.5 / 2):.1f}",
                e.source,
                e.target,
                e.weight,
                "" if e.weight == 1 else "s",
            )
            for e in view.edges
        ),
    )
    nodes = format_html_join(
        "", "{}", ((_node_svg(n, graph_url, findings_url),) for n in view.nodes)
    )
    return format_html(
        '<svg class="import-graph" data-graph viewBox="0 0 {} {}" role="group" '
        'aria-label="Import graph: {} nodes, {} edges, {} cycles">'
        '<g class="viewport">{}{}</g></svg>',
        f"{view.width:.0f}",
        f"{view.height:.0f}",
        len(view.nodes),
        len(view.edges),
        len(view.cycles),
        edges,
        nodes,
    )


def _node_svg(node: GraphNode, graph_url: str, findings_url: str) -> SafeString:
    box = format_html(
        '<rect width="{}" height="{}" rx="4"></rect><text x="8" y="17">{}</text>'
        "<title>{} ({} file{}{})</title>",
        NODE_W,
        NODE_H,
        node.label,
        node.id,
        node.files,
        "" if node.files == 1 else "s",
        ", in an import cycle" if node.in_cycle else "",
    )
    if node.kind == "package":
        query = urlencode({"expand": node.id})
        box = format_html('<a href="{}?{}" data-expand="{}">{}</a>', graph_url, query, node.id, box)
    elif node.kind == "file":
        query = urlencode({"path": node.id})
        box = format_html('<a href="{}?{}">{}</a>', findings_url, query, box)
    return format_html(
        '<g class="node node-{}{}" data-node="{}" transform="translate({},{})">{}</g>',
        node.kind,
        " in-cycle" if node.in_cycle else "",
        node.id,
        f"{node.x:.0f}",
        f"{node.y:.0f}",
        box,
    )
