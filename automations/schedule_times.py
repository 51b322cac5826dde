"""Pure schedule math: when a schedule trigger fires, as cron does it across time zones and DST.

No ORM here. The rule services use it to keep ``AutomationRule.next_run_at`` in sync, and the schedule
listener uses it to plan the slots that are due.

Patterns (the frozen schema of ``validate_schedule_trigger``), each at ``time`` (HH:MM) in
``timezone`` (default: the tenant's zone):

- ``daily``: every day.
- ``weekly``: every ``day`` (monday ... sunday).
- ``monthly``: on ``day_of_month``; past a month's end it fires on that month's last day
  (day 31 fires on 30 April and on 28 or 29 February).
- ``seasonal`` with ``month`` + ``day``: once a year; 29 February fires on 28 February in years
  without one (the same "last day of the month" rule as monthly).
- ``seasonal`` with a named ``season``: once a year on the season's date, see ``SEASON_DATES``.
- ``cron``: a 5-field expression (``automations.cron``) read in local wall time; ``time`` is not used.

Local time to an instant, as Debian cron / cronsim do it:

- A wall time that exists once is that instant: 09:00 America/New_York is 09:00 local on both sides
  of a DST change (14:00 UTC in winter, 13:00 UTC in summer).
- A wall time inside the spring-forward gap (02:30 when clocks jump from 02:00 to 03:00) fires once,
  at the first valid local minute after the gap (03:00).
- A wall time that happens twice at fall-back (01:30 when clocks go from 02:00 back to 01:00) fires
  once, at its first occurrence (PEP 495 ``fold=0``).
- Cron expressions follow the same two rules minute by minute; several gap minutes that land on the
  same instant fire once, since a slot is an instant.

The mapping from wall time to instant never goes backwards, so "the first slot after an instant" is
the first candidate wall time, in order, whose instant is after it.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from automations.choices import SchedulePattern, Season
from automations.cron import CronError, CronSpec, parse_cron
from governance.choices import WEEKDAYS_BY_INDEX

UTC = dt.UTC
ONE_MINUTE = dt.timedelta(minutes=1)
# How far ahead to look for a cron expression's next day; "0 0 29 2 *" can wait 8 years (2096 -> 2104).
MAX_SEARCH_DAYS = 366 * 9
MAX_MISSED_RECORDED = 100


class ScheduleError(ValueError):
    """A stored schedule config that cannot be computed (bad zone, time or expression)."""


# --- named seasons -----------------------------------------------------------------------------


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The ``n``-th ``weekday`` (Monday = 0) of a month."""
    first = dt.date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 7 * (n - 1))


def thanksgiving_us(year: int) -> dt.date:
    """US Thanksgiving: the fourth Thursday of November."""
    return _nth_weekday(year, 11, 3, 4)


def _fixed(month: int, day: int) -> Callable[[int], dt.date]:
    return lambda year: dt.date(year, month, day)


# One date per season and year. Retail seasons follow the US calendar; the four seasons are the
# meteorological ones of the northern hemisphere.
SEASON_DATES: dict[str, Callable[[int], dt.date]] = {
    Season.BLACK_FRIDAY: lambda year: thanksgiving_us(year) + dt.timedelta(days=1),  # day after Thanksgiving
    Season.CYBER_MONDAY: lambda year: thanksgiving_us(year) + dt.timedelta(days=4),  # the Monday after
    Season.HOLIDAY_SEASON: _fixed(12, 1),  # 1 December, start of the December holiday season
    Season.VALENTINES_DAY: _fixed(2, 14),
    Season.MOTHERS_DAY: lambda year: _nth_weekday(year, 5, 6, 2),  # US: second Sunday of May
    Season.BACK_TO_SCHOOL: _fixed(8, 1),  # 1 August, start of the US back-to-school shopping season
    Season.SPRING: _fixed(3, 1),
    Season.SUMMER: _fixed(6, 1),
    Season.AUTUMN: _fixed(9, 1),
    Season.WINTER: _fixed(12, 1),
}


# How long the run-up to a one-day occasion counts as its season (Valentine's Day, Mother's Day).
OCCASION_RUN_UP_DAYS = 14


def season_on(day: dt.date) -> str:
    """The season a (local) date is in, from the season dates above; the most specific wins.

    1. Black Friday: from Black Friday to the Sunday after; Cyber Monday: that Monday;
    2. the holiday season: December (from its start, 1 December, to the year's end);
    3. Valentine's Day and Mother's Day: the two weeks up to and including the day;
    4. back to school: August (from its start, 1 August);
    5. otherwise the meteorological season: spring from 1 March, summer from 1 June, autumn from
       1 September, winter from 1 December (so January and February).
    """
    year = day.year
    black_friday, cyber_monday = SEASON_DATES[Season.BLACK_FRIDAY](year), SEASON_DATES[Season.CYBER_MONDAY](year)
    if day == cyber_monday:
        return Season.CYBER_MONDAY
    if black_friday <= day < cyber_monday:
        return Season.BLACK_FRIDAY
    if day >= SEASON_DATES[Season.HOLIDAY_SEASON](year):
        return Season.HOLIDAY_SEASON
    for occasion in (Season.VALENTINES_DAY, Season.MOTHERS_DAY):
        date = SEASON_DATES[occasion](year)
        if date - dt.timedelta(days=OCCASION_RUN_UP_DAYS - 1) <= day <= date:
            return occasion
    back_to_school = SEASON_DATES[Season.BACK_TO_SCHOOL](year)
    if back_to_school <= day < back_to_school.replace(month=back_to_school.month + 1):
        return Season.BACK_TO_SCHOOL
    for season in (Season.AUTUMN, Season.SUMMER, Season.SPRING):
        if day >= SEASON_DATES[season](year):
            return season
    return Season.WINTER  # January and February (December is the holiday season)


def season_date(season: str, year: int) -> dt.date:
    """The date of a named season in ``year``; raises ScheduleError for an unknown name."""
    try:
        return SEASON_DATES[season](year)
    except KeyError:
        raise ScheduleError(f'unknown season "{season}"; known: {", ".join(SEASON_DATES)}') from None


def clamped_date(year: int, month: int, day: int) -> dt.date:
    """``day`` of the month, or the month's last day when it has fewer days."""
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


# --- wall time -> instant ----------------------------------------------------------------------


def zone_for(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ScheduleError(f'"{name}" is not an IANA time zone name') from None


def wall_time_exists(wall: dt.datetime, zone: dt.tzinfo) -> bool:
    """Whether the naive local ``wall`` time happens at all in ``zone`` (False inside a DST gap)."""
    back = wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
    return back.replace(tzinfo=None) == wall


def resolve_wall_time(wall: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """The UTC instant a naive local wall time fires at: its first occurrence, or the gap's end.

    1. A time that exists maps with ``fold=0``: the only occurrence, or the first of two at fall-back.
    2. A time inside a spring-forward gap maps to the first valid local minute after the gap.
    """
    if wall_time_exists(wall, zone):
        return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    # TRICKY: in a gap, fold=0 uses the offset before the change and fold=1 the one after, so their
    # difference is the gap's length. The first valid minute lies within that many minutes of ``wall``.
    before = wall.replace(tzinfo=zone, fold=0).utcoffset() or dt.timedelta(0)
    after = wall.replace(tzinfo=zone, fold=1).utcoffset() or dt.timedelta(0)
    high = max(1, -(-int((after - before).total_seconds()) // 60))
    while not wall_time_exists(wall + high * ONE_MINUTE, zone):
        high *= 2
        if high > 60 * 24 * 3:
            raise ScheduleError(f"no valid local time within three days after {wall.isoformat()}")
    low = 0  # wall + low minutes does not exist; wall + high minutes does
    while high - low > 1:
        middle = (low + high) // 2
        if wall_time_exists(wall + middle * ONE_MINUTE, zone):
            high = middle
        else:
            low = middle
    return (wall + high * ONE_MINUTE).replace(tzinfo=zone, fold=0).astimezone(UTC)


# --- slots -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One firing of a schedule: the instant, and the wall time the pattern asked for."""

    utc: dt.datetime  # aware, UTC
    scheduled: dt.datetime  # naive local wall time of the pattern (inside a DST gap it never shows on a clock)
    timezone: str
    pattern: str

    @property
    def local(self) -> dt.datetime:
        """The firing instant on the local clock (aware, in the schedule's zone)."""
        return self.utc.astimezone(zone_for(self.timezone))

    @property
    def occurrence_key(self) -> str:
        return f"schedule:{format_utc(self.utc)}"

    @property
    def period(self) -> str:
        """The calendar period the slot belongs to; a rule fires at most once per period.

        Daily: the local date; weekly: the ISO week; monthly: the month; seasonal: the year;
        cron: the slot itself (cron has no period beyond its minutes).
        """
        day = self.scheduled.date()
        if self.pattern == SchedulePattern.DAILY:
            return day.isoformat()
        if self.pattern == SchedulePattern.WEEKLY:
            year, week, _ = day.isocalendar()
            return f"{year}-W{week:02d}"
        if self.pattern == SchedulePattern.MONTHLY:
            return f"{day.year}-{day.month:02d}"
        if self.pattern == SchedulePattern.SEASONAL:
            return str(day.year)
        return format_utc(self.utc)

    def as_trigger_data(self) -> dict[str, Any]:
        """What an execution's ``trigger_data`` says about the slot."""
        return {
            "pattern": self.pattern,
            "timezone": self.timezone,
            "slot_utc": format_utc(self.utc),
            "slot_local": self.local.isoformat(),
            "scheduled_local": self.scheduled.strftime("%Y-%m-%dT%H:%M"),
        }


def format_utc(moment: dt.datetime) -> str:
    """2026-03-08T07:00:00Z (microseconds only when present)."""
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat()
    return f"{text}Z"


@dataclass(frozen=True)
class ScheduleSpec:
    """A schedule config read once: the pattern, its zone and a generator of candidate wall times."""

    pattern: str
    timezone: str
    zone: dt.tzinfo
    candidates: Callable[[dt.datetime], Iterator[dt.datetime]] = field(repr=False)


def _parse_time(config: dict[str, Any]) -> dt.time:
    value = config.get("time")
    try:
        hour, minute = (int(part) for part in str(value).split(":"))
        return dt.time(hour, minute)
    except (TypeError, ValueError):
        raise ScheduleError(f'"{value}" is not a time as HH:MM') from None


def _days_from(start: dt.date) -> Iterator[dt.date]:
    for offset in range(MAX_SEARCH_DAYS):
        yield start + dt.timedelta(days=offset)


def _daily(at: dt.time) -> Callable[[dt.datetime], Iterator[dt.datetime]]:
    def candidates(floor: dt.datetime) -> Iterator[dt.datetime]:
        for day in _days_from(floor.date()):
            yield dt.datetime.combine(day, at)

    return candidates


def _weekly(weekday: int, at: dt.time) -> Callable[[dt.datetime], Iterator[dt.datetime]]:
    def candidates(floor: dt.datetime) -> Iterator[dt.datetime]:
        first = floor.date() + dt.timedelta(days=(weekday - floor.date().weekday()) % 7)
        for week in range(MAX_SEARCH_DAYS // 7):
            yield dt.datetime.combine(first + dt.timedelta(weeks=week), at)

    return candidates


def _monthly(day_of_month: int, at: dt.time) -> Callable[[dt.datetime], Iterator[dt.datetime]]:
    def candidates(floor: dt.datetime) -> Iterator[dt.datetime]:
        year, month = floor.year, floor.month
        for _ in range(MAX_SEARCH_DAYS // 28):
            yield dt.datetime.combine(clamped_date(year, month, day_of_month), at)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    return candidates


def _yearly(date_in: Callable[[int], dt.date], at: dt.time) -> Callable[[dt.datetime], Iterator[dt.datetime]]:
    def candidates(floor: dt.datetime) -> Iterator[dt.datetime]:
        for year in range(floor.year, min(floor.year + 10, dt.MAXYEAR)):
            yield dt.datetime.combine(date_in(year), at)

    return candidates


def _cron(spec: CronSpec) -> Callable[[dt.datetime], Iterator[dt.datetime]]:
    hours = sorted(spec.hours)
    minutes = sorted(spec.minutes)

    def candidates(floor: dt.datetime) -> Iterator[dt.datetime]:
        first_day = True
        for day in _days_from(floor.date()):
            if spec.matches_day(day.day, day.month, (day.weekday() + 1) % 7):
                start_hour = bisect.bisect_left(hours, floor.hour) if first_day else 0
                for hour in hours[start_hour:]:
                    start_minute = bisect.bisect_left(minutes, floor.minute) if first_day and hour == floor.hour else 0
                    for minute in minutes[start_minute:]:
                        yield dt.datetime.combine(day, dt.time(hour, minute))
            first_day = False

    return candidates


def schedule_timezone(config: dict[str, Any], default_timezone: str) -> str:
    """The zone a schedule's times are read in: its own ``timezone``, else the tenant's, else UTC."""
    own = config.get("timezone") if isinstance(config, dict) else None
    return own if isinstance(own, str) and own else (default_timezone or "UTC")


def next_run_text(moment: dt.datetime, timezone: str, now: dt.datetime) -> str:
    """A next run as people read it, on the schedule's own clock: "Mon 8 Dec, 09:00 (America/New_York)";
    the year is added when it is not ``now``'s ("Fri 1 Jan 2027, 00:00 (UTC)")."""
    zone: dt.tzinfo
    try:
        zone = zone_for(timezone)
    except ScheduleError:
        zone, timezone = UTC, "UTC"
    local = moment.astimezone(zone)
    year = f" {local.year}" if local.year != now.astimezone(zone).year else ""
    return f"{local:%a} {local.day} {local:%b}{year}, {local:%H:%M} ({timezone})"


def schedule_spec(config: dict[str, Any], default_timezone: str) -> ScheduleSpec:
    """Read a schedule ``trigger_config``; raises ScheduleError naming what is wrong."""
    if not isinstance(config, dict):
        raise ScheduleError("trigger_config is not an object")
    pattern = config.get("pattern")
    timezone = schedule_timezone(config, default_timezone)
    zone = zone_for(timezone)
    if pattern == SchedulePattern.CRON:
        try:
            generator = _cron(parse_cron(config.get("cron")))  # type: ignore[arg-type]
        except CronError as error:
            raise ScheduleError(f"cron: {error}") from None
        return ScheduleSpec(pattern, timezone, zone, generator)
    at = _parse_time(config)
    if pattern == SchedulePattern.DAILY:
        generator = _daily(at)
    elif pattern == SchedulePattern.WEEKLY:
        day = config.get("day")
        if day not in WEEKDAYS_BY_INDEX:
            raise ScheduleError(f'"{day}" is not a weekday name')
        generator = _weekly(WEEKDAYS_BY_INDEX.index(day), at)
    elif pattern == SchedulePattern.MONTHLY:
        day_of_month = config.get("day_of_month")
        if not isinstance(day_of_month, int) or isinstance(day_of_month, bool) or not 1 <= day_of_month <= 31:
            raise ScheduleError(f'"{day_of_month}" is not a day of the month')
        generator = _monthly(day_of_month, at)
    elif pattern == SchedulePattern.SEASONAL:
        generator = _yearly(_season_dates(config), at)
    else:
        raise ScheduleError(f'"{pattern}" is not a schedule pattern')
    return ScheduleSpec(str(pattern), timezone, zone, generator)


def _season_dates(config: dict[str, Any]) -> Callable[[int], dt.date]:
    season = config.get("season")
    if season is not None:
        if season not in SEASON_DATES:
            raise ScheduleError(f'unknown season "{season}"')
        return SEASON_DATES[season]
    month, day = config.get("month"), config.get("day")
    if not (isinstance(month, int) and isinstance(day, int) and 1 <= month <= 12 and 1 <= day <= 31):
        raise ScheduleError("a seasonal schedule needs a season, or a month and day")
    return lambda year: clamped_date(year, month, day)


def next_slot_after(config: dict[str, Any], default_timezone: str, after: dt.datetime) -> Slot | None:
    """The first slot strictly after the aware instant ``after``; None if the schedule never fires again."""
    return first_slot_after(schedule_spec(config, default_timezone), after)


def first_slot_after(spec: ScheduleSpec, after: dt.datetime, inclusive: bool = False) -> Slot | None:
    """The first slot after ``after`` (or at it, when ``inclusive``) for a parsed spec."""
    if after.tzinfo is None:
        raise ValueError("after must be an aware datetime")
    after_utc = after.astimezone(UTC)
    if inclusive:
        # TRICKY: a gap time before the local minute of ``after`` can land exactly on it (02:30 lands on
        # 03:00), so "at or after" is searched as "strictly after a microsecond earlier".
        after_utc -= dt.timedelta(microseconds=1)
    # Candidates before the local minute of ``after`` can only map to instants at or before it.
    floor = after_utc.astimezone(spec.zone).replace(tzinfo=None, second=0, microsecond=0, fold=0)
    for wall in spec.candidates(floor):
        if wall < floor:
            continue
        instant = resolve_wall_time(wall, spec.zone)
        if instant > after_utc:
            return Slot(utc=instant, scheduled=wall, timezone=spec.timezone, pattern=spec.pattern)
    return None


def slots_between(
    config: dict[str, Any], default_timezone: str, start: dt.datetime, end: dt.datetime, limit: int = 10_000
) -> list[Slot]:
    """Slots with ``start <= slot <= end``, oldest first, at most ``limit``."""
    spec = schedule_spec(config, default_timezone)
    slots: list[Slot] = []
    slot = first_slot_after(spec, start, inclusive=True)
    while slot is not None and slot.utc <= end and len(slots) < limit:
        slots.append(slot)
        slot = first_slot_after(spec, slot.utc)
    return slots


@dataclass(frozen=True)
class DuePlan:
    """What a due rule does now: fire at most one slot, record older ones as missed, move on."""

    fire: Slot | None
    missed: list[Slot]  # oldest first, at most MAX_MISSED_RECORDED
    more_missed: bool  # True when more slots were missed than ``missed`` lists
    next: Slot | None  # the first slot after ``now``: the rule's new next_run_at


def plan_due(
    config: dict[str, Any],
    default_timezone: str,
    due_at: dt.datetime,
    now: dt.datetime,
    grace: dt.timedelta,
    max_missed: int = MAX_MISSED_RECORDED,
) -> DuePlan:
    """Plan a rule whose stored next slot ``due_at`` has come.

    1. The slot to fire is the latest one in ``[max(due_at, now - grace), now]``: after downtime
       only the most recent missed slot fires, and only while it is at most ``grace`` late.
    2. Every earlier slot from ``due_at`` on is missed (the oldest ``max_missed`` are listed).
    3. ``next`` is the first slot after ``now``.
    """
    spec = schedule_spec(config, default_timezone)
    window_start = max(due_at, now - grace)
    fire = None
    slot = first_slot_after(spec, window_start, inclusive=True)
    while slot is not None and slot.utc <= now:
        fire = slot
        slot = first_slot_after(spec, slot.utc)
    upcoming = slot
    missed_until = fire.utc if fire is not None else now
    missed: list[Slot] = []
    more_missed = False
    slot = first_slot_after(spec, due_at, inclusive=True)
    while slot is not None and (slot.utc < missed_until or (fire is None and slot.utc <= now)):
        if len(missed) == max_missed:
            more_missed = True
            break
        missed.append(slot)
        slot = first_slot_after(spec, slot.utc)
    return DuePlan(fire=fire, missed=missed, more_missed=more_missed, next=upcoming)
