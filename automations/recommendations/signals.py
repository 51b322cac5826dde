"""The store facts recommendations are scored on, read leniently from a caller's context.

A value of the wrong kind (a string where a number belongs, a negative count, an unknown
performance word) is ignored as if it were missing: recommendations never fail on context data.
The season comes from the context's ``seasonal_context`` when it names one, else from the tenant's
local date (``recommend`` passes it: docs/recommendations.md, "The season").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from automations.choices import Season
from automations.schedule_times import season_on
from automations.summaries.text import is_number

PERFORMANCE_LEVELS = ("excellent", "good", "average", "poor", "declining")
PERFORMANCE_ALIASES = {"great": "excellent", "fair": "average", "ok": "average", "okay": "average", "bad": "poor"}
SEASON_ALIASES = {
    "christmas": Season.HOLIDAY_SEASON,
    "holidays": Season.HOLIDAY_SEASON,
    "holiday": Season.HOLIDAY_SEASON,
    "fall": Season.AUTUMN,
    "valentines": Season.VALENTINES_DAY,
    "mothers": Season.MOTHERS_DAY,
    "bfcm": Season.BLACK_FRIDAY,
}


def _count(value: object) -> int | float | None:
    return value if is_number(value) and value >= 0 else None


def _percentage(value: object) -> float | None:
    return float(value) if is_number(value) and 0 <= value <= 100 else None


def _performance(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    word = value.strip().lower()
    word = PERFORMANCE_ALIASES.get(word, word)
    return word if word in PERFORMANCE_LEVELS else None


def _season(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    key = value.strip().lower().replace("-", "_").replace(" ", "_").replace("'", "")
    key = SEASON_ALIASES.get(key, key)
    return key if key in Season.values else None


@dataclass(frozen=True)
class Signals:
    """Each signal, or None when the context does not give a usable value (docs/recommendations.md)."""

    product_count: int | float | None = None
    store_performance: str | None = None  # excellent, good, average, poor or declining
    recent_campaigns: int | float | None = None  # campaigns run in the last 30 days
    seasonal_context: str | None = None  # a Season value such as holiday_season
    conversion_rate: float | None = None  # a percentage: 2.5 means 2.5 %
    abandoned_carts: int | float | None = None  # carts abandoned in the last 30 days
    customer_count: int | float | None = None
    days_since_last_campaign: int | float | None = None
    has_email_list: bool | None = None
    store_traffic: int | float | None = None  # visitors per day
    # When seasonal_context was read off a date, not given: that local date and its time zone's name.
    season_day: dt.date | None = None
    season_timezone: str | None = None

    @classmethod
    def from_context(cls, context: object, today: dt.date | None = None, timezone_name: str = "UTC") -> Signals:
        """The signals in ``context``; without a usable ``seasonal_context``, the season of ``today`` (the
        tenant's local date) when given."""
        get: Any = context.get if isinstance(context, Mapping) else (lambda key: None)
        season, season_day = _season(get("seasonal_context")), None
        if season is None and today is not None:
            season, season_day = season_on(today), today
        email_list = get("has_email_list")
        return cls(
            season_day=season_day,
            season_timezone=timezone_name if season_day is not None else None,
            product_count=_count(get("product_count")),
            store_performance=_performance(get("store_performance")),
            recent_campaigns=_count(get("recent_campaigns")),
            seasonal_context=season,
            conversion_rate=_percentage(get("conversion_rate")),
            abandoned_carts=_count(get("abandoned_carts")),
            customer_count=_count(get("customer_count")),
            days_since_last_campaign=_count(get("days_since_last_campaign")),
            has_email_list=email_list if isinstance(email_list, bool) else None,
            store_traffic=_count(get("store_traffic")),
        )

    @property
    def struggling(self) -> bool:
        return self.store_performance in ("poor", "declining")

    @property
    def thriving(self) -> bool:
        return self.store_performance in ("good", "excellent")
