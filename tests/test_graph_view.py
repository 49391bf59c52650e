"""The import graph view (web/presenters/graph.py): grouping by folder, one package open,
cycles marked, layout, SVG links; and the page (web/views/insights.py)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from django.test import Client

from plugins_app.models import ProjectGraph
from plugins_app.projects.service import register_project
from plugins_app.web.presenters.graph import (
    MAX_NODES,
    aggregate,
    base_depth,
    expanded_prefixes,
    graph_svg,
    group_of,
    layout,
    prepare,
)


def synthetic(packages: int = 40, subpackages: int = 10, modules: int = 50):
    """``packages * subpackages * modules`` files; each imports two earlier files (no cycle),
    plus one planted two-file cycle across packages 3 and 7."""
    files = [
        f"pkg{p}/sub{s}/mod{m}.py"
        for p in range(packages)
        for s in range(subpackages)
        for m in range(modules)
    ]
    edges = [(f, files[(n * 7919 + k) % n]) for n, f in enumerate(files) if n for k in (1, 2)]
    edges += [
        ("pkg3/sub1/mod1.py", "pkg7/sub2/mod5.py"),
        ("pkg7/sub2/mod5.py", "pkg3/sub1/mod1.py"),
    ]
    return files, edges


def test_depth_is_the_deepest_with_few_enough_groups() -> None:
    files, _ = synthetic()
    assert base_depth(files) == 1  # 40 packages; 400 sub-packages would be too many
    assert base_depth(files, max_nodes=400) == 2
    assert base_depth(["a.py", "b.py"]) == 1


def test_a_file_belongs_to_its_folder_at_the_depth_or_to_the_open_package() -> None:
    assert group_of("a/b/c/x.py", 1, set()) == ("a", "package")
    assert group_of("top.py", 1, set()) == (".", "package")
    opened = expanded_prefixes("a/b")
    assert opened == {"a", "a/b"}
    assert group_of("a/b/c/x.py", 1, opened) == ("a/b/c", "package")
    assert group_of("a/b/x.py", 1, opened) == ("a/b/x.py", "file")
    assert group_of("a/y.py", 1, opened) == ("a/y.py", "file")
    assert group_of("z/y.py", 1, opened) == ("z", "package")
    assert group_of("top.py", 1, expanded_prefixes(".")) == ("top.py", "file")


def test_20000_files_aggregate_to_packages_with_the_cycle_marked() -> None:
    files, edges = synthetic()
    assert len(files) == 20_000
    started = time.perf_counter()
    view = aggregate(prepare(files, edges))
    assert time.perf_counter() - started < 2
    assert len(view.nodes) == 40 and view.file_count == 20_000
    assert sum(n.files for n in view.nodes) == 20_000
    assert view.cycles == (("pkg3/sub1/mod1.py", "pkg7/sub2/mod5.py"),)
    assert sorted(n.id for n in view.nodes if n.in_cycle) == ["pkg3", "pkg7"]
    assert sorted((e.source, e.target) for e in view.edges if e.in_cycle) == [
        ("pkg3", "pkg7"),
        ("pkg7", "pkg3"),
    ]


def test_opening_a_package_shows_its_children_and_keeps_the_others() -> None:
    files, edges = synthetic()
    prepared = prepare(files, edges)
    view = aggregate(prepared, "pkg3")
    ids = {n.id for n in view.nodes}
    assert {f"pkg3/sub{s}" for s in range(10)} <= ids and "pkg3" not in ids
    assert "pkg7" in ids and len(ids) == 49
    assert {n.id for n in view.nodes if n.in_cycle} == {"pkg3/sub1", "pkg7"}
    deeper = aggregate(prepared, "pkg3/sub1")
    kinds = {n.id: n.kind for n in deeper.nodes}
    assert kinds["pkg3/sub1/mod1.py"] == "file" and kinds["pkg3/sub2"] == "package"
    assert [n.id for n in deeper.nodes if n.in_cycle] == ["pkg3/sub1/mod1.py", "pkg7"]


def test_a_folder_of_too_many_files_shows_the_most_connected_and_one_more_node() -> None:
    files = [f"flat/m{n}.py" for n in range(500)]
    edges = [(f"flat/m{n}.py", "flat/m0.py") for n in range(1, 500)]
    view = aggregate(prepare(files, edges), "flat")
    kinds = [n.kind for n in view.nodes]
    assert kinds.count("file") == MAX_NODES and kinds.count("more") == 1
    more = next(n for n in view.nodes if n.kind == "more")
    assert more.files == 500 - MAX_NODES
    assert "flat/m0.py" in {n.id for n in view.nodes}  # the most imported is kept


def test_stored_cycles_are_used_as_the_scan_found_them() -> None:
    files, edges = synthetic(2, 2, 3)
    known = [["pkg0/sub0/mod0.py", "pkg1/sub1/mod2.py"], ["gone.py", "pkg0/sub0/mod1.py"]]
    prepared = prepare(files, edges, known)
    # a file no longer in the graph is dropped, and a group left with one file with it
    assert prepared.cycles == (("pkg0/sub0/mod0.py", "pkg1/sub1/mod2.py"),)
    assert set(prepared.cycle_of) == {
        files.index("pkg0/sub0/mod0.py"),
        files.index("pkg1/sub1/mod2.py"),
    }


def test_layout_puts_importers_left_of_what_they_import_and_cycles_side_by_side() -> None:
    positions = layout(["a", "b", "c", "d"], [("a", "b"), ("b", "c"), ("c", "b"), ("c", "d")])
    assert positions["a"][0] < positions["b"][0] == positions["c"][0] < positions["d"][0]
    assert positions["b"][1] != positions["c"][1]
    wide = layout([f"n{i}" for i in range(60)], [])
    assert len({x for x, _ in wide.values()}) == 3  # 60 nodes wrapped in columns of 24
    rows = layout(["pkg10", "pkg2", "pkg1"], [])
    assert sorted(rows, key=lambda n: rows[n][1]) == ["pkg1", "pkg2", "pkg10"]


def test_svg_links_packages_to_their_expansion_and_files_to_their_findings() -> None:
    files = ["app/a.py", "app/b.py", "lib/c&d.py"]
    edges = [("app/a.py", "lib/c&d.py"), ("app/b.py", "app/a.py")]
    svg = graph_svg(aggregate(prepare(files, edges), "lib"), "/g/", "/f/")
    assert 'href="/g/?expand=app" data-expand="app"' in svg
    assert 'href="/f/?path=lib%2Fc%26d.py"' in svg
    assert len(re.findall(r'<path class="edge', svg)) == 1


@pytest.fixture
def graphed(user, tmp_path: Path):
    root = tmp_path / "big"
    root.mkdir()
    project = register_project("big", str(root), actor=user)
    files, edges = synthetic(8, 5, 10)
    ProjectGraph.objects.create(
        project=project,
        nodes=[{"path": f, "language": "python"} for f in files]
        + [{"path": "docs/README.md", "language": ""}],  # imports nothing: not drawn
        edges=[{"source": s, "target": t, "internal": True} for s, t in edges]
        + [{"source": files[0], "target": "os", "internal": False}],
    )
    return project


def test_graph_page_and_its_partial(client: Client, user, graphed) -> None:
    client.force_login(user)
    page = client.get("/projects/big/graph/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<!doctype html>" in html and "jupiter/graph.js" in html
    assert html.count('class="node node-package') == 40  # 400 files: pkgN/subM folders
    assert "400 Python files in 40 nodes" in html and 'data-node="docs"' not in html
    assert 'class="node node-package in-cycle" data-node="pkg3/sub1"' in html
    assert "1 cycle, 2 files" in html
    partial = client.get("/projects/big/graph/?expand=pkg3/sub1", HTTP_HX_REQUEST="true")
    text = partial.content.decode()
    assert "<!doctype html>" not in text
    assert 'class="node node-file in-cycle" data-node="pkg3/sub1/mod1.py"' in text
    assert "Open: <code>pkg3/sub1</code>" in text and 'data-expand="pkg3"' in text


def test_graph_page_without_a_scan_and_with_a_nonsense_expand(
    client: Client, user, tmp_path
) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    register_project("empty", str(root), actor=user)
    client.force_login(user)
    assert "No scan yet" in client.get("/projects/empty/graph/").content.decode()
    assert client.get("/projects/empty/graph/?expand=%00../..").status_code == 200
