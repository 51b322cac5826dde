"""The trigger in words: a clause for the summary sentence and a short description.

Each ``describe_<type>`` is the ``describe`` of its ``TriggerKind`` (automations.builtin_kinds.triggers).
"""

from __future__ import annotations

import re
from typing import Any

from automations.choices import BehaviorType, SchedulePattern, Season, ThresholdOperator
from automations.kinds.triggers import TriggerText, get_trigger_kind
from automations.summaries.cron_words import describe_cron
from automations.summaries.text import (
    WEEKDAY_NAMES,
    capitalize,
    format_duration_hours,
    format_duration_minutes,
    format_month_day,
    format_timezone,
    is_number,
    name_or_quote,
    ordinal,
    with_article,
    words,
)
from governance.common.words import format_number

TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


NO_TRIGGER = TriggerText(clause="", description="No trigger chosen yet")

# Events people name in the builder, in words. Others are phrased from their name.
KNOWN_EVENTS = {
    "product_added": "a product is added",
    "product_updated": "a product is updated",
    "product_deleted": "a product is deleted",
    "product_removed": "a product is removed",
    "workflow_completed": "a workflow completes",
    "workflow_failed": "a workflow fails",
    "store_health_changed": "the store's health changes",
    "marketing_site_deployed": "a marketing site is deployed",
    "customer_signup": "a customer signs up",
    "customer_signed_up": "a customer signs up",
    "order_placed": "an order is placed",
    "order_created": "an order is placed",
    "cart_updated": "a cart is updated",
    "checkout_started": "a checkout is started",
    "product_viewed": "a product is viewed",
    "customer_active": "a customer is active",
}

SEASON_PHRASES: dict[str, str] = {
    Season.BLACK_FRIDAY: "on Black Friday",
    Season.CYBER_MONDAY: "on Cyber Monday",
    Season.VALENTINES_DAY: "on Valentine's Day",
    Season.MOTHERS_DAY: "on Mother's Day",
    Season.HOLIDAY_SEASON: "at the start of the holiday season",
    Season.BACK_TO_SCHOOL: "at the start of the back-to-school season",
    Season.SPRING: "at the start of spring",
    Season.SUMMER: "at the start of summer",
    Season.AUTUMN: "at the start of autumn",
    Season.WINTER: "at the start of winter",
}

# (summary verb, description verb) per threshold operator; the spec words "<" differently in each.
THRESHOLD_VERBS: dict[str, tuple[str, str]] = {
    ThresholdOperator.LT: ("drops below {v}", "falls below {v}"),
    ThresholdOperator.GT: ("rises above {v}", "rises above {v}"),
    ThresholdOperator.LTE: ("falls to {v} or below", "falls to {v} or below"),
    ThresholdOperator.GTE: ("reaches {v}", "reaches {v}"),
    ThresholdOperator.EQ: ("equals {v}", "equals {v}"),
    ThresholdOperator.NEQ: ("is no longer {v}", "is no longer {v}"),
}
# When the value is not typed in yet.
THRESHOLD_VERBS_NO_VALUE: dict[str, str] = {
    ThresholdOperator.LT: "drops below a threshold",
    ThresholdOperator.GT: "rises above a threshold",
    ThresholdOperator.LTE: "falls to a threshold or below",
    ThresholdOperator.GTE: "reaches a threshold",
    ThresholdOperator.EQ: "equals a set value",
    ThresholdOperator.NEQ: "moves away from a set value",
}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# --- event ---------------------------------------------------------------------------------------


def _event_clause(event_type: str) -> str:
    if event_type in KNOWN_EVENTS:
        return KNOWN_EVENTS[event_type]
    phrase = name_or_quote(event_type)
    if phrase.startswith("'"):
        return f"a {phrase} event occurs"
    parts = phrase.split()
    if len(parts) >= 2 and parts[-1].endswith("ed") and parts[-1].islower():
        return f"{with_article(' '.join(parts[:-1]))} is {parts[-1]}"
    return f"{with_article(phrase)} event occurs"


def describe_event(config: dict[str, Any]) -> TriggerText:
    event_type = _text(config.get("event_type"))
    clause = _event_clause(event_type) if event_type else "an event occurs"
    source = _text(config.get("source"))
    if source:
        clause = f"{clause} (source: {name_or_quote(source)})"
    return TriggerText(clause=clause, description=capitalize(clause))


# --- schedule ------------------------------------------------------------------------------------


def _at(config: dict[str, Any]) -> str:
    """`` at 09:00 (UTC)``, `` at 09:00``, `` (UTC)`` or nothing."""
    time = config.get("time")
    text = f" at {time}" if isinstance(time, str) and TIME_RE.match(time) else ""
    zone = format_timezone(config.get("timezone"))
    return f"{text} ({zone})" if zone else text


def _whole(value: object, low: int, high: int) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


def _monthly(config: dict[str, Any]) -> str:
    day = _whole(config.get("day_of_month"), 1, 31)
    if day is None:
        return "Every month"
    if day == 31:
        # Past a month's end means its last day, so the 31st is every month's last day.
        return "On the last day of every month"
    if day >= 29:
        return f"On the {ordinal(day)} of every month (the last day in shorter months)"
    return f"On the {ordinal(day)} of every month"


def _seasonal(config: dict[str, Any]) -> str:
    season = config.get("season")
    if isinstance(season, str) and season in SEASON_PHRASES:
        return f"Every year {SEASON_PHRASES[season]}"
    month, day = _whole(config.get("month"), 1, 12), _whole(config.get("day"), 1, 31)
    if month is not None and day is not None:
        return f"Every year on {format_month_day(month, day)}"
    return "Every year"


def describe_schedule(config: dict[str, Any]) -> TriggerText:
    pattern = config.get("pattern")
    if pattern == SchedulePattern.CRON:
        zone = format_timezone(config.get("timezone"))
        text = describe_cron(config.get("cron"))
        text = f"{text} ({zone})" if zone else text
        return TriggerText(clause=text, description=text, opens_sentence=True)
    if pattern == SchedulePattern.DAILY:
        head = "Every day"
    elif pattern == SchedulePattern.WEEKLY:
        day = config.get("day")
        head = f"Every {WEEKDAY_NAMES[day]}" if isinstance(day, str) and day in WEEKDAY_NAMES else "Every week"
    elif pattern == SchedulePattern.MONTHLY:
        head = _monthly(config)
    elif pattern == SchedulePattern.SEASONAL:
        head = _seasonal(config)
    else:
        head = "On a schedule"
    text = head + _at(config)
    return TriggerText(clause=text, description=text, opens_sentence=True)


# --- threshold -----------------------------------------------------------------------------------


def describe_threshold(config: dict[str, Any]) -> TriggerText:
    metric = _text(config.get("metric"))
    subject = words(metric) if metric else "a metric"
    operator = config.get("operator")
    value = config.get("value")
    if isinstance(operator, str) and operator in THRESHOLD_VERBS:
        if is_number(value):
            summary_verb, description_verb = (verb.format(v=format_number(value)) for verb in THRESHOLD_VERBS[operator])
        else:
            summary_verb = description_verb = THRESHOLD_VERBS_NO_VALUE[operator]
    else:
        summary_verb = description_verb = "crosses a threshold"
    held = config.get("for_minutes")
    duration = format_duration_minutes(held) if is_number(held) and held > 0 else ""
    suffix = f" for at least {duration}" if duration else ""
    return TriggerText(
        clause=f"{subject} {summary_verb}{suffix}", description=capitalize(f"{subject} {description_verb}{suffix}")
    )


# --- behaviour -----------------------------------------------------------------------------------


def _behavior_clause(behavior: object, window: str, min_total: object) -> str:
    within = f" within {window}" if window else ""
    if behavior == BehaviorType.ABANDONED_CART:
        return f"a customer leaves a cart without ordering for {window}" if window else "a customer abandons a cart"
    if behavior == BehaviorType.PRODUCT_VIEWED_NOT_BOUGHT:
        return (
            f"a customer views a product but doesn't buy it within {window}"
            if window
            else ("a customer views a product but doesn't buy it")
        )
    if behavior == BehaviorType.REPEAT_PURCHASE:
        return f"a customer buys again within {window}" if window else "a customer buys again"
    if behavior == BehaviorType.HIGH_VALUE_CUSTOMER:
        if is_number(min_total):
            return f"a customer spends at least {format_number(min_total)}{within}"
        return f"a customer becomes a high-value customer{within}"
    if behavior == BehaviorType.DORMANT_CUSTOMER:
        return f"a customer has been inactive for {window}" if window else "a customer goes quiet"
    return f"a customer behaviour is detected{within}"


def describe_behavior(config: dict[str, Any]) -> TriggerText:
    hours = config.get("timeframe_hours")
    window = format_duration_hours(hours) if is_number(hours) else ""
    clause = _behavior_clause(config.get("behavior_type"), window, config.get("min_total"))
    return TriggerText(clause=clause, description=capitalize(clause))


def describe_trigger(trigger_type: object, config: object) -> TriggerText:
    """The trigger in words; a partial config gives the best phrase it can, never an error."""
    kind = get_trigger_kind(trigger_type)
    if kind is None:
        return NO_TRIGGER
    return kind.describe(config if isinstance(config, dict) else {})
