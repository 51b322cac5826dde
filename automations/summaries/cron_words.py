"""A 5-field cron expression in words: ``0 9 * * 1-5`` -> ``At 09:00 on weekdays``."""

from __future__ import annotations

from collections.abc import Sequence

from automations.cron import CronError, CronSpec, parse_cron
from automations.summaries.text import MONTHS, capitalize, join_words, ordinal
from governance.common.words import plural

# Cron weekday numbers (0 = Sunday), listed Monday first as people read a week.
CRON_WEEKDAYS = {1: "Monday", 2: "Tuesday", 3: "Wednesday", 4: "Thursday", 5: "Friday", 6: "Saturday", 0: "Sunday"}
MAX_LISTED_TIMES = 4


def _step_of(values: Sequence[int], low: int, high: int) -> tuple[int, int] | None:
    """(start, step) when ``values`` is ``start, start+step, …`` up to ``high`` with start < step."""
    if len(values) < 2:
        return None
    step = values[1] - values[0]
    start = values[0]
    if step < 2 or start - low >= step or list(values) != list(range(start, high + 1, step)):
        return None
    return start, step


def _contiguous(values: Sequence[int]) -> bool:
    return len(values) >= 2 and list(values) == list(range(values[0], values[-1] + 1))


def _hours_window(hours: Sequence[int]) -> str:
    if _contiguous(hours):
        return f"between {hours[0]:02d}:00 and {hours[-1]:02d}:59"
    return f"in the {join_words([f'{hour:02d}:00' for hour in hours])} {'hour' if len(hours) == 1 else 'hours'}"


def _minutes_past(minutes: Sequence[int]) -> str:
    """``on the hour``, ``at 15 minutes past the hour``, ``on the hour and at 20 minutes past``."""
    others = [minute for minute in minutes if minute]
    if not others:
        return "on the hour"
    listed = f"{join_words([str(minute) for minute in others])} {'minute' if others == [1] else 'minutes'} past"
    return f"on the hour and at {listed}" if 0 in minutes else f"at {listed} the hour"


def _time_part(spec: CronSpec) -> tuple[str, bool]:
    """The time of day in words and whether it names specific times (so "every day" reads well)."""
    minutes, hours = sorted(spec.minutes), sorted(spec.hours)
    all_hours = len(hours) == 24
    if len(minutes) * len(hours) <= MAX_LISTED_TIMES:
        return "at " + join_words([f"{hour:02d}:{minute:02d}" for hour in hours for minute in minutes]), True
    if len(minutes) == 60:
        return ("every minute" if all_hours else f"every minute {_hours_window(hours)}"), False
    minute_step = _step_of(minutes, 0, 59)
    if minute_step is not None:
        start, step = minute_step
        text = f"every {step} minutes"
        if start:
            text += f", starting {plural(start, 'minute')} past the hour,"
        return (text if all_hours else f"{text} {_hours_window(hours)}").rstrip(","), False
    past = _minutes_past(minutes)
    if all_hours:
        return f"every hour {past}", False
    hour_step = _step_of(hours, 0, 23)
    if hour_step is not None and hour_step[0] == 0:
        return f"every {hour_step[1]} hours {past}", False
    return f"every hour {past} {_hours_window(hours)}", False


def _days_of_month(days: Sequence[int]) -> str:
    if len(days) >= 3 and _contiguous(days):
        return f"on days {days[0]} to {days[-1]} of the month"
    return f"on the {join_words([ordinal(day) for day in days])} of the month"


def _days_of_week(days: set[int]) -> str:
    if days == {1, 2, 3, 4, 5}:
        return "on weekdays"
    if days == {0, 6}:
        return "on weekends"
    return "on " + join_words([f"{CRON_WEEKDAYS[day]}s" for day in CRON_WEEKDAYS if day in days])


def _day_part(spec: CronSpec) -> str:
    all_dom = len(spec.days_of_month) == 31
    all_dow = len(spec.days_of_week) == 7
    dom = "" if all_dom else _days_of_month(sorted(spec.days_of_month))
    dow = "" if all_dow else _days_of_week(set(spec.days_of_week))
    if spec.day_of_month_restricted and spec.day_of_week_restricted:
        # Vixie cron: with both fields restricted a day runs when either matches.
        if all_dom or all_dow:
            return ""
        return f"{dom} or {dow}"
    if spec.day_of_month_restricted:
        return dom
    if spec.day_of_week_restricted:
        return dow
    return ""


def _month_part(spec: CronSpec) -> str:
    months = sorted(spec.months)
    if len(months) == 12:
        return ""
    if len(months) >= 3 and _contiguous(months):
        return f"from {MONTHS[months[0] - 1]} to {MONTHS[months[-1] - 1]}"
    return "in " + join_words([MONTHS[month - 1] for month in months])


def describe_cron(expression: object) -> str:
    """The expression in words, capitalised; ``On a custom schedule`` when it can't be parsed."""
    try:
        spec = parse_cron(expression)  # type: ignore[arg-type]
    except CronError:
        return "On a custom schedule"
    time_text, specific = _time_part(spec)
    day_text = _day_part(spec)
    if not day_text and specific:
        day_text = "every day"
    parts = [time_text, day_text, _month_part(spec)]
    return capitalize(" ".join(part for part in parts if part))
