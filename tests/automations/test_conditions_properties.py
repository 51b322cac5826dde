"""Properties of the condition evaluator, checked with hypothesis over arbitrary JSON.

- ``!=`` is exactly the negation of ``=`` for any present value; ``in [v]`` agrees with ``= v``.
- ``<`` and ``>=`` (and ``>`` and ``<=``) partition comparable values; incomparable values fail all four.
- No JSON context, whatever its shape, makes ``matches`` or ``explain`` raise, and the ``passed``
  flags of ``explain`` always agree with ``matches``.
- Everything ``validate_conditions`` accepts compiles without problems.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from automations.conditions import compile_conditions
from automations.conditions.values import ZoneSource, mode_for
from automations.validators import validate_conditions

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ZONES = st.sampled_from(["UTC", "Europe/Berlin", "Pacific/Kiritimati", "Etc/GMT+12", "America/New_York"])

# Texts that exercise every coercion: numeric, date, datetime, time of day, and near misses.
SPECIAL_TEXTS = [
    "3",
    "3.0",
    " 7 ",
    "-2.5",
    "+4",
    "1e3",
    ".5",
    "1_000",
    "٣",
    "nan",
    "inf",
    "1e999",
    "abc",
    "",
    " ",
    "2025-12-01",
    "2025-12-31",
    "2025-02-30",
    "2025-12-01T09:30:00",
    "2025-12-01T09:30:00Z",
    "2025-12-01 09:30",
    "2025-12-01T09:30:00.123456+05:30",
    "2025-12-01T24:00:00",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "0001-01-01",
    "09:30",
    "monday",
    "active",
]

# Numbers near the interesting edges: 0 and false, 1 and true, 3 and "3", the non-finite floats.
SPECIAL_NUMBERS = [0, 1, 3, -1, 0.0, -0.0, 1.0, 3.0, 2.5, 1e308, 10**20]
SPECIAL_SCALARS = [*SPECIAL_NUMBERS, float("nan"), float("inf"), float("-inf"), True, False, None]

texts = st.one_of(st.sampled_from(SPECIAL_TEXTS), st.text(max_size=12))
finite_numbers = st.one_of(
    st.sampled_from(SPECIAL_NUMBERS),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
)
json_scalars = st.one_of(
    st.sampled_from(SPECIAL_SCALARS),
    texts,
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
)
KEYS = ["field", "a", "b", "0", "1", "customer", "total_spent", "a.b", "date", "now", "time", "weekday", "tags"]
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=4))
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
    max_leaves=25,
)
# Python values a context may also carry besides JSON: dates and datetimes, naive or aware.
python_values = st.one_of(
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30))])),
)
# Scalars first, so that comparisons with the expected value's own kind come up often.
actual_values = st.one_of(json_scalars, json_values, python_values)


# --- = and != ------------------------------------------------------------------------------------

equality_values = st.one_of(st.none(), st.booleans(), finite_numbers, texts)


@PROPERTY_SETTINGS
@given(expected=equality_values, actual=actual_values, zone=ZONES)
def test_not_equals_is_the_negation_of_equals(expected: Any, actual: Any, zone: str) -> None:
    context = {"field": actual}
    equals = compile_conditions([{"type": "field", "operator": "=", "value": expected}], zone)
    differs = compile_conditions([{"type": "field", "operator": "!=", "value": expected}], zone)

    assert equals.matches(context) is not differs.matches(context)


@PROPERTY_SETTINGS
@given(expected=equality_values, actual=actual_values, zone=ZONES)
def test_in_a_one_value_list_agrees_with_equals(expected: Any, actual: Any, zone: str) -> None:
    context = {"field": actual}
    equals = compile_conditions([{"type": "field", "operator": "=", "value": expected}], zone).matches(context)
    one_of = compile_conditions([{"type": "field", "operator": "in", "value": [expected]}], zone).matches(context)
    not_in = compile_conditions([{"type": "field", "operator": "not_in", "value": [expected]}], zone).matches(context)
    in_list = compile_conditions([{"type": "field", "operator": "contains", "value": expected}], zone).matches(
        {"field": [actual]}
    )

    assert one_of is equals
    assert not_in is not equals
    if expected is not None:  # contains never takes null
        assert in_list is equals


# --- ordering ------------------------------------------------------------------------------------

ordering_values = st.one_of(finite_numbers, texts.filter(lambda text: text != ""))


@PROPERTY_SETTINGS
@given(expected=ordering_values, actual=actual_values, zone=ZONES)
def test_less_than_and_at_least_partition_comparable_values(expected: Any, actual: Any, zone: str) -> None:
    context = {"field": actual}
    compiled = {
        operator: compile_conditions([{"type": "field", "operator": operator, "value": expected}], zone)
        for operator in ("<", ">=", ">", "<=")
    }
    results = {operator: each.explain(context)[0] for operator, each in compiled.items()}
    passed = {operator: each.matches(context) for operator, each in compiled.items()}
    assert passed == {operator: result.passed for operator, result in results.items()}
    comparable = mode_for(expected).pair(actual, ZoneSource.named(zone)) is not None

    if comparable:
        assert passed["<"] is not passed[">="]
        assert passed[">"] is not passed["<="]
    else:
        assert not any(passed.values())
        assert all(" is not " in (result.reason or "") for result in results.values())


@PROPERTY_SETTINGS
@given(low=finite_numbers, high=finite_numbers, actual=actual_values)
def test_between_is_at_least_low_and_at_most_high(low: Any, high: Any, actual: Any) -> None:
    low, high = sorted((low, high))
    context = {"field": actual}

    def holds(operator: str, value: Any) -> bool:
        return compile_conditions([{"type": "field", "operator": operator, "value": value}]).matches(context)

    assert holds("between", [low, high]) is (holds(">=", low) and holds("<=", high))


# --- any context, any valid definition -----------------------------------------------------------

paths = st.one_of(
    st.sampled_from(["field", "a.b", "customer.total_spent", "tags", "0", "a.0.b", "date", "now", "time", "weekday"]),
    st.from_regex(r"[a-z_]{1,6}(\.[a-z0-9_]{1,4}){0,2}", fullmatch=True),
)
patterns = st.sampled_from([r"^ORD-\d+$", "gmail", r"\d{3}", "^$", "(?i)vip", r"a|b", r"[^x]+"])
valid_values = {
    "=": equality_values,
    "!=": equality_values,
    "<": ordering_values,
    ">": ordering_values,
    "<=": ordering_values,
    ">=": ordering_values,
    "contains": st.one_of(st.booleans(), finite_numbers, texts.filter(lambda text: text != "")),
    "not_contains": st.one_of(st.booleans(), finite_numbers, texts.filter(lambda text: text != "")),
    "in": st.lists(equality_values, min_size=1, max_size=5),
    "not_in": st.lists(equality_values, min_size=1, max_size=5),
    "between": st.one_of(
        st.tuples(finite_numbers, finite_numbers).map(sorted),
        st.tuples(st.sampled_from(SPECIAL_TEXTS[15:]), st.sampled_from(SPECIAL_TEXTS[15:])).map(sorted),
    ),
    "exists": st.booleans(),
    "matches": patterns,
}


@st.composite
def leaf_conditions(draw: st.DrawFn) -> dict[str, Any]:
    operator = draw(st.sampled_from(sorted(valid_values)))
    condition = {"type": draw(paths), "operator": operator}
    if operator != "exists" or draw(st.booleans()):
        condition["value"] = draw(valid_values[operator])
    return condition


conditions = st.recursive(
    leaf_conditions(),
    lambda children: st.one_of(
        st.builds(lambda items: {"any": items}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda items: {"all": items}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda item: {"not": item}, children),
    ),
    max_leaves=6,
)
condition_lists = st.lists(conditions, max_size=4)
contexts = st.one_of(st.dictionaries(keys, actual_values, max_size=6), json_values)


@PROPERTY_SETTINGS
@given(definition=condition_lists, context=contexts, zone=ZONES)
def test_no_context_makes_evaluation_raise_and_explain_agrees_with_matches(
    definition: list[Any], context: Any, zone: str
) -> None:
    assume(validate_conditions(definition) == {})
    compiled = compile_conditions(definition, zone)

    matched = compiled.matches(context)
    results = compiled.explain(context)

    assert compiled.problems == ()
    assert isinstance(matched, bool)
    assert len(results) == len(definition)
    assert matched is all(result.passed for result in results)
    for result in results:
        assert (result.reason is None) is result.passed
        json.dumps(result.as_dict(), allow_nan=False)


EVERY_OPERATOR = [
    {"type": "field", "operator": "=", "value": "active"},
    {"type": "field", "operator": "!=", "value": 3},
    {"type": "a.b", "operator": "<", "value": 3},
    {"type": "a.0.b", "operator": ">", "value": "2025-12-01"},
    {"type": "customer.total_spent", "operator": "<=", "value": "2025-12-01T09:00:00"},
    {"type": "date", "operator": ">=", "value": "2025-12-01"},
    {"type": "tags", "operator": "contains", "value": "vip"},
    {"type": "tags", "operator": "not_contains", "value": 2},
    {"type": "weekday", "operator": "in", "value": ["saturday", "sunday", 1, None, True, "2025-12-01"]},
    {"type": "time", "operator": "not_in", "value": ["09:00"]},
    {"type": "now", "operator": "between", "value": ["2025-01-01", "2025-12-31"]},
    {"type": "field", "operator": "exists"},
    {"type": "field", "operator": "exists", "value": False},
    {"type": "a.b", "operator": "matches", "value": r"^\d+$"},
    {"any": [{"type": "a", "operator": "=", "value": 1}, {"not": {"type": "b", "operator": "exists"}}]},
    {"all": [{"type": "0", "operator": ">=", "value": 0}, {"type": "1", "operator": "<", "value": "z"}]},
]


@PROPERTY_SETTINGS
@given(context=contexts, zone=ZONES)
def test_no_json_context_makes_any_operator_raise(context: Any, zone: str) -> None:
    assert validate_conditions(EVERY_OPERATOR) == {}
    compiled = compile_conditions(EVERY_OPERATOR, zone)

    results = compiled.explain(context)

    assert compiled.matches(context) is all(result.passed for result in results)
    for condition in EVERY_OPERATOR:
        single = compile_conditions([condition], zone)
        assert single.matches(context) is single.explain(context)[0].passed


@PROPERTY_SETTINGS
@given(definition=condition_lists)
def test_everything_the_validator_accepts_compiles(definition: list[Any]) -> None:
    if validate_conditions(definition) == {}:
        assert compile_conditions(definition).problems == ()


@settings(max_examples=200, deadline=None)
@given(definition=json_values, context=json_values)
def test_any_json_as_a_definition_never_raises(definition: Any, context: Any) -> None:
    compiled = compile_conditions(definition)

    results = compiled.explain(context)

    assert compiled.matches(context) is all(result.passed for result in results)
    if compiled.problems:  # a definition the evaluator cannot use never lets a rule fire
        assert compiled.matches(context) is False
