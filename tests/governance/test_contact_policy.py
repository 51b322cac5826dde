"""The contact policy's pure parts (governance/contact_policy.py): validation, defaults, quiet hours in a
zone across DST changes, and when a capped channel frees up (docs/contact-pressure.md)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from governance.contact_policy import (
    DEFAULT_CONTACT_POLICY,
    decide_contact_hold,
    effective_policy,
    local_moment,
    quiet_hours_end,
    validate_contact_policy,
)

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
UTC = dt.UTC


@pytest.mark.parametrize(
    ("policy", "path", "words"),
    [
        ([], "contact_policy", "must be a JSON object"),
        ({"fax": None}, "contact_policy.fax", "is not a channel"),
        ({"email": 3}, "contact_policy.email", "or null for no limit"),
        ({"email": {"max": 0, "window_hours": 1}}, "contact_policy.email.max", "whole number from 1"),
        ({"email": {"max": True, "window_hours": 1}}, "contact_policy.email.max", "whole number from 1"),
        ({"email": {"max": 1, "window_hours": 0}}, "contact_policy.email.window_hours", "above 0"),
        ({"email": {"max": 1}}, "contact_policy.email.window_hours", "together"),
        ({"email": {"max": 1, "window_hours": 1, "often": 2}}, "contact_policy.email.often", "is not a setting"),
        ({"sms": {"quiet_hours": {"start": "21:00"}}}, "contact_policy.sms.quiet_hours", "HH:MM"),
        ({"sms": {"quiet_hours": {"start": "9pm", "end": "08:00"}}}, "contact_policy.sms.quiet_hours.start", "21:00"),
        ({"sms": {"quiet_hours": {"start": "08:00", "end": "08:00"}}}, "contact_policy.sms.quiet_hours.end", "differ"),
    ],
)
def test_bad_policies_are_refused_naming_the_path(policy, path, words):
    errors = validate_contact_policy(policy)
    assert path in errors and words in " ".join(errors[path])


def test_valid_policies_and_the_defaults():
    assert validate_contact_policy({}) == {}
    assert validate_contact_policy(DEFAULT_CONTACT_POLICY) == {}
    assert validate_contact_policy({"push": None, "sms": {"quiet_hours": {"start": "22:00", "end": "07:30"}}}) == {}
    policy = effective_policy({"email": {"max": 3, "window_hours": 24}, "push": None})
    assert (policy["email"].max, policy["email"].window) == (3, dt.timedelta(hours=24))
    assert policy["push"].max is None and policy["push"].quiet_start is None  # null: no limit
    assert (policy["sms"].max, policy["sms"].quiet_start) == (1, dt.time(21))  # left out: the default
    assert effective_policy({"email": {"max": -1}})["email"].max == 1  # an invalid stored value: defaults


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (dt.datetime(2026, 3, 28, 21, 0, tzinfo=UTC), dt.datetime(2026, 3, 29, 6, 0, tzinfo=UTC)),  # spring forward
        (dt.datetime(2026, 10, 24, 20, 0, tzinfo=UTC), dt.datetime(2026, 10, 25, 7, 0, tzinfo=UTC)),  # fall back
        (dt.datetime(2026, 3, 29, 5, 59, tzinfo=UTC), dt.datetime(2026, 3, 29, 6, 0, tzinfo=UTC)),  # 07:59 CEST
        (dt.datetime(2026, 3, 29, 6, 0, tzinfo=UTC), None),  # 08:00 CEST: over
        (dt.datetime(2026, 3, 28, 19, 59, tzinfo=UTC), None),  # 20:59 CET: not yet
    ],
)
def test_quiet_hours_across_midnight_and_dst_in_berlin(now, expected):
    assert quiet_hours_end(now, dt.time(21), dt.time(8), BERLIN) == expected


def test_quiet_hours_ending_in_the_skipped_hour_end_when_the_clocks_jump():
    # 02:30 does not exist in Berlin on 29 March 2026: clocks jump from 02:00 CET to 03:00 CEST (01:00 UTC)
    assert local_moment(dt.date(2026, 3, 29), dt.time(2, 30), BERLIN) == dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    # 02:30 happens twice on 25 October 2026: the first one (CEST, 00:30 UTC)
    assert local_moment(dt.date(2026, 10, 25), dt.time(2, 30), BERLIN) == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    # quiet hours of the same day (no midnight)
    noon = dt.datetime(2026, 6, 1, 10, 30, tzinfo=UTC)  # 12:30 CEST
    assert quiet_hours_end(noon, dt.time(12), dt.time(14), BERLIN) == dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_cap_frees_up_when_the_oldest_counted_action_leaves_the_window():
    policy = effective_policy({"email": {"max": 2, "window_hours": 10}, "any": None})
    now = dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    recent = {"email": [now - dt.timedelta(hours=9), now - dt.timedelta(hours=1), now - dt.timedelta(hours=11)]}
    hold = decide_contact_hold({"email", "any"}, policy, now, BERLIN, recent)
    assert hold is not None and hold.kind == "contact_cap"
    assert hold.until == now + dt.timedelta(hours=1)  # the 9-hour-old one leaves the 10-hour window
    assert "already got 2 emails in the last 10 hours (the tenant's cap is 2)" in hold.reason
    assert decide_contact_hold({"email", "any"}, policy, now, BERLIN, {"email": recent["email"][:1]}) is None
    assert decide_contact_hold({"any"}, policy, now, BERLIN, recent) is None  # no email sent: not capped


def test_when_both_hold_the_later_end_wins_and_both_reasons_are_given():
    policy = effective_policy(
        {"sms": {"max": 1, "window_hours": 24, "quiet_hours": {"start": "21:00", "end": "08:00"}}}
    )
    now = dt.datetime(2026, 6, 1, 20, 0, tzinfo=UTC)  # 22:00 CEST
    hold = decide_contact_hold({"sms", "any"}, policy, now, BERLIN, {"sms": [now - dt.timedelta(hours=2)]})
    assert hold is not None and hold.kind == "contact_cap"
    assert hold.until == now + dt.timedelta(hours=22)  # the cap (18:00 UTC next day) outlasts the quiet hours
    assert hold.reason.startswith("Quiet hours for SMS") and "already got 1 SMS message" in hold.reason
