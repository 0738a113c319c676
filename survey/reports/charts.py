"""Server-side SVG bar charts: geometry computed here, drawn by templates/reports/_charts.html."""

from __future__ import annotations

from dataclasses import dataclass

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
