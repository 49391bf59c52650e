"""Charts as server-side SVG: sparklines, line charts, bar and column charts.

Why not a JavaScript charting library: nothing to vendor or keep up to date, no script the
strict Content-Security-Policy has to allow (the SVG is markup, styled by classes from
``jupiter.css``), charts render with the page (also without JavaScript, also in a
screenshot), and every chart is a function of its numbers that tests can read back. Each
drawn value is one element of class ``point`` (or ``bar``) with a ``<title>`` tooltip; the
chart is ``role="img"`` with a title and a text summary for screen readers.

Every text shown comes in through ``format_html``, so labels from plugins are escaped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

__all__ = [
    "Bar",
    "Column",
    "Series",
    "bar_chart",
    "column_chart",
    "line_chart",
    "nice_ticks",
    "scale",
    "sparkline",
]


@dataclass(frozen=True)
class Series:
    """One line: ``points`` are (x, y) pairs, x increasing (times as Unix seconds)."""

    name: str
    points: tuple[tuple[float, float], ...]
    labels: tuple[str, ...] = ()  # a tooltip per point; the value alone when empty


@dataclass(frozen=True)
class Bar:
    """One horizontal bar: a label, its value, a CSS class and where a click leads."""

    label: str
    value: float
    tone: str = ""
    href: str = ""


@dataclass(frozen=True)
class Column:
    """One vertical bar of a column chart (a job: its duration, its outcome as ``tone``)."""

    value: float
    tone: str
    tooltip: str
    href: str = ""


def scale(value: float, low: float, high: float, out_low: float, out_high: float) -> float:
    """``value`` mapped linearly from [low, high] to [out_low, out_high]; a flat domain maps
    to the middle of the range."""
    if high == low:
        return (out_low + out_high) / 2
    return out_low + (value - low) * (out_high - out_low) / (high - low)


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering [low, high] (1, 2 or 5 times a power of ten apart)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step)
    last = math.ceil(high / step)
    return [round(n * step, 10) for n in range(first, last + 1)]


def _number(value: float) -> str:
    return f"{value:.6g}"


def _coord(value: float) -> str:
    return f"{value:.1f}"


def _join(parts: Iterable[SafeString]) -> SafeString:
    return format_html_join("", "{}", ((part,) for part in parts))


def _frame(
    kind: str, width: int, height: int, title: str, summary: str, body: SafeString
) -> SafeString:
    return format_html(
        '<svg class="chart chart-{}" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="{}" preserveAspectRatio="xMinYMin meet"><title>{}</title><desc>{}</desc>'
        "{}</svg>",
        kind,
        width,
        height,
        width,
        height,
        f"{title}: {summary}",
        title,
        summary,
        body,
    )


def _summary(values: Sequence[float]) -> str:
    if not values:
        return "no data"
    return (
        f"{len(values)} point{'s' if len(values) != 1 else ''}, min {_number(min(values))}, "
        f"max {_number(max(values))}, last {_number(values[-1])}"
    )


def sparkline(
    values: Sequence[float], title: str, width: int = 120, height: int = 28
) -> SafeString:
    """A small line of ``values`` in order, with a dot per value; no axes."""
    pad = 3
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    xs = [scale(i, 0, max(1, len(values) - 1), pad, width - pad) for i in range(len(values))]
    ys = [scale(v, low, high, height - pad, pad) for v in values]
    line = " ".join(f"{_coord(x)},{_coord(y)}" for x, y in zip(xs, ys, strict=True))
    dots = _join(
        format_html(
            '<circle class="point" cx="{}" cy="{}" r="1.5"><title>{}</title></circle>',
            _coord(x),
            _coord(y),
            _number(v),
        )
        for x, y, v in zip(xs, ys, values, strict=True)
    )
    body = format_html('<polyline class="line" points="{}"></polyline>{}', line, dots)
    return _frame("sparkline", width, height, title, _summary(values), body)


def line_chart(
    series: Sequence[Series],
    title: str,
    *,
    width: int = 640,
    height: int = 220,
    x_labels: tuple[str, str] = ("", ""),
) -> SafeString:
    """Lines on shared axes: y ticks on the left, the first and last x labels below."""
    left, right, top, bottom = 48, 12, 10, 24
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points]
    ticks = nice_ticks(min(ys, default=0.0), max(ys, default=1.0))
    y_low, y_high = ticks[0], ticks[-1]
    x_low, x_high = min(xs, default=0.0), max(xs, default=1.0)

    def px(x: float) -> float:
        return scale(x, x_low, x_high, left, width - right)

    def py(y: float) -> float:
        return scale(y, y_low, y_high, height - bottom, top)

    grid = _join(
        format_html(
            '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"></line>'
            '<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>',
            left,
            width - right,
            _coord(py(t)),
            _coord(py(t)),
            left - 4,
            _coord(py(t) + 4),
            _number(t),
        )
        for t in ticks
    )
    axis = format_html(
        '<text class="tick" x="{}" y="{}">{}</text>'
        '<text class="tick" x="{}" y="{}" text-anchor="end">{}</text>',
        left,
        height - 6,
        x_labels[0],
        width - right,
        height - 6,
        x_labels[1],
    )
    lines = []
    for n, s in enumerate(series):
        coords = [(px(x), py(y)) for x, y in s.points]
        tips = s.labels or tuple(_number(y) for _, y in s.points)
        dots = _join(
            format_html(
                '<circle class="point" cx="{}" cy="{}" r="2.5"><title>{}</title></circle>',
                _coord(x),
                _coord(y),
                tip,
            )
            for (x, y), tip in zip(coords, tips, strict=True)
        )
        lines.append(
            format_html(
                '<g class="series series-{}" data-series="{}"><polyline class="line" points="{}">'
                "</polyline>{}</g>",
                n % 6,
                s.name,
                " ".join(f"{_coord(x)},{_coord(y)}" for x, y in coords),
                dots,
            )
        )
    summary = "; ".join(f"{s.name}: {_summary([y for _, y in s.points])}" for s in series)
    body = format_html("{}{}{}", grid, axis, _join(lines))
    return _frame("line", width, height, title, summary or "no data", body)


def _linked(href: str, inner: SafeString) -> SafeString:
    return format_html('<a href="{}">{}</a>', href, inner) if href else inner


def bar_chart(bars: Sequence[Bar], title: str, *, width: int = 360) -> SafeString:
    """Horizontal bars, one row each: label, bar, value; a bar with ``href`` is a link."""
    row, label_width, value_width = 22, 120, 56
    height = max(row, row * len(bars))
    top = max((b.value for b in bars), default=0.0) or 1.0
    span = width - label_width - value_width
    rows = []
    for n, bar in enumerate(bars):
        y = n * row
        length = max(1.0, scale(bar.value, 0, top, 0, span)) if bar.value else 0.0
        inner = format_html(
            '<text class="bar-label" x="{}" y="{}" text-anchor="end">{}</text>'
            '<rect class="bar {}" x="{}" y="{}" width="{}" height="{}"><title>{}: {}</title></rect>'
            '<text class="bar-value" x="{}" y="{}">{}</text>',
            label_width - 6,
            y + 15,
            bar.label,
            bar.tone,
            label_width,
            y + 4,
            _coord(length),
            row - 8,
            bar.label,
            _number(bar.value),
            _coord(label_width + length + 4),
            y + 15,
            _number(bar.value),
        )
        rows.append(_linked(bar.href, inner))
    summary = ", ".join(f"{b.label} {_number(b.value)}" for b in bars) or "no data"
    return _frame("bars", width, height, title, summary, _join(rows))


def column_chart(
    columns: Sequence[Column], title: str, *, width: int = 640, height: int = 160, unit: str = ""
) -> SafeString:
    """Vertical bars in order (oldest left) on a y axis from zero; ``tone`` colours each."""
    left, top, bottom = 48, 8, 8
    ticks = nice_ticks(0.0, max((c.value for c in columns), default=1.0) or 1.0)
    y_high = ticks[-1]
    slot = (width - left) / max(1, len(columns))
    grid = _join(
        format_html(
            '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"></line>'
            '<text class="tick" x="{}" y="{}" text-anchor="end">{}{}</text>',
            left,
            width,
            _coord(scale(t, 0, y_high, height - bottom, top)),
            _coord(scale(t, 0, y_high, height - bottom, top)),
            left - 4,
            _coord(scale(t, 0, y_high, height - bottom, top) + 4),
            _number(t),
            unit,
        )
        for t in ticks
    )
    bars = []
    for n, column in enumerate(columns):
        y = scale(column.value, 0, y_high, height - bottom, top)
        inner = format_html(
            '<rect class="bar {}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
            column.tone,
            _coord(left + n * slot + slot * 0.15),
            _coord(min(y, height - bottom - 1)),
            _coord(max(1.0, slot * 0.7)),
            _coord(max(1.0, height - bottom - y)),
            column.tooltip,
        )
        bars.append(_linked(column.href, inner))
    summary = _summary([c.value for c in columns])
    return _frame("columns", width, height, title, summary, format_html("{}{}", grid, _join(bars)))
