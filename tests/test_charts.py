"""The server-side SVG charts (web/charts.py): points drawn, scales, escaping, accessibility."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from plugins_app.web.charts import (
    Bar,
    Column,
    Series,
    bar_chart,
    column_chart,
    line_chart,
    nice_ticks,
    scale,
    sparkline,
)

SVG = "{http://www.w3.org/2000/svg}"


def _parsed(svg: str) -> ET.Element:
    """The chart as XML (it must be well-formed), with the SVG namespace added."""
    return ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def _points(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}circle") if e.get("class") == "point"]


def test_scale_maps_linearly_and_a_flat_domain_to_the_middle() -> None:
    assert scale(5, 0, 10, 0, 100) == 50
    assert scale(0, 0, 10, 100, 0) == 100  # y grows downwards in SVG
    assert scale(3, 3, 3, 0, 10) == 5


def test_nice_ticks_are_round_and_cover_the_range() -> None:
    assert nice_ticks(0, 97) == [0, 50, 100]
    assert nice_ticks(0, 97, 8) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(0, 101)[-1] >= 101
    assert nice_ticks(0.2, 0.9) == [0.2, 0.4, 0.6, 0.8, 1.0]
    ticks = nice_ticks(5, 5)
    assert ticks[0] <= 5 <= ticks[-1] and len(ticks) >= 2


def test_sparkline_draws_a_point_per_value_in_order() -> None:
    root = _parsed(sparkline([1, 5, 3, 9], "queue depth"))
    points = _points(root)
    assert len(points) == 4
    xs = [float(p.get("cx")) for p in points]
    ys = [float(p.get("cy")) for p in points]
    assert xs == sorted(xs)
    assert ys[3] == min(ys) and ys[0] == max(ys)  # 9 highest (smallest y), 1 lowest
    assert [p.find(f"{SVG}title").text for p in points] == ["1", "5", "3", "9"]
    assert root.get("role") == "img"
    assert root.find(f"{SVG}desc").text == "4 points, min 1, max 9, last 9"


def test_an_empty_sparkline_is_still_a_valid_chart() -> None:
    root = _parsed(sparkline([], "nothing"))
    assert _points(root) == []
    assert root.find(f"{SVG}desc").text == "no data"


def test_line_chart_has_one_group_per_series_and_its_tooltips() -> None:
    a = Series("files", ((0, 1), (60, 2), (120, 4)), ("1 at t0", "2 at t1", "4 at t2"))
    b = Series("lines", ((0, 10), (120, 12)))
    root = _parsed(line_chart([a, b], "Growth", x_labels=("start", "end")))
    groups = [g for g in root.iter(f"{SVG}g") if g.get("data-series")]
    assert [g.get("data-series") for g in groups] == ["files", "lines"]
    assert [len(_points(g)) for g in groups] == [3, 2]
    assert [p.find(f"{SVG}title").text for p in _points(groups[0])] == [
        "1 at t0",
        "2 at t1",
        "4 at t2",
    ]
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "tick"]
    assert "start" in ticks and "end" in ticks and "0" in ticks


def test_bar_chart_bars_are_proportional_and_linked() -> None:
    bars = [Bar("high", 10, "severity-high", "/f/?severity=high"), Bar("low", 5), Bar("none", 0)]
    root = _parsed(bar_chart(bars, "Findings by severity"))
    rects = [r for r in root.iter(f"{SVG}rect") if "bar" in r.get("class", "")]
    widths = [float(r.get("width")) for r in rects]
    assert widths[0] == 2 * widths[1] and widths[2] == 0
    assert rects[0].get("class") == "bar severity-high"
    links = [a.get("href") for a in root.iter(f"{SVG}a")]
    assert links == ["/f/?severity=high"]


def test_column_chart_columns_grow_with_their_value_from_the_baseline() -> None:
    columns = [
        Column(2.0, "outcome-completed", "scan completed in 2 s", "/jobs/1/"),
        Column(8.0, "outcome-failed", "scan failed in 8 s"),
    ]
    root = _parsed(column_chart(columns, "Job durations", unit=" s"))
    rects = [r for r in root.iter(f"{SVG}rect") if "bar" in r.get("class", "")]
    heights = [float(r.get("height")) for r in rects]
    bottoms = [float(r.get("y")) + h for r, h in zip(rects, heights, strict=True)]
    assert heights[1] == 4 * heights[0]
    assert bottoms[0] == bottoms[1]
    assert [r.get("class") for r in rects] == ["bar outcome-completed", "bar outcome-failed"]


def test_labels_from_plugins_are_escaped() -> None:
    hostile = '<script>alert(1)</script>"'
    svg = bar_chart([Bar(hostile, 1, href='/x?a=1&b="2"')], hostile)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    _parsed(svg)  # still well-formed
    assert not re.search(r'href="[^"]*"2"', svg)
    line = line_chart([Series(hostile, ((0, 1),))], "t")
    assert "<script>" not in line and "&lt;script&gt;" in line
