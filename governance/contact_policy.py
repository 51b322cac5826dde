"""Contact pressure: how often, and when, a tenant's customers may be contacted across rules (issue 20).

A tenant's ``contact_policy`` (``Tenant.contact_policy``, a JSON object) sets, per channel, a cap of
``max`` customer-facing actions per customer in a rolling window of ``window_hours``, and quiet hours
(``{"start": "21:00", "end": "08:00"}``, local time) when no action on that channel reaches the customer.
The channels are ``email``, ``sms``, ``push`` and ``any`` (every customer-facing action, whatever its
channel). Which action reaches a customer on which channel is the action kind's own
(``ActionKind.contact_channels``, automations/kinds/actions.py).

Everything here is pure: no ORM, no clock. ``decide_contact_hold`` takes the facts (the moment from the
server clock, the customer's recent actions from our own rows) and answers whether an action is held,
why in plain English, and until when (docs/contact-pressure.md).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

EMAIL: Final = "email"
SMS: Final = "sms"
PUSH: Final = "push"
ANY: Final = "any"
CONTACT_CHANNELS: Final = (EMAIL, SMS, PUSH, ANY)
CHANNEL_WORDS: Final = {EMAIL: "email", SMS: "SMS", PUSH: "push", ANY: "customer-facing actions"}
_ONE: Final = {EMAIL: "email", SMS: "SMS message", PUSH: "push notification", ANY: "customer-facing action"}
_MANY: Final = {EMAIL: "emails", SMS: "SMS messages", PUSH: "push notifications", ANY: "customer-facing actions"}

POLICY_KEYS: Final = ("max", "window_hours", "quiet_hours")
MAX_WINDOW_HOURS: Final = 24 * 31
MAX_PER_WINDOW: Final = 1000

# What a tenant gets for a channel its contact_policy does not name (docs/contact-pressure.md). A channel
# set to null in the tenant's policy has no cap and no quiet hours.
DEFAULT_CONTACT_POLICY: Final[dict[str, dict[str, Any]]] = {
    EMAIL: {"max": 1, "window_hours": 16, "quiet_hours": None},
    SMS: {"max": 1, "window_hours": 24, "quiet_hours": {"start": "21:00", "end": "08:00"}},
    PUSH: {"max": 2, "window_hours": 24, "quiet_hours": {"start": "21:00", "end": "08:00"}},
    ANY: {"max": 3, "window_hours": 24, "quiet_hours": None},
}

_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

Errors = dict[str, list[str]]


def _parse_clock(value: object) -> dt.time | None:
    if not isinstance(value, str):
        return None
    match = _CLOCK.match(value)
    if match is None:
        return None
    return dt.time(int(match.group(1)), int(match.group(2)))


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def validate_contact_policy(value: object, path: str = "contact_policy") -> Errors:
    """Errors keyed by path (``contact_policy.email.max``); {} when ``value`` is a valid policy."""
    errors: Errors = {}

    def add(where: str, message: str) -> None:
        errors.setdefault(where, []).append(message)

    if not isinstance(value, dict):
        add(path, "must be a JSON object with the channels email, sms, push and any")
        return errors
    for channel, setting in value.items():
        where = f"{path}.{channel}"
        if channel not in CONTACT_CHANNELS:
            add(where, f'"{channel}" is not a channel: use {", ".join(CONTACT_CHANNELS)}')
            continue
        if setting is None:
            continue  # no cap and no quiet hours on this channel
        if not isinstance(setting, dict):
            add(where, "must be an object with max, window_hours and quiet_hours, or null for no limit")
            continue
        for key in sorted(set(setting) - set(POLICY_KEYS)):
            add(f"{where}.{key}", f'"{key}" is not a setting: use {", ".join(POLICY_KEYS)}')
        has_max, has_window = setting.get("max") is not None, setting.get("window_hours") is not None
        if has_max and (not _is_whole(setting["max"]) or not 1 <= setting["max"] <= MAX_PER_WINDOW):
            add(f"{where}.max", f"must be a whole number from 1 to {MAX_PER_WINDOW}")
        if has_window and (
            not _is_number(setting["window_hours"]) or not 0 < setting["window_hours"] <= MAX_WINDOW_HOURS
        ):
            add(f"{where}.window_hours", f"must be a number of hours above 0 and at most {MAX_WINDOW_HOURS}")
        if has_max != has_window:
            missing = "window_hours" if has_max else "max"
            add(f"{where}.{missing}", "give max and window_hours together (or neither, for no cap)")
        quiet = setting.get("quiet_hours")
        if quiet is None:
            continue
        if not isinstance(quiet, dict) or set(quiet) != {"start", "end"}:
            add(f"{where}.quiet_hours", 'must be {"start": "HH:MM", "end": "HH:MM"} or null')
            continue
        start, end = _parse_clock(quiet["start"]), _parse_clock(quiet["end"])
        for key, parsed in (("start", start), ("end", end)):
            if parsed is None:
                add(f"{where}.quiet_hours.{key}", 'must be a time of day such as "21:00"')
        if start is not None and start == end:
            add(f"{where}.quiet_hours.end", "must differ from the start")
    return errors


@dataclass(frozen=True)
class ChannelPolicy:
    """One channel's limits: at most ``max`` actions per ``window``, none between ``quiet_start`` and
    ``quiet_end`` (local time; the quiet hours may span midnight)."""

    channel: str
    max: int | None = None
    window: dt.timedelta | None = None
    quiet_start: dt.time | None = None
    quiet_end: dt.time | None = None


def effective_policy(stored: object) -> dict[str, ChannelPolicy]:
    """The tenant's policy per channel: its own setting, else the default; an invalid stored value
    (an old row) counts as not set."""
    own = stored if isinstance(stored, dict) and not validate_contact_policy(stored) else {}
    policies: dict[str, ChannelPolicy] = {}
    for channel in CONTACT_CHANNELS:
        setting = own[channel] if channel in own else DEFAULT_CONTACT_POLICY[channel]
        if setting is None:
            policies[channel] = ChannelPolicy(channel)
            continue
        quiet = setting.get("quiet_hours") or {}
        cap = setting.get("max")
        policies[channel] = ChannelPolicy(
            channel,
            max=int(cap) if cap is not None else None,
            window=dt.timedelta(hours=float(setting["window_hours"])) if cap is not None else None,
            quiet_start=_parse_clock(quiet.get("start")),
            quiet_end=_parse_clock(quiet.get("end")),
        )
    return policies


def local_moment(day: dt.date, clock: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The first instant on ``day`` when the wall clock in ``zone`` reads ``clock`` or later, in UTC.

    A wall time that does not exist (skipped when clocks go forward) becomes the instant the clocks jump
    to; one that happens twice (clocks go back) is its first occurrence.
    """
    naive = dt.datetime.combine(day, clock)
    aware = naive.replace(tzinfo=zone, fold=0)
    as_utc = aware.astimezone(dt.UTC)
    if as_utc.astimezone(zone).replace(tzinfo=None) == naive:
        return as_utc
    # In a gap: the wall clock jumps over ``clock`` somewhere between the two readings; find the jump.
    low, high = naive.replace(tzinfo=zone, fold=1).astimezone(dt.UTC), as_utc
    if low > high:
        low, high = high, low
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def quiet_hours_end(now: dt.datetime, start: dt.time, end: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
    """When the quiet hours that hold ``now`` end (UTC), or None when ``now`` is outside them."""
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    today = local.date()
    if start < end:  # the same day, e.g. 12:00-14:00
        inside = start <= clock < end
        end_day = today
    else:  # across midnight, e.g. 21:00-08:00
        inside = clock >= start or clock < end
        end_day = today + dt.timedelta(days=1) if clock >= start else today
    if not inside:
        return None
    return local_moment(end_day, end, zone)


@dataclass(frozen=True)
class ContactHold:
    """An action held back: ``kind`` (contact_cap or quiet_hours), the reason in plain English, and when a
    deferred run may try again (UTC)."""

    kind: str
    reason: str
    until: dt.datetime

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "reason": self.reason, "until": self.until.isoformat()}


CONTACT_CAP: Final = "contact_cap"
QUIET_HOURS: Final = "quiet_hours"


def _clock_words(value: dt.time) -> str:
    return value.strftime("%H:%M")


def _hours_words(window: dt.timedelta) -> str:
    hours = window.total_seconds() / 3600
    shown = f"{hours:g}"
    return f"{shown} hour" if shown == "1" else f"{shown} hours"


def decide_contact_hold(
    channels: Iterable[str],
    policy: Mapping[str, ChannelPolicy],
    now: dt.datetime,
    zone: zoneinfo.ZoneInfo,
    recent: Mapping[str, Sequence[dt.datetime]],
) -> ContactHold | None:
    """Whether an action on ``channels`` (its own channels and ``any``) may reach the customer at ``now``.

    ``recent``: per channel, when the customer's earlier actions on it started, oldest first, within that
    channel's window (our own rows, plus what the caller's batch allowed and has not written). Quiet hours
    are read in ``zone``. None: the action may run. Otherwise the hold whose end is latest (a run deferred
    to then would otherwise be held again), with every reason that holds.
    """
    holds: list[ContactHold] = []
    for channel in [c for c in CONTACT_CHANNELS if c in set(channels)]:
        setting = policy.get(channel)
        if setting is None:
            continue
        if setting.quiet_start is not None and setting.quiet_end is not None:
            ends = quiet_hours_end(now, setting.quiet_start, setting.quiet_end, zone)
            if ends is not None:
                holds.append(
                    ContactHold(
                        QUIET_HOURS,
                        f"quiet hours for {CHANNEL_WORDS[channel]} ({_clock_words(setting.quiet_start)} to "
                        f"{_clock_words(setting.quiet_end)}, {zone.key}) until "
                        f"{ends.astimezone(zone):%Y-%m-%d %H:%M %Z}",
                        ends,
                    )
                )
        if setting.max is None or setting.window is None:
            continue
        started = sorted(moment for moment in recent.get(channel, ()) if moment > now - setting.window)
        if len(started) < setting.max:
            continue
        # One slot frees up when the oldest action that keeps the count at the cap leaves the window.
        frees_at = started[len(started) - setting.max] + setting.window
        holds.append(
            ContactHold(
                CONTACT_CAP,
                f"this customer already got {len(started)} "
                f"{(_ONE if len(started) == 1 else _MANY)[channel]} in the last "
                f"{_hours_words(setting.window)} (the tenant's cap is {setting.max}); "
                f"the next may go at {frees_at.astimezone(zone):%Y-%m-%d %H:%M %Z}",
                frees_at,
            )
        )
    if not holds:
        return None
    latest = max(holds, key=lambda hold: hold.until)
    reason = "; ".join(hold.reason for hold in holds)
    return ContactHold(latest.kind, reason[:1].upper() + reason[1:], latest.until)


def zone_or(name: object, fallback: zoneinfo.ZoneInfo) -> zoneinfo.ZoneInfo:
    """``name`` as an IANA zone when it is one, else ``fallback``."""
    if not isinstance(name, str) or not name or len(name) > 64:
        return fallback
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return fallback
