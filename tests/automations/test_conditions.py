"""The condition evaluator: every operator with its coercions and reasons, paths, groups, built-ins,
broken definitions, caching per rule version and the spec's Testing Guide §1.

Pure tables run without the database (compile_conditions or unsaved AutomationRule instances); the
few tests about a saved rule's tenant time zone and the LRU use the ``rule`` fixture.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import pickle
import zoneinfo
from collections import defaultdict
from typing import Any

import pytest

from automations.choices import ConditionOperator
from automations.conditions import (
    BUILTIN_KEYS,
    OPERATORS,
    CompiledConditions,
    ConditionResult,
    Predicate,
    UnknownOperator,
    clear_cache,
    compile_conditions,
    compiled_conditions_for_rule,
    get_operator,
    register,
)
from automations.conditions import cache as condition_cache
from automations.conditions.evaluator import WantAtOffset
from automations.models import AutomationRule
from automations.services import rule_update
from automations.validators import validate_conditions


def one(operator: str, value: Any = None, path: str = "field", **extra: Any) -> dict[str, Any]:
    condition = {"type": path, "operator": operator, **extra}
    if operator != "exists" or value is not None:
        condition["value"] = value
    return condition


def evaluate(condition: dict[str, Any], context: Any, timezone_name: str = "UTC") -> ConditionResult:
    """Evaluate one condition both ways and check the two agree."""
    compiled = compile_conditions([condition], timezone_name)
    (result,) = compiled.explain(context)
    assert compiled.matches(context) is result.passed
    return result


# --- every operator, with coercions and reasons ---------------------------------------------------

# (operator, expected value, actual value, passes, reason when it fails or None)
OPERATOR_CASES: list[tuple[str, Any, Any, bool, str | None]] = [
    # = : strings, numbers both ways, numeric strings, bool is not a number, null only equals null
    ("=", "active", "active", True, None),
    ("=", "active", "closed", False, "field is 'closed', not 'active'"),
    ("=", "active", "Active", False, "field is 'Active', not 'active'"),
    ("=", 3, 3, True, None),
    ("=", 3, 3.0, True, None),
    ("=", 3, "3", True, None),
    ("=", "3", 3, True, None),
    ("=", "3", "3.0", True, None),
    ("=", 3, " 3 ", True, None),
    ("=", 3, "3 apples", False, "field is '3 apples', not 3"),
    ("=", 1, True, False, "field is true, not 1"),
    ("=", True, 1, False, "field is 1, not true"),
    ("=", True, True, True, None),
    ("=", False, False, True, None),
    ("=", None, None, True, None),
    ("=", None, "", False, "field is '', not null"),
    ("=", "", None, False, "field is null, not ''"),
    ("=", 3, float("nan"), False, "field is nan, not 3"),
    ("=", "2025-12-01", "2025-12-01T18:30:00", True, None),
    ("=", "2025-12-01", dt.date(2025, 12, 1), True, None),
    ("=", "2025-12-01", "2025-12-02", False, "field is '2025-12-02', not '2025-12-01'"),
    ("=", "abc", 3, False, "field is 3, not 'abc'"),
    # != is the negation of = for every present value
    ("!=", "active", "closed", True, None),
    ("!=", "active", "active", False, "field is 'active', which it must not be"),
    ("!=", 3, "3", False, "field is '3', which it must not be"),
    ("!=", 3, float("nan"), True, None),
    ("!=", None, None, False, "field is null, which it must not be"),
    ("!=", 1, True, True, None),
    # ordering of numbers, numeric strings either side, and values that are not numbers
    ("<", 3, 2, True, None),
    ("<", 3, 5, False, "field is 5, not less than 3"),
    ("<", 3, 3, False, "field is 3, not less than 3"),
    ("<", 3, "2", True, None),
    ("<", "3", 2, True, None),
    ("<", "10", "9", True, None),
    ("<", 3, 2.999, True, None),
    ("<", 3, "abc", False, "field: 'abc' is not a number"),
    ("<", 3, True, False, "field: true is not a number"),
    ("<", 3, None, False, "field: null is not a number"),
    ("<", 3, [1], False, "field: [1] is not a number"),
    ("<", 3, float("nan"), False, "field: nan is not a finite number"),
    ("<", 3, float("-inf"), False, "field: -inf is not a finite number"),
    (">", 3, 4, True, None),
    (">", 3, 3, False, "field is 3, not greater than 3"),
    (">", 3, float("inf"), False, "field: inf is not a finite number"),
    (">", 0.5, "0.75", True, None),
    ("<=", 3, 3, True, None),
    ("<=", 3, 4, False, "field is 4, not at most 3"),
    (">=", 100, 100, True, None),
    (">=", 100, 99.99, False, "field is 99.99, not at least 100"),
    (">=", 100, "1e3", True, None),
    # text ordering is lexicographic, which is right for HH:MM times
    (">=", "09:00", "09:30", True, None),
    (">=", "09:00", "08:59", False, "field is '08:59', not at least '09:00'"),
    ("<", "b", "a", True, None),
    ("<", "b", 5, False, "field: 5 is not text"),
    # dates and datetimes
    (">=", "2025-12-01", "2025-12-01", True, None),
    (">=", "2025-12-01", "2025-11-30", False, "field is '2025-11-30', not at least '2025-12-01'"),
    (">=", "2025-12-01", dt.date(2025, 12, 2), True, None),
    (">=", "2025-12-01", dt.datetime(2025, 12, 1, 0, 5), True, None),
    (">=", "2025-12-01", "2025-12-01T00:00:00Z", True, None),
    (">=", "2025-12-01", "soon", False, "field: 'soon' is not a date (YYYY-MM-DD)"),
    (">=", "2025-12-01", 20251201, False, "field: 20251201 is not a date (YYYY-MM-DD)"),
    ("<", "2025-12-01T09:00:00", "2025-12-01T08:59:59", True, None),
    ("<", "2025-12-01T09:00:00", "2025-11-30", True, None),
    ("<", "2025-12-01T09:00:00Z", "2025-12-01T10:00:00+02:00", True, None),
    ("<", "2025-12-01T09:00:00", "nope", False, "field: 'nope' is not a date and time"),
    # between is inclusive at both ends, with the same coercions
    ("between", [1, 10], 1, True, None),
    ("between", [1, 10], 10, True, None),
    ("between", [1, 10], "5", True, None),
    ("between", [1, 10], 11, False, "field is 11, not between 1 and 10"),
    ("between", [1, 10], "x", False, "field: 'x' is not a number"),
    ("between", ["2025-12-01", "2025-12-31"], "2025-12-24", True, None),
    ("between", ["2025-12-01", "2025-12-31"], "2026-01-01", False, "field is '2026-01-01', not between"),
    ("between", ["09:00", "17:00"], "12:15", True, None),
    # contains: substring, list membership (by =), object key; anything else fails
    ("contains", "sale", "summer sale", True, None),
    ("contains", "sale", "summer", False, "field is 'summer', which does not contain 'sale'"),
    ("contains", 3, "abc3", True, None),
    ("contains", "vip", ["new", "vip"], True, None),
    ("contains", 2, [1, "2"], True, None),
    ("contains", "2", [1, 2.0], True, None),
    ("contains", 1, [True], False, "field is [true], which does not contain 1"),
    ("contains", "sku", {"sku": 1}, True, None),
    ("contains", "price", {"sku": 1}, False, "which does not contain 'price'"),
    ("contains", "x", 5, False, "field: 5 is not text, a list or an object"),
    ("contains", "x", None, False, "field: null is not text, a list or an object"),
    ("not_contains", "sale", "summer", True, None),
    ("not_contains", "sale", "summer sale", False, "field is 'summer sale', which contains 'sale'"),
    ("not_contains", "vip", ["new"], True, None),
    ("not_contains", "sku", {"sku": 1}, False, "which contains 'sku'"),
    ("not_contains", "x", 5, False, "field: 5 is not text, a list or an object"),
    # in / not_in compare with = semantics
    ("in", ["active", "paused"], "paused", True, None),
    ("in", ["active", "paused"], "closed", False, "field is 'closed', not one of 'active', 'paused'"),
    ("in", ["3", "4"], 3, True, None),
    ("in", [3, 4], "4.0", True, None),
    ("in", [1], True, False, "field is true, not one of 1"),
    ("in", [True], True, True, None),
    ("in", [None, "x"], None, True, None),
    ("in", ["2025-12-01"], "2025-12-01T12:00:00", True, None),
    ("in", ["a"], ["a"], False, "field is ['a'], not one of 'a'"),
    ("not_in", ["active", "paused"], "closed", True, None),
    ("not_in", ["active", "paused"], "active", False, "field is 'active', one of the excluded values"),
    ("not_in", [3], "3", False, "field is '3', one of the excluded values 3"),
    # exists: present and not null; false: absent or null
    ("exists", True, "x", True, None),
    ("exists", True, 0, True, None),
    ("exists", True, None, False, "field is null"),
    ("exists", False, None, True, None),
    ("exists", False, "x", False, "field is present ('x')"),
    # matches: re.search on text only
    ("matches", r"^ORD-\d+$", "ORD-123", True, None),
    ("matches", r"\d", "abc", False, "field is 'abc', which does not match '\\\\d'"),
    ("matches", "gmail", "x@gmail.com", True, None),
    ("matches", r"\d", 5, False, "field: 5 is not text"),
]


@pytest.mark.parametrize(("operator", "expected", "actual", "passes", "reason"), OPERATOR_CASES)
def test_operator(operator: str, expected: Any, actual: Any, passes: bool, reason: str | None) -> None:
    condition = one(operator, expected)
    result = evaluate(condition, {"field": actual, "other": 1})

    assert result.passed is passes
    assert result.condition == condition
    assert result.expected_value == expected
    if passes:
        assert result.reason is None
    else:
        assert reason is not None and result.reason is not None
        assert reason in result.reason


def test_every_operator_of_the_schema_is_registered_and_in_the_table() -> None:
    assert set(OPERATORS) == set(ConditionOperator.values)
    assert {case[0] for case in OPERATOR_CASES} == set(ConditionOperator.values)


def test_the_reason_examples_of_the_brief() -> None:
    assert evaluate(one("<", 3, "product_count"), {"product_count": 5}).reason == "product_count is 5, not less than 3"
    assert evaluate(one("=", "active", "store_status"), {"store_status": "closed"}).reason == (
        "store_status is 'closed', not 'active'"
    )
    assert evaluate(one("<", 3, "product_count"), {"product_count": "abc"}).reason == (
        "product_count: 'abc' is not a number"
    )
    assert evaluate(one("=", "active", "store_status"), {}).reason == "store_status is missing from the context"


@pytest.mark.parametrize("operator", sorted(set(ConditionOperator.values) - {"exists"}))
def test_a_missing_key_fails_every_operator_but_exists(operator: str) -> None:
    value = {"between": [1, 2], "in": ["a"], "not_in": ["a"], "matches": "a"}.get(operator, "a")
    result = evaluate(one(operator, value, "store_status"), {"other": "a"})

    assert result.passed is False
    assert result.actual_value is None
    assert result.reason == "store_status is missing from the context"


def test_exists_with_a_missing_key() -> None:
    assert evaluate(one("exists", path="coupon"), {}).passed is False
    assert evaluate(one("exists", path="coupon"), {}).reason == "coupon is missing from the context"
    assert evaluate(one("exists", True, "coupon"), {"coupon": "X"}).passed is True
    assert evaluate(one("exists", False, "coupon"), {}).passed is True
    assert evaluate(one("exists", path="coupon"), {}).expected_value is True


def test_matches_looks_at_the_first_10000_characters_only() -> None:
    condition = one("matches", "needle")

    assert evaluate(condition, {"field": "x" * 9_990 + "needle"}).passed is True
    assert evaluate(condition, {"field": "x" * 10_000 + "needle"}).passed is False


def test_dates_compare_in_the_rules_time_zone() -> None:
    # 23:30 UTC on 30 November is already 1 December in Berlin.
    condition = one(">=", "2025-12-01")
    context = {"field": "2025-11-30T23:30:00+00:00"}

    assert evaluate(condition, context, "UTC").passed is False
    assert evaluate(condition, context, "Europe/Berlin").passed is True


def test_a_naive_datetime_is_taken_to_be_in_the_rules_zone() -> None:
    # 09:00 in Berlin is 08:00 UTC; 08:30 UTC is after it there, but before 09:00 UTC.
    condition = one(">", "2025-12-01T09:00:00")
    context = {"field": "2025-12-01T08:30:00Z"}

    assert evaluate(condition, context, "UTC").passed is False
    assert evaluate(condition, context, "Europe/Berlin").passed is True
    aware = dt.datetime(2025, 12, 1, 8, 30, tzinfo=zoneinfo.ZoneInfo("UTC"))
    assert evaluate(condition, {"field": aware}, "Europe/Berlin").passed is True


# --- dotted paths --------------------------------------------------------------------------------

PATH_CASES: list[tuple[str, Any, Any]] = [
    ("customer.total_spent", {"customer": {"total_spent": 150}}, 150),
    ("order.customer.tier", {"order": {"customer": {"tier": "gold"}}}, "gold"),
    ("items.0.sku", {"items": [{"sku": "A1"}, {"sku": "B2"}]}, "A1"),
    ("items.1", {"items": ["a", "b"]}, "b"),
    ("customer.total_spent", {"customer.total_spent": 5, "customer": {"total_spent": 500}}, 5),
    ("order.customer.tier", {"order": {"customer.tier": "silver", "customer": {"tier": "gold"}}}, "silver"),
]


@pytest.mark.parametrize(("path", "context", "actual"), PATH_CASES)
def test_dotted_paths(path: str, context: dict[str, Any], actual: Any) -> None:
    result = evaluate(one("exists", path=path), context)

    assert result.passed is True
    assert result.actual_value == actual


@pytest.mark.parametrize(
    "context",
    [
        {},
        {"customer": None},
        {"customer": "gold"},
        {"customer": [150]},
        {"customer": {"other": 1}},
        {"customer": {"total_spent": {"x": 1}}},
    ],
)
def test_a_dotted_path_that_does_not_resolve_is_missing(context: dict[str, Any]) -> None:
    result = evaluate(one(">=", 100, "customer.total_spent"), context)

    assert result.passed is False
    expected = (
        "customer.total_spent: {'x': 1} is not a number"
        if "total_spent" in (context.get("customer") or {})
        else "customer.total_spent is missing from the context"
    )
    assert result.reason == expected


def test_list_indexes_out_of_range_or_not_digits_are_missing() -> None:
    assert evaluate(one("exists", path="items.5"), {"items": [1]}).passed is False
    assert evaluate(one("exists", path="items.first"), {"items": [1]}).passed is False


# --- groups --------------------------------------------------------------------------------------


def test_any_all_and_not() -> None:
    vip = one("=", "vip", "tier")
    big = one(">=", 100, "total")
    conditions = [{"any": [vip, big]}, {"all": [vip, big]}, {"not": vip}]
    compiled = compile_conditions(conditions)

    results = compiled.explain({"tier": "vip", "total": 50})

    assert [result.passed for result in results] == [True, False, False]
    assert results[0].reason is None
    assert results[1].reason == "1 of 2 failed: total >= 100: total is 50, not at least 100"
    assert results[2].reason == "tier = 'vip' holds, so 'not' fails"
    assert results[1].actual_value is None and results[1].expected_value is None
    assert compiled.matches({"tier": "regular", "total": 150}) is False  # the all group
    assert compile_conditions([{"any": [vip, big]}, {"not": vip}]).matches({"tier": "x", "total": 150}) is True


def test_any_names_every_failed_member() -> None:
    (result,) = compile_conditions([{"any": [one("=", "vip", "tier"), one(">=", 100, "total")]}]).explain({})

    assert result.passed is False
    assert result.reason == (
        "none of 2 passed: tier = 'vip': tier is missing from the context; "
        "total >= 100: total is missing from the context"
    )


def test_nested_groups() -> None:
    either = {"any": [one("=", "a", "x"), one("=", "b", "x")]}
    conditions = [{"all": [either, {"not": {"any": [one("exists", path="y")]}}]}]
    compiled = compile_conditions(conditions)

    assert validate_conditions(conditions) == {}
    assert compiled.matches({"x": "b"}) is True
    assert compiled.matches({"x": "b", "y": 1}) is False
    assert compiled.matches({"x": "c"}) is False


def test_no_conditions_always_pass() -> None:
    compiled = compile_conditions([])

    assert compiled.matches({}) is True
    assert compiled.matches(None) is True
    assert compiled.explain({"a": 1}) == []


# --- built-in values -----------------------------------------------------------------------------


def test_the_specs_date_condition_means_from_that_day() -> None:
    condition = {"type": "date", "operator": ">=", "value": "2025-12-01"}

    assert evaluate(condition, {"date": "2025-12-01"}).passed is True
    assert evaluate(condition, {"date": "2025-11-30"}).passed is False
    assert evaluate(condition, {"date": dt.date(2026, 1, 5)}).passed is True
    assert evaluate(condition, {"now": "2025-12-01T00:10:00+01:00"}, "Europe/Berlin").passed is True
    assert evaluate(condition, {"now": "2025-12-01T00:10:00+01:00"}, "UTC").passed is False


def test_the_built_in_date_is_today_in_the_rules_zone() -> None:
    # Kiritimati (UTC+14) and Etc/GMT+12 (UTC-12) are 26 hours apart: never on the same date.
    condition = {"type": "date", "operator": "=", "value": "2000-01-01"}
    east = compile_conditions([condition], "Pacific/Kiritimati").explain({})[0].actual_value
    west = compile_conditions([condition], "Etc/GMT+12").explain({})[0].actual_value
    today = dt.datetime.now(zoneinfo.ZoneInfo("Pacific/Kiritimati")).date()
    today_east = {today - dt.timedelta(days=1), today}  # midnight may pass between the two calls

    assert isinstance(east, dt.date) and not isinstance(east, dt.datetime)
    assert east in today_east
    assert (east - west).days in (1, 2)


def test_now_weekday_and_time_follow_the_contexts_now() -> None:
    context = {"now": "2025-12-01T08:15:00Z"}  # a Monday; 09:15 in Berlin
    conditions = [
        {"type": "weekday", "operator": "=", "value": "monday"},
        {"type": "time", "operator": "between", "value": ["09:00", "17:00"]},
        {"type": "date", "operator": "=", "value": "2025-12-01"},
        {"type": "now", "operator": ">=", "value": "2025-12-01T09:00:00"},
    ]
    berlin = compile_conditions(conditions, "Europe/Berlin").explain(context)
    utc = compile_conditions(conditions, "UTC").explain(context)

    assert [result.passed for result in berlin] == [True, True, True, True]
    assert [result.actual_value for result in berlin[:3]] == ["monday", "09:15", dt.date(2025, 12, 1)]
    assert [result.passed for result in utc] == [True, False, True, False]
    assert utc[1].reason == "time is '08:15', not between '09:00' and '17:00'"


def test_built_ins_are_real_values_without_overrides() -> None:
    results = compile_conditions([one("exists", path=key) for key in sorted(BUILTIN_KEYS)], "America/New_York").explain(
        {}
    )
    values = {result.condition["type"]: result.actual_value for result in results}

    assert all(result.passed for result in results)
    assert values["now"].tzinfo == zoneinfo.ZoneInfo("America/New_York")
    assert values["date"] == values["now"].date()
    assert values["weekday"] in {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
    assert values["time"] == values["now"].strftime("%H:%M")


def test_a_context_value_overrides_a_built_in() -> None:
    compiled = compile_conditions([{"type": "weekday", "operator": "in", "value": ["saturday", "sunday"]}])

    assert compiled.matches({"weekday": "sunday"}) is True
    assert compiled.matches({"weekday": "monday"}) is False


def test_an_invalid_time_zone_name_means_utc() -> None:
    compiled = compile_conditions([{"type": "time", "operator": "=", "value": "08:15"}], "Not/AZone")

    assert compiled.matches({"now": "2025-12-01T08:15:00Z"}) is True


# --- broken stored definitions and odd contexts --------------------------------------------------

BROKEN: list[tuple[Any, str]] = [
    ({"type": "x", "operator": "~", "value": 1}, "unknown operator '~'; known operators: =, !=, <"),
    ({"type": "x", "operator": None, "value": 1}, "unknown operator null"),
    ({"type": "", "operator": "=", "value": 1}, "type must name a context value"),
    ({"operator": "=", "value": 1}, "type must name a context value"),
    ({"type": "x", "operator": "="}, "the = operator needs a value"),
    ({"type": "x", "operator": "in", "value": "a"}, "in needs a non-empty list of values"),
    ({"type": "x", "operator": "in", "value": list(range(1001))}, "at most 1000 values"),
    ({"type": "x", "operator": "between", "value": [1]}, "between needs a list of two values"),
    ({"type": "x", "operator": "exists", "value": "yes"}, "exists takes true"),
    ({"type": "x", "operator": "matches", "value": "("}, "not a valid regular expression"),
    ({"type": "x", "operator": "matches", "value": r"(a)\1"}, r"the pattern uses a backreference (\1)"),
    ({"type": "x", "operator": "matches", "value": "(?=a)b"}, "the pattern uses a lookahead"),
    ({"type": "x", "operator": "matches", "value": ".{999}"}, "the pattern is too large once compiled"),
    ({"type": "x", "operator": "matches", "value": "a" * 201}, "the pattern is longer than 200 characters"),
    ({"type": "x", "operator": "matches", "value": 5}, "matches needs a regular expression"),
    ("store_status = active", "a condition is a JSON object"),
    ({"any": [], "all": []}, "exactly one key"),
    ({"any": []}, "any must be a non-empty list"),
    ({"not": {"type": "x", "operator": "~", "value": 1}}, "unknown operator"),
    ({"any": [{"type": "x", "operator": "exists"}, {"type": "x", "operator": "~"}]}, "unknown operator"),
]


@pytest.mark.parametrize(("condition", "reason"), BROKEN)
def test_a_broken_stored_condition_fails_with_a_reason(condition: Any, reason: str) -> None:
    compiled = compile_conditions([condition])

    (result,) = compiled.explain({"x": 1})
    assert compiled.matches({"x": 1}) is False
    assert result.passed is False
    assert result.reason is not None and result.reason.startswith("invalid condition: ")
    assert reason in result.reason
    assert compiled.problems and reason in compiled.problems[0]
    assert validate_conditions([condition]) != {}


def test_a_not_around_a_broken_condition_does_not_pass() -> None:
    assert compile_conditions([{"not": {"type": "x", "operator": "~", "value": 1}}]).matches({}) is False


def test_conditions_that_are_not_a_list_fail() -> None:
    compiled = compile_conditions({"type": "x", "operator": "=", "value": 1})  # type: ignore[arg-type]

    assert compiled.matches({"x": 1}) is False
    assert compiled.problems == ("conditions[0]: conditions must be a list (use [] for none)",)


def test_groups_nested_too_deep_fail_instead_of_recursing() -> None:
    condition: dict[str, Any] = {"type": "x", "operator": "exists"}
    for _ in range(200):
        condition = {"not": condition}

    assert compile_conditions([condition]).matches({"x": 1}) is False


@pytest.mark.parametrize("context", [None, [], [1, 2], "x", 5, 2.5, True])
def test_a_context_that_is_not_an_object_has_no_keys(context: Any) -> None:
    compiled = compile_conditions([one("=", "a"), one("exists", False, "gone"), {"not": one("exists")}])

    assert compiled.matches(context) is False
    results = compiled.explain(context)
    assert [result.passed for result in results] == [False, True, True]


# --- results -------------------------------------------------------------------------------------


def test_as_dict_is_json_safe() -> None:
    compiled = compile_conditions(
        [{"type": "date", "operator": ">=", "value": "2025-12-01"}, {"type": "now", "operator": "exists"}], "UTC"
    )
    now = dt.datetime(2025, 12, 2, 10, 0, tzinfo=dt.UTC)

    documents = [result.as_dict() for result in compiled.explain({"now": now})]

    assert json.loads(json.dumps(documents)) == documents
    assert list(documents[0]) == ["condition", "passed", "actual_value", "expected_value", "reason"]
    assert documents[0]["actual_value"] == "2025-12-02"
    assert documents[1]["actual_value"] == "2025-12-02T10:00:00+00:00"
    assert documents[0]["condition"] == {"type": "date", "operator": ">=", "value": "2025-12-01"}


def test_as_dict_of_odd_actual_values() -> None:
    (result,) = compile_conditions([one("=", 1)]).explain({"field": [float("nan"), (1, dt.date(2025, 1, 2))]})

    document = result.as_dict()
    assert document["actual_value"] == ["nan", [1, "2025-01-02"]]
    json.dumps(document, allow_nan=False)


def test_compiled_conditions_keep_their_own_copy_of_the_definition() -> None:
    conditions = [one("=", "a")]
    compiled = compile_conditions(conditions)
    conditions[0]["value"] = "b"

    assert compiled.matches({"field": "a"}) is True
    assert compiled.conditions == [one("=", "a")]


# --- the operator registry -----------------------------------------------------------------------


def test_get_operator_lists_the_known_keys() -> None:
    assert get_operator("=").label == "equals"
    with pytest.raises(UnknownOperator) as error:
        get_operator("~")
    assert str(error.value) == f"unknown operator '~'; known operators: {', '.join(ConditionOperator.values)}"


def test_register_adds_an_operator() -> None:
    @register("starts_with")
    def build_starts_with(expected: Any) -> Predicate:
        prefix = str(expected)

        def test(actual: Any, zone: Any) -> bool:
            return isinstance(actual, str) and actual.startswith(prefix)

        def reason(label: str, actual: Any, zone: Any) -> str:
            return f"{label} does not start with {prefix!r}"

        return Predicate(test, reason)

    try:
        compiled = compile_conditions([{"type": "sku", "operator": "starts_with", "value": "AB"}])
        assert compiled.matches({"sku": "AB-1"}) is True
        assert compiled.explain({"sku": "X"})[0].reason == "sku does not start with 'AB'"
        assert compiled.explain({})[0].reason == "sku is missing from the context"
    finally:
        del OPERATORS["starts_with"]


# --- rules: the spec's example, the instance cache and the LRU -----------------------------------

SPEC_RULE: dict[str, Any] = {
    "tenant_id": "tenant_test",
    "name": "Predicate Automation",
    "trigger_type": "threshold",
    "trigger_config": {"metric": "product_count", "operator": "<", "value": 3},
    "conditions": [{"type": "store_status", "operator": "=", "value": "active"}],
    "action_type": "send_notification",
    "action_config": {"recipients": ["owner"]},
    "risk_level": "low",
}


def test_testing_guide_1_evaluate_conditions_on_an_unsaved_rule() -> None:
    automation = AutomationRule(**SPEC_RULE)
    context = {"product_count": 2, "store_status": "active"}

    assert automation.evaluate_conditions(context) is True
    assert automation.evaluate_conditions({"product_count": 2, "store_status": "paused"}) is False
    (result,) = automation.evaluate_conditions_detailed(context)
    assert result.as_dict() == {
        "condition": {"type": "store_status", "operator": "=", "value": "active"},
        "passed": True,
        "actual_value": "active",
        "expected_value": "active",
        "reason": None,
    }


def test_testing_guide_1_on_a_saved_rule(rule: AutomationRule, django_assert_num_queries: Any) -> None:
    rule = AutomationRule.objects.get(pk=rule.pk)

    # No built-in value is needed, so the tenant (and its time zone) is never loaded.
    with django_assert_num_queries(0):
        assert rule.evaluate_conditions({"product_count": 2, "store_status": "active"}) is True
        assert rule.evaluate_conditions_detailed({"store_status": "closed"})[0].reason == (
            "store_status is 'closed', not 'active'"
        )


def test_a_saved_rule_reads_its_tenants_zone_once_and_only_when_needed(
    rule: AutomationRule, django_assert_num_queries: Any
) -> None:
    rule.tenant.timezone = "Pacific/Kiritimati"
    rule.tenant.save()
    rule_update(rule, {"conditions": [{"type": "date", "operator": ">=", "value": "2025-12-01"}]})
    rule = AutomationRule.objects.get(pk=rule.pk)
    today = dt.datetime.now(zoneinfo.ZoneInfo("Pacific/Kiritimati")).date()

    with django_assert_num_queries(0):
        assert rule.evaluate_conditions({"date": "2025-12-01"}) is True  # the context supplies it
    with django_assert_num_queries(1):
        actual = rule.evaluate_conditions_detailed({})[0].actual_value
    with django_assert_num_queries(0):
        rule.evaluate_conditions({})
    assert actual in {today, today + dt.timedelta(days=1)}


def test_compiled_once_per_instance_and_again_when_conditions_are_replaced() -> None:
    automation = AutomationRule(**SPEC_RULE)
    first = compiled_conditions_for_rule(automation)

    assert compiled_conditions_for_rule(automation) is first
    automation.conditions = [{"type": "store_status", "operator": "=", "value": "paused"}]
    second = compiled_conditions_for_rule(automation)
    assert second is not first
    assert automation.evaluate_conditions({"store_status": "paused"}) is True
    automation.version += 1
    assert compiled_conditions_for_rule(automation) is not second


def test_evaluate_conditions_becomes_the_compiled_function_until_conditions_or_version_change(
    rule: AutomationRule,
) -> None:
    paused = [{"type": "store_status", "operator": "=", "value": "paused"}]
    automation = AutomationRule(**SPEC_RULE)
    assert automation.evaluate_conditions({"store_status": "active", "product_count": 1}) is True
    # the instance's own attribute is now the compiled function itself (no frame of ours in between)
    assert automation.evaluate_conditions is compiled_conditions_for_rule(automation).matches

    automation.conditions = paused  # assigning the conditions drops it: the next call compiles them
    assert "evaluate_conditions" not in automation.__dict__
    assert automation.evaluate_conditions({"store_status": "paused"}) is True
    assert automation.evaluate_conditions({"store_status": "active", "product_count": 1}) is False

    automation.evaluate_conditions({})
    automation.version += 1  # and so does the version
    assert "evaluate_conditions" not in automation.__dict__

    stored = AutomationRule.objects.get(pk=rule.pk)
    assert stored.evaluate_conditions({"store_status": "paused"}) is False
    rule_update(rule, {"conditions": paused})
    stored.refresh_from_db()  # reloading assigns the fields: the new version's conditions apply
    assert stored.evaluate_conditions({"store_status": "paused"}) is True


def test_saved_rule_versions_share_one_compiled_plan(rule: AutomationRule) -> None:
    clear_cache()
    first = AutomationRule.objects.get(pk=rule.pk)
    second = AutomationRule.objects.get(pk=rule.pk)

    compiled_first = compiled_conditions_for_rule(first)
    compiled_second = compiled_conditions_for_rule(second)

    assert compiled_first is not compiled_second  # each binds its own instance's tenant
    assert compiled_first.plan is compiled_second.plan
    assert condition_cache.cache_size() == 1

    rule_update(rule, {"conditions": [{"type": "store_status", "operator": "=", "value": "paused"}]})
    third = AutomationRule.objects.get(pk=rule.pk)
    assert third.version == first.version + 1
    assert compiled_conditions_for_rule(third).plan is not compiled_first.plan
    assert third.evaluate_conditions({"store_status": "paused"}) is True
    assert first.evaluate_conditions({"store_status": "active"}) is True


def test_an_edited_copy_with_the_same_pk_and_version_gets_its_own_plan(rule: AutomationRule) -> None:
    stored = AutomationRule.objects.get(pk=rule.pk)
    compiled_conditions_for_rule(stored)
    edited = AutomationRule.objects.get(pk=rule.pk)
    edited.conditions = [{"type": "store_status", "operator": "=", "value": "paused"}]

    assert edited.evaluate_conditions({"store_status": "paused"}) is True
    assert stored.evaluate_conditions({"store_status": "paused"}) is False


def test_unsaved_rules_do_not_use_the_shared_cache() -> None:
    clear_cache()
    a = AutomationRule(**{**SPEC_RULE, "id": "automation_same"})
    b = AutomationRule(**{**SPEC_RULE, "id": "automation_same", "conditions": [one("exists", path="x")]})

    assert a.evaluate_conditions({"store_status": "active"}) is True
    assert b.evaluate_conditions({"x": 1}) is True
    assert condition_cache.cache_size() == 0


def test_the_shared_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_cache()
    monkeypatch.setattr(condition_cache, "MAX_CACHED_VERSIONS", 3)
    for version in range(1, 6):
        automation = AutomationRule(**{**SPEC_RULE, "id": "automation_bounded", "version": version})
        automation._state.adding = False
        compiled_conditions_for_rule(automation)

    assert condition_cache.cache_size() == 3
    clear_cache()


def test_a_rule_with_compiled_conditions_can_be_pickled_and_copied() -> None:
    automation = AutomationRule(**SPEC_RULE)
    automation.evaluate_conditions({})

    automation.evaluate_conditions({})  # the second call: the compiled function is the instance's attribute

    for clone in (pickle.loads(pickle.dumps(automation)), copy.deepcopy(automation), copy.copy(automation)):
        assert "evaluate_conditions" not in clone.__dict__
        assert clone.evaluate_conditions({"store_status": "active"}) is True
        assert isinstance(compiled_conditions_for_rule(clone), CompiledConditions)


def test_text_choices_and_other_str_subclasses_compare_as_their_text() -> None:
    status = ConditionOperator.EQ  # a str subclass whose value is "="
    for operator, value in (("=", "="), ("in", ["=", "x"]), ("contains", "="), (">=", "=")):
        assert evaluate(one(operator, value), {"field": status}).passed is True


# --- one generated function per conditions list (issue 16) ---------------------------------------

HOSTILE = "x\"), __import__('os').system('true'), (\"\nimport os #"


def test_a_definitions_text_never_reaches_the_generated_source() -> None:
    conditions = [
        {"type": HOSTILE, "operator": "=", "value": HOSTILE},
        {"type": f"{HOSTILE}.b", "operator": "in", "value": [HOSTILE, "other"]},
        {"type": "tags", "operator": "contains", "value": HOSTILE},
        {"type": "n", "operator": "<", "value": 3},
    ]
    compiled = compile_conditions(conditions)
    code = compiled.plan.check.__code__

    assert not any(isinstance(constant, str) and "import" in constant for constant in code.co_consts)
    assert all("import" not in name and "system" not in name for name in code.co_names)
    context = {HOSTILE: HOSTILE, f"{HOSTILE}.b": "other", "tags": ["a", HOSTILE], "n": 2}
    assert compiled.matches(context) is True
    assert compiled.matches({**context, "n": 3}) is False


def test_lists_of_one_shape_share_one_compiled_function_body() -> None:
    first = compile_conditions([one("<", 3, "a"), one("=", "active", "b"), one(">=", "2026-01-01", "c")])
    second = compile_conditions([one("<", 10, "x"), one("=", "paused", "y"), one(">=", "2020-05-05", "z")])

    assert first.plan.check.__code__ is second.plan.check.__code__
    assert first.matches({"a": 2, "b": "active", "c": "2026-03-01"}) is True
    assert second.matches({"a": 2, "b": "active", "c": "2026-03-01"}) is False
    assert second.matches({"x": 9.5, "y": "paused", "z": "2020-05-05T10:00:00Z"}) is True


def test_a_value_read_by_several_conditions_is_read_and_parsed_once_per_evaluation() -> None:
    reads: list[str] = []

    class CountingContext(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            reads.append(key)
            return super().get(key, default)

    compiled = compile_conditions(
        [
            one(">=", "2026-01-01", "signup"),
            one("<", "2026-12-31", "signup"),
            one("!=", "2026-06-01", "signup"),
            one(">", 0, "count"),
        ]
    )

    assert compiled.matches(CountingContext(signup="2026-03-01", count=1)) is True
    assert reads == ["signup", "count"]
    assert compiled.matches(CountingContext(signup="2026-06-01", count=1)) is False
    assert compiled.matches(CountingContext(signup="2026-03-01T23:30:00-05:00", count=1)) is True


def test_the_fast_paths_fall_back_to_the_full_coercions() -> None:
    compiled = compile_conditions(
        [
            one("<", 10, "n"),
            one("in", ["US", "CA"], "country"),
            one("contains", "vip", "tags"),
            one("between", ["2026-01-01", "2026-12-31"], "day"),
            one("<=", "2026-12-31T00:00:00Z", "at"),
        ],
        "America/New_York",
    )
    usual = {"n": 3, "country": "US", "tags": ["vip"], "day": "2026-05-05", "at": "2026-12-30T10:00:00+02:00"}

    assert compiled.matches(usual) is True
    # Numeric text, a tuple of tags, a datetime as the day (its date in the rule's zone), a date
    # object, a naive datetime text (taken in the rule's zone): the full coercions answer.
    assert (
        compiled.matches({**usual, "n": " 9 ", "tags": ("vip",), "day": dt.datetime(2026, 1, 1, 3, 0, tzinfo=dt.UTC)})
        is False
    )
    assert compiled.matches({**usual, "n": " 9 ", "tags": ("vip",), "day": dt.date(2026, 1, 1)}) is True
    assert compiled.matches({**usual, "at": "2026-12-30T19:00:00"}) is True
    assert compiled.matches({**usual, "at": "2026-12-30T19:00:01"}) is False
    assert compiled.matches({**usual, "n": float("-inf")}) is False
    assert compiled.matches({**usual, "n": True}) is False
    assert compiled.matches({**usual, "tags": ["VIP", 3]}) is False


def test_aware_datetimes_at_the_calendars_ends_compare_as_instants() -> None:
    # Moving either to UTC would leave the calendar: they are then compared as they are.
    late = compile_conditions([one("<=", "9999-12-31T20:00:00-05:00", "at"), one(">", 0, "n")])
    early = compile_conditions([one(">=", "0001-01-01T00:00:00+05:00", "at"), one(">", 0, "n")])

    assert late.matches({"at": "9999-12-31T22:59:59-02:00", "n": 1}) is True
    assert late.matches({"at": "9999-12-31T20:00:01-05:00", "n": 1}) is False
    assert early.matches({"at": "0001-01-01T00:00:00+05:00", "n": 1}) is True
    assert early.matches({"at": "0001-01-01T00:00:00+06:00", "n": 1}) is False
    assert [result.passed for result in late.explain({"at": "9999-12-31T20:00:01-05:00", "n": 1})] == [False, True]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-01T12:00:00+02:00", True),
        ("2026-06-01T12:00:01+02:00", False),
        ("2026-06-01T10:00:00Z", True),
        ("2026-06-01T10:00:00-00:00", True),
        ("2026-06-01T10:00:01+00:00", False),
        ("2026-06-01 05:00:00-05:00", True),
        ("2026-06-01T05:00:01-05:00", False),
        ("2026-06-02T00:00:00+14:00", True),
        ("2026-06-02T00:00:01+14:00", False),
        ("2026-05-31T22:01:00-11:59", True),
        ("2026-05-31T22:01:01-11:59", False),
        ("2026-06-01T10:00:00.000001Z", False),  # microseconds: the full test answers
        ("2026-06-01T06:00:00", True),  # naive: taken in the rule's zone (New York, 10:00 UTC)
        ("2026-06-01T06:00:01", False),
        ("2026-06-01T10:00:00+24:00", False),  # not an offset, so not a datetime
        ("2026-02-30T10:00:00+02:00", False),
        ("2026-06-01T10:00:00+05:6\u0663", False),
    ],
)
def test_a_datetime_text_compares_as_its_instant_at_any_offset(text: str, expected: bool) -> None:
    compiled = compile_conditions([one("<=", "2026-06-01T12:00:00+02:00", "at"), one(">", 0, "n")], "America/New_York")

    assert compiled.matches({"at": text, "n": 1}) is expected
    assert [result.passed for result in compiled.explain({"at": text, "n": 1})] == [expected, True]


def test_a_want_is_found_once_per_offset_and_only_offsets_are_kept() -> None:
    aware = WantAtOffset(dt.datetime(2026, 6, 1, tzinfo=dt.timezone(dt.timedelta(hours=-3))))
    naive = WantAtOffset(dt.datetime(2026, 6, 1))
    late = WantAtOffset(dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.UTC))

    assert aware["+02:00"] == dt.datetime(2026, 6, 1, 5, 0)
    assert aware["Z"] == aware["-00:00"] == dt.datetime(2026, 6, 1, 3, 0)
    assert aware[""] is None  # a naive text: the full test answers
    assert aware["+2x:00"] is aware["+24:00"] is aware[".12345"] is None
    assert set(aware) == {"+02:00", "Z", "-00:00", ""}
    assert naive[""] == dt.datetime(2026, 6, 1)
    assert naive["Z"] is None
    assert late["+02:00"] is None  # past the calendar's end
    assert late["-02:00"] == dt.datetime(9999, 12, 31, 21, 0)


def test_top_level_keys_are_read_together_without_touching_the_context() -> None:
    conditions = [one("<", 3, "a"), one("=", "x", "b"), one(">", 0, "c"), one("<", 3, "a"), one(">=", 1, "e.f")]
    compiled = compile_conditions([*conditions, one("in", ["y"], "d"), one("exists", True, "g")])
    usual = {"a": 2, "b": "x", "c": 1, "d": "y", "e": {"f": 1}, "g": 0}
    absent: defaultdict[str, Any] = defaultdict(lambda: 1, {"a": 2, "b": "x", "c": 1, "e": {"f": 1}, "g": 0})

    assert compiled.plan.check.__code__.co_freevars.count("read_keys") == 1
    assert compiled.matches(usual) is True
    assert compiled.matches({**usual, "e.f": 0}) is False  # the literal dotted key comes first
    assert compiled.matches({**usual, "e": [], "e.f": 2}) is True
    assert compiled.matches({key: value for key, value in usual.items() if key != "e"}) is False
    assert compiled.matches({key: value for key, value in usual.items() if key != "c"}) is False
    assert compiled.matches(defaultdict(list, usual)) is True
    assert compiled.matches(absent) is False  # d is missing: get, not __missing__
    assert set(absent) == {"a", "b", "c", "e", "g"}


def test_a_very_long_hand_written_list_keeps_the_closures() -> None:
    conditions = [one("<", index, f"k{index}") for index in range(300)]
    compiled = compile_conditions(conditions)

    assert compiled.plan.bind is None
    assert compiled.matches({f"k{index}": index - 1 for index in range(300)}) is True
    assert compiled.matches({f"k{index}": index - (index != 299) for index in range(300)}) is False
