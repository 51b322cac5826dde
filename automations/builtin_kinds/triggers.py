"""The built-in trigger kinds: one ``TriggerKind`` each (keys and labels are ``TriggerType``'s).

Registered by ``AutomationsConfig.ready()``. Each spec names its config validator
(``automations.validators``), its summary words (``automations.summaries.triggers``) and the fields of
its builder panel; its listener is in ``executions/listeners/`` (events: ``executions.services``).
"""

from __future__ import annotations

from automations import validators as checks
from automations.choices import BehaviorType, SchedulePattern, Season, ThresholdOperator, TriggerType
from automations.kinds.fields import FieldSpec
from automations.kinds.triggers import TriggerKind, register_trigger_kind
from automations.summaries import triggers as words
from governance.choices import Weekday


def _kind(key: TriggerType, *fields: FieldSpec) -> TriggerKind:
    name = key.value
    return TriggerKind(
        key=name,
        label=key.label,
        fields=fields,
        validate=getattr(checks, f"validate_{name}_trigger"),
        describe=getattr(words, f"describe_{name}"),
        flat_input_names=True,
    )


def _pattern(*patterns: str) -> tuple[str, tuple[str, ...]]:
    return ("pattern", patterns)


BUILTIN_TRIGGERS: tuple[TriggerKind, ...] = (
    _kind(
        TriggerType.EVENT,
        FieldSpec("event_type", "Event Type", placeholder="product_added", datalist="event-types"),
        FieldSpec("source", "Source", placeholder="store"),
    ),
    _kind(
        TriggerType.SCHEDULE,
        FieldSpec("pattern", "Pattern", "select", tuple(SchedulePattern.choices)),
        FieldSpec("day", "Day", "select", tuple(Weekday.choices), show_when=_pattern("weekly")),
        FieldSpec(
            "day_of_month",
            "Day of month",
            "int",
            help="1 to 31; short months run on their last day",
            show_when=_pattern("monthly"),
        ),
        FieldSpec("season", "Season", "select", tuple(Season.choices), show_when=_pattern("seasonal")),
        FieldSpec("time", "Time", "time", show_when=_pattern("", "daily", "weekly", "monthly", "seasonal")),
        FieldSpec("cron", "Cron expression", placeholder="0 9 * * 1", show_when=_pattern("cron")),
        FieldSpec("timezone", "Timezone", placeholder="UTC", datalist="timezones"),
    ),
    _kind(
        TriggerType.THRESHOLD,
        FieldSpec("metric", "Metric", placeholder="product_count", datalist="metrics"),
        FieldSpec(
            "operator",
            "Operator",
            "select",
            tuple((value, f"{value} ({label})") for value, label in ThresholdOperator.choices),
        ),
        FieldSpec("value", "Value", "number"),
        FieldSpec(
            "for_minutes",
            "For (minutes)",
            "int",
            help="how long the value must stay past the threshold; empty for at once",
        ),
    ),
    _kind(
        TriggerType.BEHAVIOR,
        FieldSpec("behavior_type", "Behavior Type", "select", tuple(BehaviorType.choices)),
        FieldSpec("timeframe_hours", "Timeframe (hours)", "number"),
        FieldSpec(
            "min_total", "Minimum total", "number", help="for high-value customers: the least they must have spent"
        ),
    ),
)


def register_builtin_triggers() -> None:
    for kind in BUILTIN_TRIGGERS:
        register_trigger_kind(kind)
