"""Pure schedule math: patterns, month ends, seasons, DST gaps and folds, and properties over zones."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automations.cron import parse_cron
from automations.schedule_times import (
    ScheduleError,
    clamped_date,
    next_slot_after,
    plan_due,
    resolve_wall_time,
    season_date,
    slots_between,
    wall_time_exists,
)
from automations.validators import validate_schedule_trigger
from governance.choices import WEEKDAYS_BY_INDEX

pytestmark = pytest.mark.database_free  # pure: the PostgreSQL run of .ci/run skips it

UTC = dt.UTC
NY = "America/New_York"
BERLIN = "Europe/Berlin"


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def fires(config: dict, zone: str, after: dt.datetime, count: int) -> list[str]:
    """The next ``count`` slots after ``after``, as UTC ISO strings."""
    out, moment = [], after
    for _ in range(count):
        slot = next_slot_after(config, zone, moment)
        assert slot is not None
        out.append(slot.utc.strftime("%Y-%m-%dT%H:%MZ"))
        moment = slot.utc
    return out


# --- patterns ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "after", "expected"),
    [
        ({"pattern": "daily", "time": "09:00"}, utc(2026, 1, 5, 8, 59), ["2026-01-05T09:00Z", "2026-01-06T09:00Z"]),
        ({"pattern": "daily", "time": "09:00"}, utc(2026, 1, 5, 9, 0), ["2026-01-06T09:00Z", "2026-01-07T09:00Z"]),
        (
            {"pattern": "weekly", "day": "monday", "time": "09:00"},
            utc(2026, 1, 5, 9, 0),  # a Monday, at the slot: strictly after means next week
            ["2026-01-12T09:00Z", "2026-01-19T09:00Z"],
        ),
        (
            {"pattern": "weekly", "day": "sunday", "time": "23:59"},
            utc(2026, 1, 1),
            ["2026-01-04T23:59Z", "2026-01-11T23:59Z"],
        ),
        (
            {"pattern": "monthly", "day_of_month": 15, "time": "00:00"},
            utc(2026, 1, 15, 0, 0, 30),
            ["2026-02-15T00:00Z", "2026-03-15T00:00Z"],
        ),
        (
            {"pattern": "cron", "cron": "*/20 9-10 * * mon-fri"},
            utc(2026, 1, 9, 10, 30),  # Friday
            ["2026-01-09T10:40Z", "2026-01-12T09:00Z", "2026-01-12T09:20Z"],
        ),
        (
            {"pattern": "cron", "cron": "0 12 1 * mon"},  # day 1 OR Monday, as Vixie cron
            utc(2026, 1, 30),
            ["2026-02-01T12:00Z", "2026-02-02T12:00Z", "2026-02-09T12:00Z"],
        ),
    ],
)
def test_patterns(config, after, expected):
    assert not validate_schedule_trigger(config)
    assert fires(config, "UTC", after, len(expected)) == expected


def test_timezone_in_config_wins_over_the_default():
    config = {"pattern": "daily", "time": "09:00", "timezone": "Asia/Tokyo"}
    assert fires(config, NY, utc(2025, 12, 31, 12), 1) == ["2026-01-01T00:00Z"]
    assert fires({"pattern": "daily", "time": "09:00"}, "Asia/Tokyo", utc(2025, 12, 31, 12), 1) == ["2026-01-01T00:00Z"]


@pytest.mark.parametrize(
    ("day_of_month", "expected"),
    [
        (31, ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]),
        (30, ["2026-01-30", "2026-02-28", "2026-03-30", "2026-04-30", "2026-05-30"]),
        (29, ["2026-01-29", "2026-02-28", "2026-03-29", "2026-04-29", "2026-05-29"]),
    ],
)
def test_monthly_past_month_end_fires_on_the_last_day(day_of_month, expected):
    config = {"pattern": "monthly", "day_of_month": day_of_month, "time": "10:00"}
    assert [s[:10] for s in fires(config, "UTC", utc(2026, 1, 1), 5)] == expected


def test_monthly_31_in_a_leap_february():
    config = {"pattern": "monthly", "day_of_month": 31, "time": "10:00"}
    assert fires(config, "UTC", utc(2028, 2, 1), 1) == ["2028-02-29T10:00Z"]


def test_seasonal_29_february_fires_on_28_february_in_other_years():
    config = {"pattern": "seasonal", "month": 2, "day": 29, "time": "08:00"}
    assert [s[:10] for s in fires(config, "UTC", utc(2026, 6, 1), 4)] == [
        "2027-02-28",
        "2028-02-29",
        "2029-02-28",
        "2030-02-28",
    ]


@pytest.mark.parametrize(
    ("season", "dates"),
    [
        ("black_friday", ["2024-11-29", "2025-11-28", "2026-11-27", "2027-11-26", "2028-11-24"]),
        ("cyber_monday", ["2024-12-02", "2025-12-01", "2026-11-30", "2027-11-29", "2028-11-27"]),
        ("mothers_day", ["2024-05-12", "2025-05-11", "2026-05-10", "2027-05-09", "2028-05-14"]),
        ("valentines_day", ["2024-02-14", "2025-02-14", "2026-02-14", "2027-02-14", "2028-02-14"]),
        ("holiday_season", ["2024-12-01", "2025-12-01", "2026-12-01", "2027-12-01", "2028-12-01"]),
        ("back_to_school", ["2024-08-01", "2025-08-01", "2026-08-01", "2027-08-01", "2028-08-01"]),
        ("spring", ["2024-03-01", "2025-03-01", "2026-03-01", "2027-03-01", "2028-03-01"]),
        ("summer", ["2024-06-01", "2025-06-01", "2026-06-01", "2027-06-01", "2028-06-01"]),
        ("autumn", ["2024-09-01", "2025-09-01", "2026-09-01", "2027-09-01", "2028-09-01"]),
        ("winter", ["2024-12-01", "2025-12-01", "2026-12-01", "2027-12-01", "2028-12-01"]),
    ],
)
def test_named_seasons_per_year(season, dates):
    assert [season_date(season, year).isoformat() for year in range(2024, 2029)] == dates
    config = {"pattern": "seasonal", "season": season, "time": "07:30"}
    assert [s[:10] for s in fires(config, "UTC", utc(2024, 1, 1), 5)] == dates


def test_black_friday_is_a_friday_and_cyber_monday_a_monday_for_many_years():
    for year in range(1990, 2100):
        friday, monday = season_date("black_friday", year), season_date("cyber_monday", year)
        assert friday.weekday() == 4 and 23 <= friday.day <= 29 and friday.month == 11
        assert monday.weekday() == 0 and (monday - friday).days == 3


# --- DST ---------------------------------------------------------------------------------------


def test_new_york_0900_is_0900_local_on_both_sides_of_both_changes():
    config = {"pattern": "daily", "time": "09:00", "timezone": NY}
    assert fires(config, "UTC", utc(2026, 3, 7), 3) == ["2026-03-07T14:00Z", "2026-03-08T13:00Z", "2026-03-09T13:00Z"]
    assert fires(config, "UTC", utc(2026, 10, 31), 3) == ["2026-10-31T13:00Z", "2026-11-01T14:00Z", "2026-11-02T14:00Z"]


@pytest.mark.parametrize(
    ("zone", "after", "expected_utc", "expected_local"),
    [
        # New York springs forward 02:00 -> 03:00 on 8 March 2026: 02:30 fires at 03:00 EDT.
        (NY, utc(2026, 3, 8), "2026-03-08T07:00Z", "2026-03-08T03:00:00-04:00"),
        # Berlin springs forward 02:00 -> 03:00 on 29 March 2026: 02:30 fires at 03:00 CEST.
        (BERLIN, utc(2026, 3, 28, 12), "2026-03-29T01:00Z", "2026-03-29T03:00:00+02:00"),
    ],
)
def test_a_time_in_the_spring_gap_fires_once_at_the_first_valid_minute(zone, after, expected_utc, expected_local):
    config = {"pattern": "daily", "time": "02:30", "timezone": zone}
    slot = next_slot_after(config, "UTC", after)
    assert slot.utc.strftime("%Y-%m-%dT%H:%MZ") == expected_utc
    assert slot.local.isoformat() == expected_local
    assert slot.scheduled == dt.datetime.fromisoformat(expected_local[:10] + "T02:30")
    # the day after is back to 02:30 local
    following = next_slot_after(config, "UTC", slot.utc)
    assert following.local.strftime("%H:%M") == "02:30"


@pytest.mark.parametrize(
    ("zone", "time", "day", "first_utc", "next_day_utc"),
    [
        # New York falls back 02:00 -> 01:00 on 1 November 2026: 01:30 happens twice, fires at the first.
        (NY, "01:30", utc(2026, 11, 1), "2026-11-01T05:30Z", "2026-11-02T06:30Z"),
        # Berlin falls back 03:00 -> 02:00 on 25 October 2026: 02:30 happens twice.
        (BERLIN, "02:30", utc(2026, 10, 24, 12), "2026-10-25T00:30Z", "2026-10-26T01:30Z"),
    ],
)
def test_a_time_repeated_at_fall_back_fires_once_at_its_first_occurrence(zone, time, day, first_utc, next_day_utc):
    config = {"pattern": "daily", "time": time, "timezone": zone}
    assert fires(config, "UTC", day, 2) == [first_utc, next_day_utc]


def test_cron_every_half_hour_over_the_new_york_changes():
    config = {"pattern": "cron", "cron": "*/30 * * * *", "timezone": NY}
    # spring: 01:30 EST, then 02:00 and 02:30 do not exist and both land on 03:00 EDT (one slot), 03:30
    assert fires(config, "UTC", utc(2026, 3, 8, 6, 0), 3) == [
        "2026-03-08T06:30Z",
        "2026-03-08T07:00Z",
        "2026-03-08T07:30Z",
    ]
    # fall: 01:00 and 01:30 fire once (EDT); the repeated 01:00/01:30 EST do not; then 02:00 EST
    assert fires(config, "UTC", utc(2026, 11, 1, 4, 45), 3) == [
        "2026-11-01T05:00Z",
        "2026-11-01T05:30Z",
        "2026-11-01T07:00Z",
    ]


def test_cron_with_minutes_in_the_berlin_gap_fires_once():
    config = {"pattern": "cron", "cron": "15,45 2 * * *", "timezone": BERLIN}
    assert fires(config, "UTC", utc(2026, 3, 28, 12), 3) == [
        "2026-03-29T01:00Z",
        "2026-03-30T00:15Z",
        "2026-03-30T00:45Z",
    ]


def test_resolve_wall_time_table():
    zone = zoneinfo.ZoneInfo(NY)
    cases = [
        (dt.datetime(2026, 3, 8, 1, 59), "2026-03-08T06:59"),
        (dt.datetime(2026, 3, 8, 2, 0), "2026-03-08T07:00"),
        (dt.datetime(2026, 3, 8, 2, 59), "2026-03-08T07:00"),
        (dt.datetime(2026, 3, 8, 3, 0), "2026-03-08T07:00"),
        (dt.datetime(2026, 11, 1, 0, 59), "2026-11-01T04:59"),
        (dt.datetime(2026, 11, 1, 1, 0), "2026-11-01T05:00"),
        (dt.datetime(2026, 11, 1, 1, 59), "2026-11-01T05:59"),
        (dt.datetime(2026, 11, 1, 2, 0), "2026-11-01T07:00"),
    ]
    for wall, expected in cases:
        assert resolve_wall_time(wall, zone).strftime("%Y-%m-%dT%H:%M") == expected, wall


def test_a_whole_skipped_day_samoa_2011():
    # Samoa skipped 30 December 2011 entirely (UTC-10 -> UTC+14).
    config = {"pattern": "daily", "time": "09:00", "timezone": "Pacific/Apia"}
    slots = [next_slot_after(config, "UTC", utc(2011, 12, 29, 12))]
    slots.append(next_slot_after(config, "UTC", slots[0].utc))
    assert [s.local.isoformat() for s in slots] == ["2011-12-29T09:00:00-10:00", "2011-12-31T00:00:00+14:00"]


# --- never, bad config, catch-up planning --------------------------------------------------------


def test_a_cron_that_never_matches_has_no_next_slot():
    assert next_slot_after({"pattern": "cron", "cron": "0 0 31 2 *"}, "UTC", utc(2026, 1, 1)) is None
    assert next_slot_after({"pattern": "cron", "cron": "0 0 29 2 *"}, "UTC", utc(2097, 1, 1)).utc == utc(2104, 2, 29)


@pytest.mark.parametrize(
    "config",
    [
        {"pattern": "daily", "time": "25:00"},
        {"pattern": "daily", "time": "09:00", "timezone": "Mars/Olympus"},
        {"pattern": "weekly", "day": "funday", "time": "09:00"},
        {"pattern": "monthly", "day_of_month": 0, "time": "09:00"},
        {"pattern": "seasonal", "season": "monsoon", "time": "09:00"},
        {"pattern": "cron", "cron": "61 * * * *"},
        {"pattern": "hourly", "time": "09:00"},
    ],
)
def test_bad_stored_configs_raise_schedule_error(config):
    with pytest.raises(ScheduleError):
        next_slot_after(config, "UTC", utc(2026, 1, 1))


def test_plan_fires_only_the_latest_slot_within_grace_and_lists_older_ones_as_missed():
    config = {"pattern": "cron", "cron": "0 * * * *"}
    plan = plan_due(config, "UTC", utc(2026, 1, 1, 0), utc(2026, 1, 1, 5, 20), dt.timedelta(hours=1))
    assert plan.fire.utc == utc(2026, 1, 1, 5)
    assert [s.utc.hour for s in plan.missed] == [0, 1, 2, 3, 4]
    assert plan.next.utc == utc(2026, 1, 1, 6)
    assert not plan.more_missed


def test_plan_fires_a_gap_slot_stored_as_next_run_at():
    config = {"pattern": "daily", "time": "02:30", "timezone": NY}
    plan = plan_due(config, "UTC", utc(2026, 3, 8, 7), utc(2026, 3, 8, 7, 0, 2), dt.timedelta(hours=1))
    assert plan.fire is not None and plan.fire.utc == utc(2026, 3, 8, 7)
    assert plan.missed == []


def test_plan_past_grace_fires_nothing():
    config = {"pattern": "daily", "time": "09:00"}
    plan = plan_due(config, "UTC", utc(2026, 1, 5, 9), utc(2026, 1, 5, 10, 1), dt.timedelta(hours=1))
    assert plan.fire is None
    assert [s.utc for s in plan.missed] == [utc(2026, 1, 5, 9)]
    assert plan.next.utc == utc(2026, 1, 6, 9)


def test_plan_caps_the_missed_list():
    config = {"pattern": "cron", "cron": "* * * * *"}
    plan = plan_due(config, "UTC", utc(2026, 1, 1), utc(2026, 1, 2), dt.timedelta(hours=1), max_missed=100)
    assert len(plan.missed) == 100 and plan.more_missed
    assert plan.fire.utc == utc(2026, 1, 2)


# --- properties --------------------------------------------------------------------------------

ZONES = [
    "UTC",
    NY,
    BERLIN,
    "Europe/London",
    "Europe/Dublin",  # negative DST in tzdata
    "Australia/Lord_Howe",  # 30-minute DST shift
    "Asia/Kathmandu",  # +05:45
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/Sao_Paulo",
    "America/St_Johns",  # -03:30, DST at 02:00
    "Asia/Kolkata",
    "Pacific/Apia",
]
# Hours around the usual change times are drawn more often, so gaps and folds are hit.
hours = st.one_of(st.integers(0, 23), st.sampled_from([0, 1, 2, 3]))
times = st.builds(lambda h, m: f"{h:02d}:{m:02d}", hours, st.sampled_from([0, 1, 15, 30, 45, 59]))
configs = st.one_of(
    st.builds(lambda t: {"pattern": "daily", "time": t}, times),
    st.builds(lambda t, d: {"pattern": "weekly", "time": t, "day": d}, times, st.sampled_from(WEEKDAYS_BY_INDEX)),
    st.builds(lambda t, d: {"pattern": "monthly", "time": t, "day_of_month": d}, times, st.integers(1, 31)),
    st.builds(
        lambda t, m, d: {"pattern": "seasonal", "time": t, "month": m, "day": d},
        times,
        st.integers(1, 12),
        st.integers(1, 28),
    ),
    st.builds(
        lambda t, s: {"pattern": "seasonal", "time": t, "season": s},
        times,
        st.sampled_from(["black_friday", "cyber_monday", "mothers_day", "spring", "winter"]),
    ),
    st.builds(
        lambda m, h: {"pattern": "cron", "cron": f"{m} {h} * * *"},
        st.sampled_from(["0", "*/15", "30", "0,45", "*/7"]),
        st.sampled_from(["*", "1-3", "2", "0,12", "*/5"]),
    ),
)


def _transitions(zone: str, years: range) -> list[dt.datetime]:
    """UTC instants near which ``zone`` changed its offset (to the day), for biasing the generator."""
    tz = zoneinfo.ZoneInfo(zone)
    found = []
    day = dt.datetime(years.start, 1, 1, 12, tzinfo=UTC)
    offset = day.astimezone(tz).utcoffset()
    while day.year < years.stop:
        following = day + dt.timedelta(days=1)
        if following.astimezone(tz).utcoffset() != offset:
            found.append(day)
            offset = following.astimezone(tz).utcoffset()
        day = following
    return found


TRANSITIONS = sorted({moment for zone in ZONES for moment in _transitions(zone, range(2000, 2041))})
random_moments = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2060, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC)
)
near_transitions = st.builds(
    lambda moment, minutes: moment + dt.timedelta(minutes=minutes),
    st.sampled_from(TRANSITIONS),
    st.integers(-36 * 60, 24 * 60),
)
moments = st.one_of(random_moments, near_transitions, near_transitions)


def _matches(config: dict, wall: dt.datetime) -> bool:
    """Whether a naive local wall time is one the pattern asks for."""
    pattern = config["pattern"]
    if pattern == "cron":
        spec = parse_cron(config["cron"])
        return (
            spec.matches_day(wall.day, wall.month, (wall.weekday() + 1) % 7)
            and wall.hour in spec.hours
            and wall.minute in spec.minutes
        )
    if wall.strftime("%H:%M") != config["time"]:
        return False
    if pattern == "daily":
        return True
    if pattern == "weekly":
        return WEEKDAYS_BY_INDEX[wall.weekday()] == config["day"]
    if pattern == "monthly":
        return wall.date() == clamped_date(wall.year, wall.month, config["day_of_month"])
    if "season" in config:
        return wall.date() == season_date(config["season"], wall.year)
    return wall.date() == clamped_date(wall.year, config["month"], config["day"])


def _walls_on(config: dict, day: dt.date) -> list[dt.datetime]:
    if config["pattern"] == "cron":
        return [dt.datetime.combine(day, dt.time(h, m)) for h in range(24) for m in range(60)]
    hour, minute = map(int, config["time"].split(":"))
    return [dt.datetime.combine(day, dt.time(hour, minute))]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs, zone=st.sampled_from(ZONES), after=moments)
def test_next_slot_properties(config, zone, after):
    assert not validate_schedule_trigger(config)
    tz = zoneinfo.ZoneInfo(zone)
    slot = next_slot_after(config, zone, after)
    assert slot is not None
    # after now
    assert slot.utc > after
    # a valid local time: the instant shows on the local clock as a wall time that exists
    local_wall = slot.local.replace(tzinfo=None)
    assert wall_time_exists(local_wall, tz)
    # matches the pattern: at the scheduled wall time, or (inside a gap) the first valid minute after it
    assert _matches(config, slot.scheduled)
    if wall_time_exists(slot.scheduled, tz):
        assert local_wall == slot.scheduled
        # at a fall-back fold, the first occurrence
        assert slot.utc == slot.scheduled.replace(tzinfo=tz, fold=0).astimezone(UTC)
    else:
        assert local_wall > slot.scheduled
        assert not wall_time_exists(local_wall - dt.timedelta(minutes=1), tz)
    # nothing was skipped: brute force over every local day in between, no matching wall time fires
    # strictly between ``after`` and the slot
    day = after.astimezone(tz).date() - dt.timedelta(days=1)
    while day <= slot.scheduled.date():
        for wall in _walls_on(config, day):
            if _matches(config, wall):
                instant = resolve_wall_time(wall, tz)
                assert not after < instant < slot.utc, wall
        day += dt.timedelta(days=1)
    # two passes within the slot's minute fire once: from inside the minute the next slot is a later one
    again = next_slot_after(config, zone, slot.utc + dt.timedelta(seconds=59))
    assert again is None or again.utc > slot.utc
    assert next_slot_after(config, zone, slot.utc - dt.timedelta(microseconds=1)) == slot
    # "at or after" the slot's own instant finds it (what the tick uses from a stored next_run_at)
    assert slots_between(config, zone, slot.utc, slot.utc) == [slot]


@settings(max_examples=60, deadline=None)
@given(
    config=st.builds(lambda t: {"pattern": "daily", "time": t}, times),
    zone=st.sampled_from(ZONES),
    start=moments,
)
def test_daily_fires_once_per_local_day_over_a_year(config, zone, start):
    slots = slots_between(config, zone, start, start + dt.timedelta(days=366))
    days = [s.local.date() for s in slots]
    assert len(days) == len(set(s.scheduled.date() for s in slots))  # one per scheduled day
    assert all(b > a for a, b in zip([s.utc for s in slots], [s.utc for s in slots[1:]], strict=False))
    assert 364 <= len(slots) <= 367
