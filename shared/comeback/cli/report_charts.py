"""Inline SVG charts for the HTML report, drawn in Python: no script, font or image to fetch.

Each function returns one `<svg role="img" data-chart="...">` string with a `<title>`, axis labels
and its marks (class `mark`: what the page's self-check measures). An empty series still gives a
drawn chart: a framed "no data yet" note (also a `mark`), never an empty svg. Every string that
comes from the data is escaped here.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Sequence
from html import escape

Number = float | int
Format = Callable[[float], str]

WIDTH = 960
HEIGHT = 300
# left, right, top, bottom: room for tick labels, the legend and the axis labels
MARGIN = (84, 16, 34, 52)
PALETTE = ("#2f6db5", "#e0823d", "#3a9a5b", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")
NO_DATA = "no data yet"


def plain(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _n(value: float) -> str:
    """A coordinate, short."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def text_width(text: str, size: float = 11) -> float:
    """About how wide `text` is drawn, in px: a wide (CJK) character takes a full em, others about 0.6."""
    return sum(size if unicodedata.east_asian_width(c) in "WF" else size * 0.6 for c in text)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values from at most `low` to at least `high` (1, 2 or 5 times a power of ten apart)."""
    if not math.isfinite(low) or not math.isfinite(high):
        low, high = 0.0, 1.0
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(s * power for s in (1, 2, 2.5, 5, 10) if s * power >= raw)
    first = math.floor(low / step + 1e-9) * step
    ticks = []
    value = first
    while value < high + step * 0.999:
        ticks.append(round(value, 12))
        value += step
    if len(ticks) < 2:
        ticks.append(ticks[0] + step)
    return ticks


def _open(chart: str, title: str, width: int, height: int) -> list[str]:
    return [
        f'<svg role="img" data-chart="{_e(chart)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" class="chart">',
        f"<title>{_e(title)}</title>",
    ]


def _axis_labels(parts: list[str], x_label: str, y_label: str, width: int, height: int) -> None:
    left, right, top, bottom = MARGIN
    if x_label:
        parts.append(
            f'<text class="axis-label" x="{_n((left + width - right) / 2)}" y="{height - 8}" '
            f'text-anchor="middle">{_e(x_label)}</text>'
        )
    if y_label:
        cy = (top + height - bottom) / 2
        parts.append(
            f'<text class="axis-label" x="12" y="{_n(cy)}" text-anchor="middle" '
            f'transform="rotate(-90 12 {_n(cy)})">{_e(y_label)}</text>'
        )


def _legend(parts: list[str], names: Sequence[str], width: int) -> None:
    if len(names) < 2 and not (names and names[0]):
        return
    x = float(MARGIN[0])
    for i, name in enumerate(names):
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<rect class="legend" x="{x}" y="10" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text class="legend" x="{x + 16}" y="20">{_e(name)}</text>')
        x += 32 + text_width(name)
        if x > width - 80:
            break


def empty_chart(chart: str, title: str, note: str = NO_DATA, width: int = WIDTH, height: int = 120) -> str:
    """A chart with nothing to plot yet: its frame and a note, drawn all the same."""
    parts = _open(chart, title, width, height)
    parts.append(
        f'<rect class="mark frame" x="1" y="1" width="{width - 2}" height="{height - 2}" '
        'fill="#fafafa" stroke="#ccc"/>'
    )
    parts.append(
        f'<text class="mark note" x="{width / 2}" y="{height / 2 + 5}" text-anchor="middle">{_e(note)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _y_axis(
    parts: list[str], ticks: list[float], scale: Callable[[float], float], fmt: Format, width: int
) -> None:
    left, right, _, _ = MARGIN
    for t in ticks:
        y = scale(t)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" '
            f'y1="{_n(y)}" y2="{_n(y)}" stroke="#e5e5e5"/>'
        )
        parts.append(
            f'<text class="tick" x="{left - 6}" y="{_n(y + 4)}" text-anchor="end">{_e(fmt(t))}</text>'
        )


def _x_ticks(
    parts: list[str], categories: Sequence[str], centre: Callable[[int], float], height: int
) -> None:
    # at most about twelve labels, and none overlapping its neighbour
    span = (centre(1) - centre(0)) if len(categories) > 1 else float(WIDTH)
    longest = max((text_width(c) for c in categories), default=1.0) + 8
    step = max(1, math.ceil(len(categories) / 12), math.ceil(longest / max(1.0, span)))
    base = height - MARGIN[3]
    for i, name in enumerate(categories):
        if i % step:
            continue
        parts.append(
            f'<text class="tick" x="{_n(centre(i))}" y="{base + 16}" text-anchor="middle">{_e(name)}</text>'
        )


def line_chart(
    chart: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[Number | None]]],
    *,
    x_label: str = "",
    y_label: str = "",
    fmt: Format = plain,
    y_min: float | None = None,
    y_max: float | None = None,
    note: str = NO_DATA,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """One line per series over the categories (None: no value there, the line breaks)."""
    values = [v for _, vs in series for v in vs if v is not None]
    if not categories or not values:
        return empty_chart(chart, title, note, width)
    left, right, top, bottom = MARGIN
    ticks = nice_ticks(min(values) if y_min is None else y_min, max(values) if y_max is None else y_max)
    low, high = ticks[0], ticks[-1]
    plot_h = height - top - bottom
    span = (width - left - right) / len(categories)

    def x_of(i: int) -> float:
        return left + span * (i + 0.5)

    def y_of(v: float) -> float:
        return top + plot_h * (1 - (v - low) / (high - low))

    parts = _open(chart, title, width, height)
    _legend(parts, [name for name, _ in series], width)
    _y_axis(parts, ticks, y_of, fmt, width)
    _x_ticks(parts, categories, x_of, height)
    for k, (name, vs) in enumerate(series):
        colour = PALETTE[k % len(PALETTE)]
        path: list[str] = []
        pen_down = False
        for i, v in enumerate(vs):
            if v is None:
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{_n(x_of(i))},{_n(y_of(v))}")
            pen_down = True
        parts.append(
            f'<path class="mark line" d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        for i, v in enumerate(vs):
            if v is not None:
                parts.append(
                    f'<circle class="mark point" cx="{_n(x_of(i))}" cy="{_n(y_of(v))}" r="3" fill="{colour}">'
                    f"<title>{_e(name)} {_e(categories[i])}: {_e(fmt(v))}</title></circle>"
                )
    _axis_labels(parts, x_label, y_label, width, height)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    chart: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[Number]]],
    *,
    stacked: bool = False,
    x_label: str = "",
    y_label: str = "",
    fmt: Format = plain,
    note: str = NO_DATA,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """Vertical bars per category: one bar per series side by side, or stacked."""
    if not categories or not series:
        return empty_chart(chart, title, note, width)
    left, right, top, bottom = MARGIN
    if stacked:
        tops = [sum(max(0, vs[i]) for _, vs in series) for i in range(len(categories))]
    else:
        tops = [max(max(0, vs[i]) for _, vs in series) for i in range(len(categories))]
    ticks = nice_ticks(0, max(tops) or 1)
    high = ticks[-1]
    plot_h = height - top - bottom
    span = (width - left - right) / len(categories)
    gap = min(8.0, span * 0.2)
    group = span - gap
    bar = group if stacked else group / len(series)

    def y_of(v: float) -> float:
        return top + plot_h * (1 - v / high)

    parts = _open(chart, title, width, height)
    _legend(parts, [name for name, _ in series], width)
    _y_axis(parts, ticks, y_of, fmt, width)
    _x_ticks(parts, categories, lambda i: left + span * (i + 0.5), height)
    for i, category in enumerate(categories):
        base = 0.0
        for k, (name, vs) in enumerate(series):
            v = max(0, vs[i])
            x = left + span * i + gap / 2 + (0 if stacked else bar * k)
            y0, y1 = (base, base + v) if stacked else (0.0, v)
            # a zero still gets a hairline, so a bar chart of zeros is drawn and readable
            h = max(0.75, y_of(y0) - y_of(y1))
            parts.append(
                f'<rect class="mark bar" x="{_n(x)}" y="{_n(y_of(y0) - h)}" width="{_n(max(1.0, bar - 1))}" '
                f'height="{_n(h)}" fill="{PALETTE[k % len(PALETTE)]}">'
                f"<title>{_e(category)} {_e(name)}: {_e(fmt(vs[i]))}</title></rect>"
            )
            if stacked:
                base += v
    parts.append(
        f'<line class="axis" x1="{left}" x2="{width - right}" '
        f'y1="{_n(y_of(0))}" y2="{_n(y_of(0))}" stroke="#555"/>'
    )
    _axis_labels(parts, x_label, y_label, width, height)
    parts.append("</svg>")
    return "".join(parts)


def hbar_chart(
    chart: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[Number]]],
    *,
    x_label: str = "",
    fmt: Format = plain,
    note: str = NO_DATA,
    width: int = WIDTH,
) -> str:
    """Horizontal bars: one row per category, the series side by side within it."""
    if not categories or not series:
        return empty_chart(chart, title, note, width)
    left, right, top, bottom = 150, 56, MARGIN[2], 40
    row = 10.0 * len(series) + 8
    height = int(top + bottom + row * len(categories))
    high = nice_ticks(0, max((max(0, v) for _, vs in series for v in vs), default=0) or 1)[-1]
    plot_w = width - left - right

    def x_of(v: float) -> float:
        return left + plot_w * v / high

    parts = _open(chart, title, width, height)
    _legend(parts, [name for name, _ in series], width)
    for t in nice_ticks(0, high):
        x = x_of(t)
        parts.append(
            f'<line class="grid" x1="{_n(x)}" x2="{_n(x)}" '
            f'y1="{top}" y2="{height - bottom}" stroke="#e5e5e5"/>'
        )
        parts.append(
            f'<text class="tick" x="{_n(x)}" y="{height - bottom + 14}" '
            f'text-anchor="middle">{_e(fmt(t))}</text>'
        )
    for i, category in enumerate(categories):
        y = top + row * i + 4
        parts.append(
            f'<text class="tick" x="{left - 6}" y="{_n(y + row / 2)}" text-anchor="end">{_e(category)}</text>'
        )
        for k, (name, vs) in enumerate(series):
            v = max(0, vs[i])
            w = max(0.75, x_of(v) - left)
            parts.append(
                f'<rect class="mark bar" x="{left}" y="{_n(y + 10 * k)}" width="{_n(w)}" height="9" '
                f'fill="{PALETTE[k % len(PALETTE)]}">'
                f"<title>{_e(category)} {_e(name)}: {_e(fmt(vs[i]))}</title></rect>"
            )
            parts.append(
                f'<text class="value" x="{_n(left + w + 4)}" y="{_n(y + 10 * k + 8)}">{_e(fmt(vs[i]))}</text>'
            )
    parts.append(
        f'<text class="axis-label" x="{_n(left + plot_w / 2)}" y="{height - 8}" '
        f'text-anchor="middle">{_e(x_label)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _heat(share: float) -> str:
    """White to deep blue."""
    s = min(1.0, max(0.0, share))
    r, g, b = (round(255 + (c - 255) * s) for c in (24, 82, 160))
    return f"rgb({r},{g},{b})"


def heat_map(
    chart: str,
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float | None]],
    texts: Sequence[Sequence[str]],
    *,
    x_label: str = "",
    y_label: str = "",
    scale_max: float | None = None,
    note: str = NO_DATA,
    width: int = WIDTH,
) -> str:
    """A grid of cells, row by row; a cell's colour is its value over `scale_max` (default: the
    largest), None draws no cell (the cohort triangle's empty corner)."""
    present = [v for vs in values for v in vs if v is not None]
    if not rows or not columns or not present:
        return empty_chart(chart, title, note, width)
    left, right, top, bottom = 92, 12, 24, 44
    cell_w = max(18.0, (width - left - right) / len(columns))
    width = int(left + right + cell_w * len(columns))
    cell_h = 22.0
    height = int(top + bottom + cell_h * len(rows))
    peak = scale_max or max(present) or 1.0
    parts = _open(chart, title, width, height)
    for j, column in enumerate(columns):
        parts.append(
            f'<text class="tick" x="{_n(left + cell_w * (j + 0.5))}" y="{top - 6}" '
            f'text-anchor="middle">{_e(column)}</text>'
        )
    for i, name in enumerate(rows):
        y = top + cell_h * i
        parts.append(
            f'<text class="tick" x="{left - 6}" y="{_n(y + cell_h / 2 + 4)}" '
            f'text-anchor="end">{_e(name)}</text>'
        )
        for j, value in enumerate(values[i]):
            if value is None:
                continue
            x = left + cell_w * j
            share = value / peak
            parts.append(
                f'<rect class="mark cell" x="{_n(x)}" y="{_n(y)}" width="{_n(cell_w - 1)}" '
                f'height="{_n(cell_h - 1)}" fill="{_heat(share)}"><title>{_e(name)} / {_e(columns[j])}: '
                f"{_e(texts[i][j])}</title></rect>"
            )
            ink = "#fff" if share > 0.55 else "#222"
            parts.append(
                f'<text class="cell-text" x="{_n(x + cell_w / 2)}" y="{_n(y + cell_h / 2 + 4)}" '
                f'text-anchor="middle" fill="{ink}">{_e(texts[i][j])}</text>'
            )
    if x_label:
        parts.append(
            f'<text class="axis-label" x="{_n(left + cell_w * len(columns) / 2)}" y="{height - 12}" '
            f'text-anchor="middle">{_e(x_label)}</text>'
        )
    if y_label:
        parts.append(f'<text class="axis-label" x="4" y="{top - 6}">{_e(y_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def interval_chart(
    chart: str,
    title: str,
    items: Sequence[tuple[str, float | None, float | None, float | None]],
    *,
    x_label: str = "",
    fmt: Format = percent,
    note: str = NO_DATA,
    width: int = WIDTH,
) -> str:
    """Each item's estimate as a point and its interval as a horizontal bar, around a zero line.
    Items without an estimate are listed with a dash."""
    known = [(lo, hi, est) for _, est, lo, hi in items if est is not None]
    if not items or not known:
        return empty_chart(chart, title, note, width)
    left, right, top, bottom = 150, 24, 20, 44
    row = 26.0
    height = int(top + bottom + row * len(items))
    ends = [v for lo, hi, est in known for v in (lo, hi, est) if v is not None] + [0.0]
    ticks = nice_ticks(min(ends), max(ends))
    low, high = ticks[0], ticks[-1]
    plot_w = width - left - right

    def x_of(v: float) -> float:
        return left + plot_w * (v - low) / (high - low)

    parts = _open(chart, title, width, height)
    for t in ticks:
        x = x_of(t)
        parts.append(
            f'<line class="grid" x1="{_n(x)}" x2="{_n(x)}" '
            f'y1="{top}" y2="{height - bottom}" stroke="#e5e5e5"/>'
        )
        parts.append(
            f'<text class="tick" x="{_n(x)}" y="{height - bottom + 14}" '
            f'text-anchor="middle">{_e(fmt(t))}</text>'
        )
    zero = x_of(0.0)
    parts.append(
        f'<line class="axis zero" x1="{_n(zero)}" x2="{_n(zero)}" y1="{top - 4}" y2="{height - bottom}" '
        'stroke="#555" stroke-dasharray="4 3"/>'
    )
    for i, (label, est, lo, hi) in enumerate(items):
        y = top + row * (i + 0.5)
        parts.append(
            f'<text class="tick" x="{left - 8}" y="{_n(y + 4)}" text-anchor="end">{_e(label)}</text>'
        )
        if est is None:
            parts.append(f'<text class="tick" x="{_n(zero + 6)}" y="{_n(y + 4)}">–</text>')
            continue
        if lo is not None and hi is not None:
            parts.append(
                f'<line class="mark interval" x1="{_n(x_of(lo))}" x2="{_n(x_of(hi))}" '
                f'y1="{_n(y)}" y2="{_n(y)}" '
                f'stroke="{PALETTE[0]}" stroke-width="3"/>'
            )
            for end in (lo, hi):
                parts.append(
                    f'<line class="whisker" x1="{_n(x_of(end))}" x2="{_n(x_of(end))}" y1="{_n(y - 6)}" '
                    f'y2="{_n(y + 6)}" stroke="{PALETTE[0]}" stroke-width="2"/>'
                )
        span = f" [{fmt(lo)}, {fmt(hi)}]" if lo is not None and hi is not None else ""
        parts.append(
            f'<circle class="mark point" cx="{_n(x_of(est))}" cy="{_n(y)}" r="5" fill="{PALETTE[1]}">'
            f"<title>{_e(label)}: {_e(fmt(est))}{_e(span)}</title></circle>"
        )
    parts.append(
        f'<text class="axis-label" x="{_n(left + plot_w / 2)}" y="{height - 8}" '
        f'text-anchor="middle">{_e(x_label)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
