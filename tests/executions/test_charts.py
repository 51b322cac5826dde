"""The charts' geometry (executions/charts.py): pure functions, no database."""

from __future__ import annotations

import datetime as dt

import pytest

from executions.charts import HEIGHT, SPARK_HEIGHT, Series, day_bar_chart, day_rate_chart, sparkline

pytestmark = pytest.mark.database_free  # pure: the PostgreSQL run of .ci/run skips it

DAY = dt.date(2026, 3, 1)
STACK = (Series("succeeded", "Succeeded", "emerald"), Series("failed", "Failed", "crimson"))


def days(*counts: dict[str, int]) -> list[dict[str, object]]:
    return [{"date": DAY + dt.timedelta(days=index), **count} for index, count in enumerate(counts)]


def test_bars_stack_their_series_from_the_bottom_scaled_to_the_busiest_day():
    chart = day_bar_chart(days({"succeeded": 3, "failed": 1}, {"succeeded": 1}), "Runs", STACK)
    busiest, quiet = chart.bars
    assert (chart.peak, chart.total, busiest.total, quiet.total) == (4, 5, 4, 1)
    bottom, top = busiest.segments
    assert (bottom.series.key, top.series.key) == ("succeeded", "failed")
    assert bottom.y + bottom.h == pytest.approx(HEIGHT) and top.y + top.h == pytest.approx(bottom.y)
    assert bottom.h == pytest.approx(3 * top.h, abs=0.2)
    assert [segment.series.key for segment in quiet.segments] == ["succeeded"]  # no zero-height failed
    assert busiest.title == "Mar 1: 4 (Succeeded 3, Failed 1)" and quiet.title == "Mar 2: 1"
    assert chart.series_totals == [(STACK[0], 4), (STACK[1], 1)]


def test_the_bars_markup_has_a_group_per_day_a_rect_per_segment_and_escaped_titles():
    stack = (Series("succeeded", "<b>Done</b>", "emerald"), Series("failed", "Failed", "crimson"))
    chart = day_bar_chart(days({"succeeded": 3, "failed": 1}, {}), "Runs", stack)
    markup = str(chart.bars_svg)
    assert markup.count('<g class="day"') == 2 and markup.count("<rect ") == 3
    assert '<g class="day" data-day="2026-03-01" data-count="4"><title>Mar 1: 4 (&lt;b&gt;Done&lt;/b&gt; 3' in markup
    first = chart.bars[0]
    bottom = first.segments[0]
    expected = f'<rect class="bar emerald" x="{first.x}" y="{bottom.y}" width="{first.w}" height="{bottom.h}"'
    assert f'{expected} data-series="succeeded" data-count="3"></rect>' in markup
    assert "data-series" not in str(day_bar_chart([{"date": DAY, "total": 2}], "Runs").bars_svg)  # one series


def test_a_day_with_nothing_keeps_one_flat_bar_and_an_empty_chart_divides_by_nothing():
    chart = day_bar_chart(days({}, {}), "Runs", STACK)
    assert chart.peak == 0 and [len(bar.segments) for bar in chart.bars] == [1, 1]
    assert all(bar.segments[0].h == 0 for bar in chart.bars)
    assert day_bar_chart([], "Runs").bars == () and day_bar_chart([], "Runs").first_day is None


def test_one_series_reads_total_and_dates_as_text():
    chart = day_bar_chart([{"date": "2026-03-01", "total": 2}], "Runs")
    assert chart.bars[0].day == DAY and not chart.stacked and chart.total == 2


@pytest.mark.parametrize(
    ("rates", "path", "dots"),
    [
        ([1.0, 0.5], "M0.0 2.0 L600.0 60.0", 0),
        ([1.0, None, 0.0], "M0.0 2.0 M600.0 118.0", 2),  # a gap breaks the line; lone days are dots
        ([None, None], "", 0),
        ([0.25, 0.25, None], "M0.0 89.0 L300.0 89.0", 0),
    ],
)
def test_the_rate_line_breaks_on_days_without_a_rate(rates, path, dots):
    chart = day_rate_chart([(DAY + dt.timedelta(days=i), rate) for i, rate in enumerate(rates)], "Rate", 0.9)
    assert chart.path == path and len(chart.dots) == dots
    assert chart.threshold_y == pytest.approx(HEIGHT - 2 - 0.9 * (HEIGHT - 4))


def test_sparkline_scales_to_its_own_peak():
    spark = sparkline([0, 2, 4], "Restock")
    assert spark.points == f"0.0,{SPARK_HEIGHT - 1}.0 50.0,{SPARK_HEIGHT - 1 - 11}.0 100.0,1.0"
    assert (spark.peak, spark.total) == (4, 6)
    assert sparkline([0, 0], "Idle").points == f"0.0,{SPARK_HEIGHT - 1}.0 100.0,{SPARK_HEIGHT - 1}.0"
