"""Server-side SVG bar charts: geometry computed here, drawn by templates/reports/_charts.html."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

ROW_HEIGHT = 24
LABEL_WIDTH = 38  # percent of the chart's width given to labels


@dataclass(frozen=True)
class Bar:
    """One bar: where it starts and how wide it is, in percent of the plot area."""

    label: str
    text: str
    x: float
    width: float
    y: int
    negative: bool


@dataclass(frozen=True)
class BarChart:
    """A horizontal bar chart with its axis range."""

    title: str
    bars: list[Bar]
    low: float
    high: float

    @property
    def height(self) -> int:
        """Pixel height of the drawing."""
        return ROW_HEIGHT * len(self.bars) + 8

    @property
    def label_width(self) -> int:
        """Percent of the width used by the labels."""
        return LABEL_WIDTH

    @property
    def zero(self) -> float:
        """Where the zero line falls, in percent of the whole chart."""
        return LABEL_WIDTH + (100 - LABEL_WIDTH - 8) * _position(0, self.low, self.high)


def _position(value: float, low: float, high: float) -> float:
    value = min(max(value, low), high)
    return (value - low) / (high - low) if high > low else 0.0


def bar_chart(title: str, rows: list[tuple[str, float | None, str]], low: float, high: float) -> BarChart:
    """Bars for (label, value, text shown) rows on the axis low..high; None draws no bar."""
    plot = 100 - LABEL_WIDTH - 8
    bars = []
    for index, (label, value, text) in enumerate(rows):
        start = _position(0 if low <= 0 <= high else low, low, high)
        end = _position(value, low, high) if value is not None else start
        left, right = sorted((start, end))
        bars.append(
            Bar(
                label=label,
                text=text,
                x=LABEL_WIDTH + plot * left,
                width=plot * (right - left),
                y=index * ROW_HEIGHT + 4,
                negative=value is not None and value < 0,
            )
        )
    return BarChart(title, bars, low, high)


# --- Diverging stacked bars (the usual Likert chart) -------------------------------------------


@dataclass(frozen=True)
class Segment:
    """One answer value's share of a diverging bar, placed in percent of the plot's width."""

    value: int
    share: float  # percent of the item's answers
    x: float
    width: float


@dataclass(frozen=True)
class LikertRow:
    """One item: its full label, n, and its segments around the neutral midpoint."""

    label: str
    n: int
    segments: list[Segment]
    disagree: float  # percent answering below the midpoint
    agree: float  # percent answering above it


def likert_rows(items: list[tuple[str, dict[int, int]]]) -> list[LikertRow]:
    """Diverging stacked bars of 1–5 answers: low values left of the centre line, high ones right,
    the neutral answer split across it. The plot spans −100% … +100% of answers."""
    rows = []
    for label, counts in items:
        n = sum(counts.values())
        if not n:
            continue
        values = sorted(counts)
        middle = values[len(values) // 2]
        share = {value: 100 * counts[value] / n for value in values}
        left = sum(share[v] for v in values if v < middle) + share[middle] / 2
        start = 50 - left / 2  # 50 is the centre; each side is half the width
        segments = []
        for value in values:
            width = share[value] / 2
            segments.append(Segment(value, share[value], start, width))
            start += width
        rows.append(
            LikertRow(
                label,
                n,
                segments,
                sum(share[v] for v in values if v < middle),
                sum(share[v] for v in values if v > middle),
            )
        )
    return rows


# --- A value with its interval per row (cNPS by month) ------------------------------------------


@dataclass(frozen=True)
class IntervalRow:
    """One point estimate with its interval, placed in percent of the plot's width."""

    label: str
    text: str
    value: float | None
    x: float | None
    low: float | None
    high: float | None


def interval_rows(
    rows: list[tuple[str, float | None, tuple[float, float] | None, str]], low: float, high: float
) -> list[IntervalRow]:
    """(label, value, (low, high), text) rows on the axis low..high; None draws nothing."""
    placed = []
    for label, value, interval, text in rows:
        if value is None or interval is None:
            placed.append(IntervalRow(label, text, None, None, None, None))
            continue
        placed.append(
            IntervalRow(
                label,
                text,
                value,
                100 * _position(value, low, high),
                100 * _position(interval[0], low, high),
                100 * _position(interval[1], low, high),
            )
        )
    return placed


# The two figures every report table repeats in each cell (hundreds per page): formatted here
# rather than by a Jinja macro per cell, whose calls were a noticeable part of the page's
# rendering. Numbers only, so nothing needs escaping.


def mean_ci(summary: Any) -> Markup:
    """A mean with the half-width of its 95% interval ("—" without answers)."""
    if not summary.n:
        return Markup("—")
    text = f"{summary.mean:.2f}"
    if summary.margin:
        text += f' <span class="muted">± {summary.margin:.2f}</span>'
    return Markup(text)


def nps_ci(group: Any) -> Markup:
    """A group's cNPS with its 95% interval ("—" without answers)."""
    if group.nps is None:
        return Markup("—")
    low, high = group.nps_interval
    return Markup(f'{group.nps:+.0f} <span class="muted">({low:+.0f} to {high:+.0f})</span>')
