"""A strict parser for 5-field cron expressions (minute hour day-of-month month day-of-week).

Supports ``*``, numbers, ranges ``a-b``, steps ``*/n`` and ``a-b/n``, lists ``a,b``, month names
(jan…dec) and weekday names (sun…sat, with 0 and 7 both Sunday). Day-of-month and day-of-week
combine as in Vixie cron: when both are restricted, a day matches if either matches.
"""

from __future__ import annotations

from dataclasses import dataclass

MONTH_NAMES = {
    name: index
    for index, name in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
WEEKDAY_NAMES = {name: index for index, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}

# (name, lowest, highest, names)
FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, MONTH_NAMES),
    ("day of week", 0, 7, WEEKDAY_NAMES),
)


class CronError(ValueError):
    """A cron expression that can't be parsed; the message says which field and why."""


@dataclass(frozen=True)
class CronSpec:
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]  # 0 = Sunday … 6 = Saturday
    day_of_month_restricted: bool
    day_of_week_restricted: bool

    def matches_day(self, day: int, month: int, cron_weekday: int) -> bool:
        """Whether a calendar day (cron weekday: 0 = Sunday) is one the expression runs on."""
        if month not in self.months:
            return False
        dom = day in self.days_of_month
        dow = cron_weekday in self.days_of_week
        if self.day_of_month_restricted and self.day_of_week_restricted:
            return dom or dow
        return dom and dow


def _value(token: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    lowered = token.lower()
    if lowered in names:
        return names[lowered]
    if not token.isdigit():
        raise CronError(f'{name}: "{token}" is not a number')
    number = int(token)
    if not low <= number <= high:
        raise CronError(f"{name}: {number} is outside {low}-{high}")
    return number


def _field(text: str, name: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"{name}: empty list item")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f'{name}: step "{step_text}" must be a positive number')
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _value(first, name, low, high, names), _value(last, name, low, high, names)
            if start > end:
                raise CronError(f"{name}: range {base} runs backwards")
        else:
            start = _value(base, name, low, high, names)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return values


def parse_cron(expression: str) -> CronSpec:
    """Parse a 5-field cron expression; raises CronError naming the field at fault."""
    if not isinstance(expression, str):
        raise CronError("must be a string of 5 fields")
    parts = expression.split()
    if len(parts) != 5:
        raise CronError(f"must have 5 fields (minute hour day-of-month month day-of-week), not {len(parts)}")
    parsed = [_field(part, *spec) for part, spec in zip(parts, FIELDS, strict=True)]
    weekdays = {0 if day == 7 else day for day in parsed[4]}
    return CronSpec(
        minutes=frozenset(parsed[0]),
        hours=frozenset(parsed[1]),
        days_of_month=frozenset(parsed[2]),
        months=frozenset(parsed[3]),
        days_of_week=frozenset(weekdays),
        day_of_month_restricted=not parts[2].startswith("*"),
        day_of_week_restricted=not parts[4].startswith("*"),
    )
