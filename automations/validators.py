"""Pure validators, one per JSON config kind. Each returns errors keyed by field path.

A path names the field as a user wrote it: ``trigger_config.time``, ``conditions[1].operator``,
``action_config.recipients[0]``. No ORM and no DRF here: the model's ``clean()``, the API, the
admin, the builder pages and the seed command all call these.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, TypeGuard

from django.core.exceptions import ValidationError

from automations.choices import (
    BehaviorType,
    CampaignChannel,
    Category,
    ConditionGroup,
    ContactCap,
    NotificationChannel,
    NotificationRecipient,
    RiskLevel,
    RuleMode,
    SchedulePattern,
    Season,
    ThresholdOperator,
    WhenCapped,
)
from automations.conditions.operators import MAX_LIST_VALUES
from automations.cron import CronError, parse_cron
from automations.kinds.actions import action_kind_keys, get_action_kind
from automations.kinds.operators import OPERATORS, OperatorKind, ValueTally, operator_keys
from automations.kinds.triggers import get_trigger_kind, trigger_kind_keys
from automations.patterns import MAX_RULE_PATTERN_PROGRAM, PatternError, compile_pattern
from governance.choices import WEEKDAYS_BY_INDEX
from governance.common.storable import json_problem_at
from governance.models import is_valid_timezone

Errors = dict[str, list[str]]

IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EVENT_TYPE_RE = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")
CONDITION_PATH_RE = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

MAX_CONDITIONS = 50
MAX_GROUP_DEPTH = 5
MAX_NAME_LENGTH = 255
MAX_TEXT_LENGTH = 5000
MAX_TIMEFRAME_HOURS = 24 * 366
MAX_FOR_MINUTES = 60 * 24 * 366
MAX_PRODUCT_COUNT = 100


def _one_of(values: list[str] | tuple[str, ...]) -> str:
    return ", ".join(values)


def is_number(value: object) -> TypeGuard[int | float]:
    """A JSON number (booleans are not numbers here), finite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | bool) or is_number(value)


def _add(errors: Errors, path: str, message: str) -> None:
    errors.setdefault(path, []).append(message)


def validate_storable(value: object, path: str) -> Errors:
    """The first text or number in ``value`` the databases cannot store, at its path (``governance.common.storable``).

    Every validator below runs it first: NUL, lone surrogates, NaN, 1e400 and 400-digit integers are
    refused with the API's messages, and never reach a float conversion or the database.
    """
    found = json_problem_at(value, path)
    return {found[0]: [found[1]]} if found else {}


def _check_keys(errors: Errors, config: dict[str, Any], prefix: str, allowed: tuple[str, ...]) -> None:
    for key in config:
        if key not in allowed:
            _add(errors, f"{prefix}.{key}", f"unknown field; expected one of {_one_of(allowed)}")


def _require_dict(errors: Errors, value: object, path: str) -> bool:
    if not isinstance(value, dict):
        _add(errors, path, "must be a JSON object")
        return False
    return True


def _required_string(errors: Errors, config: dict[str, Any], prefix: str, key: str, max_length: int = 255) -> None:
    value = config.get(key)
    if value is None or value == "":
        _add(errors, f"{prefix}.{key}", "this field is required")
    else:
        _optional_string(errors, config, prefix, key, max_length)


def _optional_string(errors: Errors, config: dict[str, Any], prefix: str, key: str, max_length: int = 255) -> None:
    value = config.get(key)
    if value is None:
        return
    if not isinstance(value, str):
        _add(errors, f"{prefix}.{key}", "must be a string")
    elif len(value) > max_length:
        _add(errors, f"{prefix}.{key}", f"must be at most {max_length} characters")


def _optional_bool(errors: Errors, config: dict[str, Any], prefix: str, key: str) -> None:
    if key in config and not isinstance(config[key], bool):
        _add(errors, f"{prefix}.{key}", "must be true or false")


def _optional_number(
    errors: Errors,
    config: dict[str, Any],
    prefix: str,
    key: str,
    minimum: float | None = None,
    maximum: float | None = None,
    integer: bool = False,
    exclusive_minimum: bool = False,
) -> None:
    if key not in config or config[key] is None:
        return
    value = config[key]
    path = f"{prefix}.{key}"
    if integer and not (isinstance(value, int) and not isinstance(value, bool)):
        _add(errors, path, "must be a whole number")
    elif not is_number(value):
        _add(errors, path, "must be a number")
    elif minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
        _add(errors, path, f"must be {'greater than' if exclusive_minimum else 'at least'} {minimum:g}")
    elif maximum is not None and value > maximum:
        _add(errors, path, f"must be at most {maximum:g}")


def _choice(errors: Errors, config: dict[str, Any], prefix: str, key: str, choices: list[str], required: bool) -> None:
    path = f"{prefix}.{key}"
    if key not in config or config[key] is None:
        if required:
            _add(errors, path, f"this field is required; one of {_one_of(choices)}")
        return
    value = config[key]
    if not isinstance(value, str) or value not in choices:
        _add(errors, path, f'"{value}" is not one of {_one_of(choices)}')


def _choice_list(
    errors: Errors, config: dict[str, Any], prefix: str, key: str, choices: list[str], required: bool
) -> None:
    path = f"{prefix}.{key}"
    value = config.get(key)
    if value is None:
        if required:
            _add(errors, path, f"this field is required; a list of {_one_of(choices)}")
        return
    if not isinstance(value, list):
        _add(errors, path, f"must be a list of {_one_of(choices)}")
        return
    if required and not value:
        _add(errors, path, f"must name at least one of {_one_of(choices)}")
    for index, item in enumerate(value):
        if not isinstance(item, str) or item not in choices:
            _add(errors, f"{path}[{index}]", f'"{item}" is not one of {_one_of(choices)}')
    if len(set(map(str, value))) != len(value):
        _add(errors, path, "lists an item more than once")


# --- triggers ------------------------------------------------------------------------------------

EVENT_KEYS = ("event_type", "source")
SCHEDULE_KEYS = ("pattern", "time", "timezone", "day", "day_of_month", "season", "month", "cron")
THRESHOLD_KEYS = ("metric", "operator", "value", "for_minutes")
BEHAVIOR_KEYS = ("behavior_type", "timeframe_hours", "min_total")


def validate_event_trigger(config: dict[str, Any], prefix: str = "trigger_config") -> Errors:
    errors: Errors = {}
    _check_keys(errors, config, prefix, EVENT_KEYS)
    event_type = config.get("event_type")
    if event_type is None or event_type == "":
        _add(errors, f"{prefix}.event_type", "this field is required")
    elif not isinstance(event_type, str) or not EVENT_TYPE_RE.match(event_type):
        _add(errors, f"{prefix}.event_type", "use 1-100 letters, digits and _ . : - such as product_added")
    source = config.get("source")
    if source is not None and source != "" and (not isinstance(source, str) or not EVENT_TYPE_RE.match(source)):
        _add(errors, f"{prefix}.source", "use 1-100 letters, digits and _ . : - such as store")
    return errors


def _validate_time(errors: Errors, config: dict[str, Any], prefix: str) -> None:
    value = config.get("time")
    if value is None or value == "":
        _add(errors, f"{prefix}.time", "this field is required, as HH:MM in 24-hour time")
    elif not isinstance(value, str) or not TIME_RE.match(value):
        _add(errors, f"{prefix}.time", f'"{value}" is not a time as HH:MM in 24-hour time, such as 09:00')


def validate_schedule_trigger(config: dict[str, Any], prefix: str = "trigger_config") -> Errors:
    errors: Errors = {}
    _check_keys(errors, config, prefix, SCHEDULE_KEYS)
    pattern = config.get("pattern")
    _choice(errors, config, prefix, "pattern", SchedulePattern.values, required=True)
    timezone = config.get("timezone")
    if timezone is not None and not is_valid_timezone(timezone):
        _add(errors, f"{prefix}.timezone", f'"{timezone}" is not an IANA time zone name such as Europe/Berlin')
    if pattern == SchedulePattern.CRON:
        if "time" in config:
            _add(errors, f"{prefix}.time", "a cron schedule takes its time from the expression; leave time out")
        try:
            parse_cron(config.get("cron"))  # type: ignore[arg-type]
        except CronError as error:
            _add(errors, f"{prefix}.cron", str(error))
        return errors
    if pattern in SchedulePattern.values:
        _validate_time(errors, config, prefix)
    if "cron" in config:
        _add(errors, f"{prefix}.cron", 'only a "cron" pattern takes a cron expression')
    if pattern == SchedulePattern.WEEKLY:
        _choice(errors, config, prefix, "day", list(WEEKDAYS_BY_INDEX), required=True)
    elif pattern == SchedulePattern.MONTHLY:
        value = config.get("day_of_month")
        if value is None:
            _add(errors, f"{prefix}.day_of_month", "this field is required, a day from 1 to 31")
        else:
            _optional_number(errors, config, prefix, "day_of_month", minimum=1, maximum=31, integer=True)
    elif pattern == SchedulePattern.SEASONAL:
        _validate_season(errors, config, prefix)
    for key, allowed_patterns in (
        ("day", {SchedulePattern.WEEKLY, SchedulePattern.SEASONAL}),
        ("day_of_month", {SchedulePattern.MONTHLY}),
        ("season", {SchedulePattern.SEASONAL}),
        ("month", {SchedulePattern.SEASONAL}),
    ):
        if key in config and pattern in SchedulePattern.values and pattern not in allowed_patterns:
            _add(errors, f"{prefix}.{key}", f'not used by a "{pattern}" schedule')
    return errors


def _validate_season(errors: Errors, config: dict[str, Any], prefix: str) -> None:
    has_season = config.get("season") is not None
    has_date = config.get("month") is not None or config.get("day") is not None
    if has_season and has_date:
        _add(errors, f"{prefix}.season", "give either a named season or a month and day, not both")
        return
    if has_season:
        _choice(errors, config, prefix, "season", Season.values, required=True)
        return
    if not has_date:
        _add(errors, f"{prefix}.season", f"give a named season ({_one_of(Season.values)}) or a month and day")
        return
    month, day = config.get("month"), config.get("day")
    for key, value, highest in (("month", month, 12), ("day", day, 31)):
        if not (isinstance(value, int) and not isinstance(value, bool)) or not 1 <= value <= highest:
            _add(errors, f"{prefix}.{key}", f"must be a whole number from 1 to {highest}")
    if f"{prefix}.month" in errors or f"{prefix}.day" in errors:
        return
    if not isinstance(month, int) or not isinstance(day, int):  # refused just above
        return
    try:
        dt.date(2024, month, day)  # a leap year, so 29 February is allowed
    except ValueError:
        _add(errors, f"{prefix}.day", f"month {month} has no day {day}")


def validate_threshold_trigger(config: dict[str, Any], prefix: str = "trigger_config") -> Errors:
    errors: Errors = {}
    _check_keys(errors, config, prefix, THRESHOLD_KEYS)
    metric = config.get("metric")
    if metric is None or metric == "":
        _add(errors, f"{prefix}.metric", "this field is required, such as product_count")
    elif not isinstance(metric, str) or not IDENTIFIER_RE.match(metric) or len(metric) > 100:
        _add(errors, f"{prefix}.metric", "use letters, digits and underscores, such as product_count")
    _choice(errors, config, prefix, "operator", ThresholdOperator.values, required=True)
    if config.get("value") is None:
        _add(errors, f"{prefix}.value", "this field is required, a number")
    else:
        _optional_number(errors, config, prefix, "value")
    _optional_number(errors, config, prefix, "for_minutes", minimum=0, maximum=MAX_FOR_MINUTES, integer=True)
    return errors


def validate_behavior_trigger(config: dict[str, Any], prefix: str = "trigger_config") -> Errors:
    errors: Errors = {}
    _check_keys(errors, config, prefix, BEHAVIOR_KEYS)
    behavior = config.get("behavior_type")
    _choice(errors, config, prefix, "behavior_type", BehaviorType.values, required=True)
    if config.get("timeframe_hours") is None:
        _add(errors, f"{prefix}.timeframe_hours", "this field is required, a positive number of hours")
    else:
        _optional_number(
            errors, config, prefix, "timeframe_hours", minimum=0, maximum=MAX_TIMEFRAME_HOURS, exclusive_minimum=True
        )
    if behavior == BehaviorType.HIGH_VALUE_CUSTOMER:
        if config.get("min_total") is None:
            _add(errors, f"{prefix}.min_total", "a high-value customer rule needs the minimum total spend")
        else:
            _optional_number(errors, config, prefix, "min_total", minimum=0)
    elif "min_total" in config and behavior in BehaviorType.values:
        _add(errors, f"{prefix}.min_total", "only a high_value_customer rule takes min_total")
    return errors


def validate_trigger_config(trigger_type: str, config: object) -> Errors:
    """Validate ``trigger_config`` against the schema of ``trigger_type``."""
    errors: Errors = validate_storable(config, "trigger_config")
    if errors or not _require_dict(errors, config, "trigger_config"):
        return errors
    kind = get_trigger_kind(trigger_type)
    if kind is None:
        return errors  # the trigger_type field reports its own error
    return kind.validate(config, "trigger_config")  # type: ignore[arg-type]


# --- conditions ----------------------------------------------------------------------------------

CONDITION_KEYS = ("type", "operator", "value")


def _validate_condition_value(
    errors: Errors, operator: OperatorKind, condition: dict[str, Any], path: str, tally: ValueTally
) -> None:
    value_path = f"{path}.value"
    if "value" not in condition:
        if operator.value_required:
            _add(errors, value_path, "this field is required")
        return
    validate = operator.validate
    if validate is None:
        messages = _messages_from_building(operator, condition["value"])
    else:
        messages = validate(condition["value"], tally)
    for message in messages:
        _add(errors, value_path, message)


def _messages_from_building(operator: OperatorKind, value: Any) -> list[str]:
    """An operator without its own check: the value must be one its ``build`` accepts."""
    try:
        operator.build(value)
    except ValueError as error:  # InvalidCondition
        return [str(error)]
    return []


# --- the built-in operators' value checks (automations.builtin_kinds.operators) -----------------


def validate_scalar_value(value: Any, tally: ValueTally) -> list[str]:
    if not is_scalar(value):
        return ['must be a string, number, true, false or null; use "in" for a list']
    return []


def validate_ordering_value(value: Any, tally: ValueTally) -> list[str]:
    if not (is_number(value) or isinstance(value, str)) or value == "":
        return ["must be a number, a date (YYYY-MM-DD) or a text to compare with"]
    return []


def validate_contains_value(value: Any, tally: ValueTally) -> list[str]:
    if value is None or not is_scalar(value) or value == "":
        return ["must be a non-empty string, a number or true/false"]
    return []


def validate_list_value(value: Any, tally: ValueTally) -> list[str]:
    if not isinstance(value, list) or not value:
        return ["must be a non-empty list of values"]
    if len(value) > MAX_LIST_VALUES:
        return [f"must list at most {MAX_LIST_VALUES} values"]
    if not all(is_scalar(item) for item in value):
        return ["must list only strings, numbers, true, false or null"]
    return []


def validate_between_value(value: Any, tally: ValueTally) -> list[str]:
    if not isinstance(value, list) or len(value) != 2:
        return ["must be a list of two values [lowest, highest]"]
    low, high = value
    both_numbers = is_number(low) and is_number(high)
    both_strings = isinstance(low, str) and isinstance(high, str) and low != "" and high != ""
    if not (both_numbers or both_strings):
        return ["must be two numbers or two dates (YYYY-MM-DD)"]
    if low > high:
        return [f"the lowest value {low!r} is above the highest {high!r}"]
    return []


def validate_pattern_value(value: Any, tally: ValueTally) -> list[str]:
    if not isinstance(value, str) or value == "":
        return ["must be a regular expression"]
    try:
        tally.pattern_program += compile_pattern(value).size
    except PatternError as error:
        return [str(error)]
    return []


def validate_exists_value(value: Any, tally: ValueTally) -> list[str]:
    if not isinstance(value, bool):
        return ["exists takes true (the value is present) or false (it is missing)"]
    return []


def _validate_condition(errors: Errors, condition: object, path: str, depth: int, counter: list[Any]) -> None:
    counter[0] += 1  # conditions and groups; counter[1] is the tally of the values
    if not isinstance(condition, dict):
        _add(errors, path, "must be a JSON object with type, operator and value")
        return
    groups = [key for key in ConditionGroup.values if key in condition]
    if groups:
        _validate_group(errors, condition, path, groups, depth, counter)
        return
    _check_keys(errors, condition, path, CONDITION_KEYS)
    field = condition.get("type")
    if field is None or field == "":
        _add(errors, f"{path}.type", "this field is required: the context value to check, such as store_status")
    elif not isinstance(field, str) or len(field) > 200 or not CONDITION_PATH_RE.match(field):
        _add(
            errors, f"{path}.type", "use letters, digits, _ and - with dots between parts, such as customer.total_spent"
        )
    operator = condition.get("operator")
    if operator is None or operator == "":
        _add(errors, f"{path}.operator", f"this field is required; one of {_one_of(operator_keys())}")
        return
    kind = OPERATORS.get(operator) if isinstance(operator, str) else None
    if kind is None:
        _add(errors, f"{path}.operator", f'"{operator}" is not one of {_one_of(operator_keys())}')
        return
    _validate_condition_value(errors, kind, condition, path, counter[1])


def _validate_group(
    errors: Errors, condition: dict[str, Any], path: str, groups: list[str], depth: int, counter: list[Any]
) -> None:
    if len(condition) != 1:
        _add(errors, path, f"a group is an object with exactly one key: {_one_of(ConditionGroup.values)}")
        return
    if depth >= MAX_GROUP_DEPTH:
        _add(errors, path, f"groups may nest at most {MAX_GROUP_DEPTH} deep")
        return
    key = groups[0]
    inner = condition[key]
    if key == ConditionGroup.NOT:
        _validate_condition(errors, inner, f"{path}.not", depth + 1, counter)
        return
    if not isinstance(inner, list) or not inner:
        _add(errors, f"{path}.{key}", "must be a non-empty list of conditions")
        return
    for index, item in enumerate(inner):
        _validate_condition(errors, item, f"{path}.{key}[{index}]", depth + 1, counter)


def validate_conditions(conditions: object) -> Errors:
    """Validate the ``conditions`` list: every condition, operator, value and group."""
    errors: Errors = validate_storable(conditions, "conditions")
    if errors:
        return errors
    if not isinstance(conditions, list):
        _add(errors, "conditions", "must be a list of conditions (use [] for none)")
        return errors
    tally = ValueTally()  # the RE2 instructions of the rule's patterns
    counter: list[Any] = [0, tally]  # conditions and groups; the values' tally
    for index, condition in enumerate(conditions):
        _validate_condition(errors, condition, f"conditions[{index}]", 0, counter)
    if counter[0] > MAX_CONDITIONS:
        _add(errors, "conditions", f"a rule may have at most {MAX_CONDITIONS} conditions, groups included")
    if tally.pattern_program > MAX_RULE_PATTERN_PROGRAM:
        _add(
            errors,
            "conditions",
            f"the rule's matches patterns compile to {tally.pattern_program} RE2 instructions together, "
            f"at most {MAX_RULE_PATTERN_PROGRAM}: use fewer or smaller counted repetitions",
        )
    return errors


# --- actions -------------------------------------------------------------------------------------

BUDGET_KEY = "budget"


def _action_budget(errors: Errors, config: dict[str, Any], prefix: str) -> None:
    _optional_number(errors, config, prefix, BUDGET_KEY, minimum=0)


def _optional_object(errors: Errors, config: dict[str, Any], prefix: str, key: str, required: bool = False) -> None:
    value = config.get(key)
    path = f"{prefix}.{key}"
    if value is None:
        if required:
            _add(errors, path, "this field is required, a JSON object")
        return
    if not isinstance(value, dict):
        _add(errors, path, "must be a JSON object")
    elif required and not value:
        _add(errors, path, "must name at least one field to change")


def validate_start_workflow(config: dict[str, Any], prefix: str) -> Errors:
    errors: Errors = {}
    _check_keys(errors, config, prefix, ("workflow_type_id", "template_id", "inputs", BUDGET_KEY))
    _required_string(errors, config, prefix, "workflow_type_id", 100)
    _optional_string(errors, config, prefix, "template_id", 100)
    _optional_object(errors, config, prefix, "inputs")
    _action_budget(errors, config, prefix)
    return errors


def validate_send_notification(config: dict[str, Any], prefix: str) -> Errors:
    errors: Errors = {}
    _check_keys(errors, config, prefix, ("recipients", "message", "subject", "channels", BUDGET_KEY))
    _choice_list(errors, config, prefix, "recipients", NotificationRecipient.values, required=True)
    _optional_string(errors, config, prefix, "message", MAX_TEXT_LENGTH)
    _optional_string(errors, config, prefix, "subject", 200)
    _choice_list(errors, config, prefix, "channels", NotificationChannel.values, required=False)
    _action_budget(errors, config, prefix)
    return errors


def validate_update_product(config: dict[str, Any], prefix: str) -> Errors:
    errors: Errors = {}
    _check_keys(errors, config, prefix, ("product_id", "updates", BUDGET_KEY))
    _optional_string(errors, config, prefix, "product_id", 100)
    _optional_object(errors, config, prefix, "updates", required=True)
    _action_budget(errors, config, prefix)
    return errors


def validate_generate_campaign(config: dict[str, Any], prefix: str) -> Errors:
    errors: Errors = {}
    _check_keys(errors, config, prefix, ("template_id", "channels", "schedule", BUDGET_KEY))
    _required_string(errors, config, prefix, "template_id", 100)
    _choice_list(errors, config, prefix, "channels", CampaignChannel.values, required=False)
    schedule = config.get("schedule")
    if schedule is not None and schedule != "immediate":
        moment = _parse_datetime(schedule)
        if moment is None:
            _add(errors, f"{prefix}.schedule", 'must be "immediate" or a date and time such as 2026-12-01T09:00:00Z')
    _action_budget(errors, config, prefix)
    return errors


def _parse_datetime(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def validate_create_landing_page(config: dict[str, Any], prefix: str) -> Errors:
    errors: Errors = {}
    _check_keys(errors, config, prefix, ("template_id", "title", "slug", "publish", BUDGET_KEY))
    _required_string(errors, config, prefix, "template_id", 100)
    _optional_string(errors, config, prefix, "title", 200)
    slug = config.get("slug")
    if slug is not None and (not isinstance(slug, str) or not SLUG_RE.match(slug) or len(slug) > 100):
        _add(errors, f"{prefix}.slug", "use lowercase letters, digits and single hyphens, such as holiday-sale")
    _optional_bool(errors, config, prefix, "publish")
    _action_budget(errors, config, prefix)
    return errors


def validate_add_product(config: dict[str, Any], prefix: str) -> Errors:
    errors: Errors = {}
    _check_keys(errors, config, prefix, ("template_id", "count", "category", BUDGET_KEY))
    _required_string(errors, config, prefix, "template_id", 100)
    _optional_number(errors, config, prefix, "count", minimum=1, maximum=MAX_PRODUCT_COUNT, integer=True)
    _optional_string(errors, config, prefix, "category", 100)
    _action_budget(errors, config, prefix)
    return errors


def validate_update_store(config: dict[str, Any], prefix: str) -> Errors:
    errors: Errors = {}
    _check_keys(errors, config, prefix, ("settings", BUDGET_KEY))
    _optional_object(errors, config, prefix, "settings", required=True)
    _action_budget(errors, config, prefix)
    return errors


def validate_generate_draft(config: dict[str, Any], prefix: str) -> Errors:
    errors: Errors = {}
    _check_keys(errors, config, prefix, ("workflow_type_id", "template_id", "title", "inputs", BUDGET_KEY))
    _required_string(errors, config, prefix, "workflow_type_id", 100)
    _optional_string(errors, config, prefix, "template_id", 100)
    _optional_string(errors, config, prefix, "title", 200)
    _optional_object(errors, config, prefix, "inputs")
    _action_budget(errors, config, prefix)
    return errors


def validate_action_config(action_type: str, config: object) -> Errors:
    """Validate ``action_config`` against the schema of ``action_type``."""
    errors: Errors = validate_storable(config, "action_config")
    if errors or not _require_dict(errors, config, "action_config"):
        return errors
    kind = get_action_kind(action_type)
    if kind is None:
        return errors  # the action_type field reports its own error
    return kind.validate(config, "action_config")  # type: ignore[arg-type]


# --- governance ----------------------------------------------------------------------------------

AUTO_APPROVAL_KEYS = ("max_budget", "trusted_users_only", "business_hours_only", "max_frequency_per_day")


def validate_auto_approval_rules(rules: object) -> Errors:
    prefix = "auto_approval_rules"
    errors: Errors = validate_storable(rules, prefix)
    if errors or not _require_dict(errors, rules, prefix):
        return errors
    _check_keys(errors, rules, prefix, AUTO_APPROVAL_KEYS)  # type: ignore[arg-type]
    _optional_number(errors, rules, prefix, "max_budget", minimum=0)  # type: ignore[arg-type]
    _optional_bool(errors, rules, prefix, "trusted_users_only")  # type: ignore[arg-type]
    _optional_bool(errors, rules, prefix, "business_hours_only")  # type: ignore[arg-type]
    _optional_number(errors, rules, prefix, "max_frequency_per_day", minimum=1, integer=True)  # type: ignore[arg-type]
    return errors


# --- the whole rule ------------------------------------------------------------------------------


# Rule fields holding text or numbers that validate_rule_fields checks (the JSON fields have their own).
SCALAR_FIELDS = ("name", "description", "category", "trigger_type", "action_type", "risk_level", "assigned_council_id")


def validate_rule_fields(data: dict[str, Any]) -> Errors:
    """Validate the scalar fields of a rule definition (name, enums, flags)."""
    errors: Errors = {}
    for key in SCALAR_FIELDS:
        errors.update(validate_storable(data.get(key), key))
    if errors:
        return errors
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        _add(errors, "name", "this field is required")
    elif len(name) > MAX_NAME_LENGTH:
        _add(errors, "name", f"must be at most {MAX_NAME_LENGTH} characters")
    description = data.get("description", "")
    if not isinstance(description, str):
        _add(errors, "description", "must be a string")
    elif len(description) > MAX_TEXT_LENGTH:
        _add(errors, "description", f"must be at most {MAX_TEXT_LENGTH} characters")
    category = data.get("category", "")
    if category not in ("", None) and category not in Category.values:
        _add(errors, "category", f'"{category}" is not one of {_one_of(Category.values)}')
    _choice(errors, data, "", "trigger_type", trigger_kind_keys(), required=True)
    _choice(errors, data, "", "action_type", action_kind_keys(), required=True)
    if data.get("risk_level") is not None:
        _choice(errors, data, "", "risk_level", RiskLevel.values, required=False)
    if data.get("mode") is not None:
        _choice(errors, data, "", "mode", RuleMode.values, required=False)
    if data.get("contact_cap") is not None:
        _choice(errors, data, "", "contact_cap", ContactCap.values, required=False)
    if data.get("when_capped") is not None:
        _choice(errors, data, "", "when_capped", WhenCapped.values, required=False)
    for key in ("enabled", "requires_approval"):
        if key in data and not isinstance(data[key], bool):
            _add(errors, key, "must be true or false")
    return {path.lstrip("."): messages for path, messages in errors.items()}


def validate_rule_definition(data: dict[str, Any]) -> Errors:
    """Validate a whole rule body as the API and builder receive it; {} when it is valid."""
    errors = validate_rule_fields(data)
    if "trigger_config" not in data:
        _add(errors, "trigger_config", "this field is required")
    else:
        errors.update(validate_trigger_config(data.get("trigger_type", ""), data["trigger_config"]))
    errors.update(validate_conditions(data.get("conditions", [])))
    if "action_config" not in data:
        _add(errors, "action_config", "this field is required")
    else:
        errors.update(validate_action_config(data.get("action_type", ""), data["action_config"]))
    errors.update(validate_auto_approval_rules(data.get("auto_approval_rules", {})))
    return errors


class RuleValidationError(ValidationError):
    """A rule definition's problems: ``paths`` maps each field path (``trigger_config.time``,
    ``conditions[1].operator``) to its messages, as data. Django surfaces (forms, the admin) see them
    grouped by model field (``message_dict``); the API nests the paths; the builder shows them per path."""

    def __init__(self, paths: Errors) -> None:
        self.paths = {path: list(messages) for path, messages in paths.items()}
        grouped = errors_by_field(self.paths)
        # The model field is assigned_council (its column assigned_council_id): forms know the field.
        if "assigned_council_id" in grouped:
            grouped.setdefault("assigned_council", []).extend(grouped.pop("assigned_council_id"))
        super().__init__(grouped)


def top_level_field(path: str) -> str:
    """``trigger_config.time`` -> ``trigger_config``; ``conditions[1].operator`` -> ``conditions``."""
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def errors_by_field(errors: Errors) -> dict[str, list[str]]:
    """Group path-keyed errors under their model field, each message naming its full path."""
    grouped: dict[str, list[str]] = {}
    for path, messages in errors.items():
        field = top_level_field(path)
        for message in messages:
            grouped.setdefault(field, []).append(message if path == field else f"{path}: {message}")
    return grouped
