"""Inline SVG charts for the dashboard, drawn on the server (pure: text in, markup out).

Every chart is an `<svg role="img">` whose `aria-label` says in words what it shows, so a
screen reader gets the numbers a sighted reader sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its label, value, CSS tone (e.g. a band name) and the text shown beside it."""

    label: str
    value: float
    tone: str = ""
    text: str | None = None

    @property
    def shown(self) -> str:
        """What is written at the end of the bar."""
        return self.text if self.text is not None else _number(self.value)


@dataclass(frozen=True, slots=True)
class Point:
    """One point of a line chart; `value` None leaves a gap (nothing known then)."""

    label: str
    value: float | None


def bars(
    items: Sequence[Bar],
    *,
    title: str,
    width: int = 520,
    row: int = 30,
    label_width: int = 120,
    maximum: float | None = None,
) -> str:
    """A horizontal bar chart; bars scale to `maximum` (default: the largest value)."""
    top = max([maximum or 0.0, *(item.value for item in items)]) or 1.0
    text_width = 96
    span = width - label_width - text_width
    height = row * len(items) + 8
    summary = "; ".join(f"{item.label}: {item.shown}" for item in items)
    parts = [_open(width, height, f"{title}. {summary}" if items else f"{title}: no data")]
    for index, item in enumerate(items):
        y = 4 + index * row
        length = max(0.0, item.value) / top * span
        tone = f" bar-{_token(item.tone)}" if item.tone else ""
        parts.append(
            f'<text class="chart-label" x="{label_width - 8}" y="{y + row / 2 + 4:.1f}" '
            f'text-anchor="end">{escape(item.label)}</text>'
            f'<rect class="bar{tone}" x="{label_width}" y="{y + 4}" width="{length:.1f}" '
            f'height="{row - 8}" rx="3"><title>{escape(item.label)}: {escape(item.shown)}'
            "</title></rect>"
            f'<text class="chart-value" x="{label_width + length + 6:.1f}" '
            f'y="{y + row / 2 + 4:.1f}">{escape(item.shown)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line(
    points: Sequence[Point],
    *,
    title: str,
    width: int = 640,
    height: int = 220,
    low: float = 0.0,
    high: float = 100.0,
    zones: Sequence[tuple[float, str]] = (),
) -> str:
    """A line chart of `points` (gaps where a value is None) over shaded `zones`.

    `zones` are (floor, name) pairs, highest floor first, e.g. the health bands.
    """
    left, right, top, bottom = 36, 12, 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(index: int) -> float:
        return left + (plot_w * index / (len(points) - 1) if len(points) > 1 else plot_w / 2)

    def y(value: float) -> float:
        clamped = min(high, max(low, value))
        return top + plot_h * (1 - (clamped - low) / ((high - low) or 1))

    known = [(i, p) for i, p in enumerate(points) if p.value is not None]
    parts = [_open(width, height, _describe_line(title, known))]
    ceiling = high
    for floor, name in zones:
        parts.append(
            f'<rect class="zone zone-{_token(name)}" x="{left}" y="{y(ceiling):.1f}" '
            f'width="{plot_w}" height="{y(floor) - y(ceiling):.1f}"/>'
            f'<text class="chart-axis" x="{left - 4}" y="{y(floor) + 4:.1f}" '
            f'text-anchor="end">{_number(floor)}</text>'
        )
        ceiling = floor
    parts.append(
        f'<line class="chart-frame" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/>'
    )
    for index in _tick_indexes(len(points)):
        anchor = "start" if index == 0 else "end" if index == len(points) - 1 else "middle"
        parts.append(
            f'<text class="chart-axis" x="{x(index):.1f}" y="{height - 8}" '
            f'text-anchor="{anchor}">{escape(points[index].label)}</text>'
        )
    for run in _runs(points):
        coordinates = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
        parts.append(f'<polyline class="line" points="{coordinates}"/>')
    for index, point in known:
        assert point.value is not None
        parts.append(
            f'<circle class="dot" cx="{x(index):.1f}" cy="{y(point.value):.1f}" r="3">'
            f"<title>{escape(point.label)}: {_number(point.value)}</title></circle>"
        )
    if not known:
        parts.append(
            f'<text class="chart-label" x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" '
            'text-anchor="middle">no data</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _open(width: int, height: int, label: str) -> str:
    return (
        f'<svg class="chart" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet">'
    )


def _describe_line(title: str, known: list[tuple[int, Point]]) -> str:
    if not known:
        return f"{title}: no data"
    values = [(p.value, p.label) for _, p in known if p.value is not None]
    (first, first_at), (last, last_at) = values[0], values[-1]
    lowest, highest = min(values), max(values)
    return (
        f"{title}: {_number(first)} on {first_at}, {_number(last)} on {last_at}; "
        f"lowest {_number(lowest[0])} on {lowest[1]}, highest {_number(highest[0])} on "
        f"{highest[1]}"
    )


def _runs(points: Sequence[Point]) -> list[list[tuple[int, float]]]:
    """Stretches of consecutive known values (a line is not drawn across a gap)."""
    runs: list[list[tuple[int, float]]] = [[]]
    for index, point in enumerate(points):
        if point.value is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((index, point.value))
    return [run for run in runs if run]


def _tick_indexes(count: int, ticks: int = 5) -> list[int]:
    if count <= ticks:
        return list(range(count))
    return sorted({round(n * (count - 1) / (ticks - 1)) for n in range(ticks)})


def _number(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}".rstrip("0")


def _token(text: str) -> str:
    """A CSS class token: letters, digits and dashes only."""
    return "".join(ch if ch.isalnum() or ch == "-" else "-" for ch in text.lower())
