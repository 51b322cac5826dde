"""Server-rendered SVG charts: the geometry of the portal's charts, drawn by ``executions/partials/_chart.html``
(bars by day, one series or stacked: the bars' markup from ``DayChart.bars_svg``), ``_line_chart.html`` (a rate
by day) and ``_sparkline.html``.

Pure functions of numbers and dates (no ORM, no request): the rule's details page, the builder's backtest
preview and the dashboard build their charts here. The SVG carries no text of its own (it scales with the
screen, so its letters would shrink to nothing on a phone): axis labels, legends and the numbers as a table
are HTML beside it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 600
HEIGHT = 120
BAR_GAP = 2
SPARK_WIDTH = 100
SPARK_HEIGHT = 24


@dataclass(frozen=True)
class Series:
    """One stacked series: its key in each day's counts, its legend label and its CSS colour class."""

    key: str
    label: str
    css: str = "blue"


ONE_SERIES = (Series("total", "Executions"),)


@dataclass(frozen=True)
class Segment:
    series: Series
    count: int
    y: float
    h: float


@dataclass(frozen=True)
class Bar:
    day: dt.date
    x: float
    w: float
    total: int
    segments: tuple[Segment, ...]

    @property
    def title(self) -> str:
        """The hover text: the day, its total and, when stacked, each series' count."""
        parts = [f"{segment.series.label} {segment.count}" for segment in self.segments if segment.count]
        detail = f" ({', '.join(parts)})" if len(parts) > 1 else ""
        return f"{self.day:%b} {self.day.day}: {self.total}{detail}"


@dataclass(frozen=True)
class DayChart:
    """Bars by day, each a stack of its series' counts, scaled to the busiest day."""

    label: str  # what the chart shows, for screen readers: "Executions per day, last 30 days"
    width: int
    height: int
    series: tuple[Series, ...]
    bars: tuple[Bar, ...]
    peak: int
    total: int

    @property
    def first_day(self) -> dt.date | None:
        return self.bars[0].day if self.bars else None

    @property
    def last_day(self) -> dt.date | None:
        return self.bars[-1].day if self.bars else None

    @property
    def stacked(self) -> bool:
        return len(self.series) > 1

    @property
    def bars_svg(self) -> SafeString:
        """The bars as SVG markup (a ``<g>`` per day: its hover title and a ``<rect>`` per segment).

        Written here rather than in ``_chart.html``: 90 days of stacked bars are about 2,000 template
        variable look-ups, a third of the dashboard's rendering time (issue 17).
        """
        stacked = self.stacked
        parts = []
        for bar in self.bars:
            parts.append(
                f'<g class="day" data-day="{bar.day.isoformat()}" data-count="{bar.total}">'
                f"<title>{escape(bar.title)}</title>"
            )
            for segment in bar.segments:
                data = f' data-series="{escape(segment.series.key)}" data-count="{segment.count}"' if stacked else ""
                parts.append(
                    f'<rect class="bar {escape(segment.series.css)}" x="{bar.x}" y="{segment.y}" width="{bar.w}" '
                    f'height="{segment.h}"{data}></rect>'
                )
            parts.append("</g>")
        return mark_safe("".join(parts))  # numbers and escaped text only

    @property
    def series_totals(self) -> list[tuple[Series, int]]:
        """Each series with its sum over the days: the legend."""
        return [
            (series, sum(segment.count for bar in self.bars for segment in bar.segments if segment.series == series))
            for series in self.series
        ]


def day_bar_chart(days: Sequence[Mapping[str, object]], label: str, series: Sequence[Series] = ONE_SERIES) -> DayChart:
    """A ``DayChart`` of ``days`` (oldest first), each ``{"date": date or ISO text, <series.key>: count}``.

    A day with nothing keeps one zero-height segment, so every day has a bar to hover.
    """
    series = tuple(series)
    totals = [sum(_count(day, one.key) for one in series) for day in days]
    peak = max(totals, default=0)
    scale = (HEIGHT - 2) / peak if peak else 0.0
    bar_width = WIDTH / max(len(days), 1)
    bars = []
    for index, (day, total) in enumerate(zip(days, totals, strict=True)):
        top = float(HEIGHT)
        segments: list[Segment] = []
        for one in series:
            count = _count(day, one.key)
            if count == 0 and (total or segments):
                continue
            height = round(count * scale, 1)
            top = round(top - height, 1)
            segments.append(Segment(one, count, top, height))
        bars.append(
            Bar(
                day=_date(day["date"]),
                x=round(index * bar_width + BAR_GAP / 2, 1),
                w=round(max(bar_width - BAR_GAP, 0.5), 1),
                total=total,
                segments=tuple(segments),
            )
        )
    return DayChart(label, WIDTH, HEIGHT, series, tuple(bars), peak, sum(totals))


@dataclass(frozen=True)
class RatePoint:
    day: dt.date
    rate: float | None  # 0..1, None on a day with nothing to rate
    x: float
    y: float | None


@dataclass(frozen=True)
class RateChart:
    """A rate (0..1) by day as a line, broken on days without a rate; ``threshold`` is drawn as a guide."""

    label: str
    width: int
    height: int
    points: tuple[RatePoint, ...]
    path: str  # SVG path data: one "M…L…" run per stretch of days with a rate
    threshold: float | None
    threshold_y: float | None

    @property
    def first_day(self) -> dt.date | None:
        return self.points[0].day if self.points else None

    @property
    def last_day(self) -> dt.date | None:
        return self.points[-1].day if self.points else None

    @property
    def dots(self) -> list[RatePoint]:
        """Days with a rate whose neighbours have none: a lone day shows as a dot, not an invisible line."""
        found = []
        for index, point in enumerate(self.points):
            if point.y is None:
                continue
            before = self.points[index - 1].y if index > 0 else None
            after = self.points[index + 1].y if index + 1 < len(self.points) else None
            if before is None and after is None:
                found.append(point)
        return found


def day_rate_chart(
    days: Sequence[tuple[dt.date | str, float | None]], label: str, threshold: float | None = None
) -> RateChart:
    """A ``RateChart`` of ``(day, rate)`` pairs, oldest first; the y axis runs from 0 % (bottom) to 100 %."""
    step = WIDTH / max(len(days) - 1, 1)
    points = []
    for index, (day, rate) in enumerate(days):
        x = round(index * step, 1) if len(days) > 1 else WIDTH / 2
        points.append(RatePoint(_date(day), rate, x, None if rate is None else _rate_y(rate)))
    commands = []
    drawing = False
    for point in points:
        if point.y is None:
            drawing = False
            continue
        commands.append(f"{'L' if drawing else 'M'}{point.x} {point.y}")
        drawing = True
    threshold_y = None if threshold is None else _rate_y(threshold)
    return RateChart(label, WIDTH, HEIGHT, tuple(points), " ".join(commands), threshold, threshold_y)


def _rate_y(rate: float) -> float:
    bounded = min(max(rate, 0.0), 1.0)
    return round(HEIGHT - 2 - bounded * (HEIGHT - 4), 1)


@dataclass(frozen=True)
class Sparkline:
    """A tiny line of counts by day, scaled to its own busiest day."""

    label: str
    width: int
    height: int
    points: str  # the polyline's "x,y x,y …"
    peak: int
    total: int


def sparkline(counts: Sequence[int], label: str) -> Sparkline:
    peak = max(counts, default=0)
    step = SPARK_WIDTH / max(len(counts) - 1, 1)
    usable = SPARK_HEIGHT - 2
    coordinates = [
        f"{round(index * step, 1)},{round(SPARK_HEIGHT - 1 - (count / peak * usable if peak else 0.0), 1)}"
        for index, count in enumerate(counts)
    ]
    return Sparkline(label, SPARK_WIDTH, SPARK_HEIGHT, " ".join(coordinates), peak, sum(counts))


def _count(day: Mapping[str, object], key: str) -> int:
    value = day.get(key, 0)
    return int(value) if isinstance(value, int | float) else 0


def _date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
