"""Properties of the condition evaluator, checked with hypothesis over arbitrary JSON.

- ``!=`` is exactly the negation of ``=`` for any present value; ``in [v]`` agrees with ``= v``.
- ``<`` and ``>=`` (and ``>`` and ``<=``) partition comparable values; incomparable values fail all four.
- No JSON context, whatever its shape, makes ``matches`` or ``explain`` raise, and the ``passed``
  flags of ``explain`` always agree with ``matches``.
- Everything ``validate_conditions`` accepts compiles without problems.
- The fast paths (a plan's generated function, each operator's declared fast path, the ISO date
  readers without their patterns) answer exactly as the full coercions (issue 16).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from automations.conditions import compile_conditions, get_operator, values
from automations.conditions.context import as_context, make_getter, with_builtins
from automations.conditions.evaluator import compile_node
from automations.conditions.values import MISSING, ZoneSource, mode_for
from automations.validators import validate_conditions

pytestmark = pytest.mark.database_free  # pure: the PostgreSQL run of .ci/run skips it

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


# --- the fast paths answer as the full coercions (issue 16) --------------------------------------
#
# Each plan is one generated function with the leaves' fast paths inline (numbers, text, ISO dates
# and datetimes parsed once per context and key, `in` over texts, `contains` over a list); each
# operator's Predicate declares that fast path and keeps the full coercing test as ``fast.slow``.
# The reference here uses only those full tests, so the fast paths must give the same answer for
# every value: ints, floats, numeric strings, nan/inf, booleans, null, missing keys, nested paths,
# dates and datetimes with and without offsets (as objects and as text, near misses included) and
# lists of mixed values.

# Offsets: the usual ones, and any whole minute fromisoformat reads (a plan compares a datetime's
# wall-clock time with the want at its own offset).
offsets = st.one_of(
    st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(-dt.timedelta(hours=8))]),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))),
)
# Moments at the calendar's ends, where a time at another offset (or in UTC) is past them.
EDGE_MOMENTS = [
    dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5))),
    dt.datetime(1, 1, 1, 3, 0, tzinfo=dt.timezone(dt.timedelta(hours=23, minutes=59))),
    dt.datetime(1, 1, 1, tzinfo=dt.UTC),
    dt.datetime(1, 1, 1),
    dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.timezone(-dt.timedelta(hours=5))),
    dt.datetime(9999, 12, 31, 20, 0, 0, tzinfo=dt.timezone(-dt.timedelta(hours=23, minutes=59))),
    dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
    dt.datetime(9999, 12, 31, 23, 59, 59),
]
# ISO texts in the layouts the fast parsers take, and the ones they leave to the pattern.
iso_texts = st.one_of(
    st.dates().map(dt.date.isoformat),
    st.builds(
        lambda moment, separator, timespec, zulu: moment.isoformat(sep=separator, timespec=timespec).replace(
            "+00:00", "Z" if zulu else "+00:00"
        ),
        st.one_of(st.datetimes(timezones=st.one_of(st.none(), offsets)), st.sampled_from(EDGE_MOMENTS)),
        st.sampled_from(["T", " ", "x"]),
        st.sampled_from(["minutes", "seconds", "milliseconds", "microseconds", "hours"]),
        st.booleans(),
    ),
)
# One character of an ISO text replaced (ASCII and other digits, separators, letters), or one cut.
NEAR_MISS_CHARACTERS = [*"0159-:T Z+.,Wz", "\u0663", "\uff10", "\u00b9", "\u00e9", "\ud800"]


@st.composite
def near_iso_texts(draw: st.DrawFn) -> str:
    text = draw(iso_texts)
    if not text:
        return text
    position = draw(st.integers(0, len(text) - 1))
    if draw(st.booleans()):
        return text[:position] + text[position + 1 :]
    return text[:position] + draw(st.sampled_from(NEAR_MISS_CHARACTERS)) + text[position + 1 :]


# What fromisoformat accepts and the ISO patterns do not (week dates, basic formats, other separators,
# offsets with seconds, more than six fraction digits), and layouts the fast readers leave alone.
ISO_EDGE_TEXTS = [
    "2025-W01-1",
    "2025-W011",
    "2025W011",
    "20251201",
    "2025-12",
    "2025-12-01T09",
    "2025-12-01T0930",
    "20251201T09:30:00",
    "2025-12-01X09:30:00",
    "2025-12-01T09:30:00+05:30:15",
    "2025-12-01T09:30+05:30:15",
    "2025-12-01T09:30:00.1234567",
    "2025-12-01T09:30:00.1234567Z",
    "2025-12-01T09:30:00,5+05",
    "2025-12-01T09:30:00+0530",
    "2025-12-01T09:30:00+05",
    "2025-12-01T09:30:00z",
    "2025-12-01T09:30:00.123Z",
    "2025-12-01t09:30:00",
    "2025-12-01T24:00:00",
    "2025-W01-1T09:30:00+05:30",
    "2025-12-01T09:30:00Z+1",
    "2025-12-01T09:30:00-00:00",
    "2025-12-01T09:30:00+23:59",
    "2025-12-01T09:30:00+24:00",
    "2025-12-01T09:30:00+05:60",
    "2025-12-01T09:30:00+05:3\u0663",
    "0001-01-01T00:00:00+00:01",
    "9999-12-31T23:59:59-00:01",
]
date_texts = st.one_of(iso_texts, near_iso_texts(), st.sampled_from(SPECIAL_TEXTS + ISO_EDGE_TEXTS))


def date_by_pattern(text: str) -> dt.date | None:
    """date_from_text as it was: the pattern, then fromisoformat."""
    if len(text) != 10 or not values._DATE_RE.fullmatch(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


@settings(max_examples=2000, deadline=None)
@given(text=date_texts)
def test_dates_and_datetimes_read_from_text_as_the_iso_patterns_say(text: str) -> None:
    moment = values.datetime_from_text(text)
    by_pattern = values._datetime_from_text_by_pattern(text)

    assert values.date_from_text(text) == date_by_pattern(text)
    assert moment == by_pattern
    assert (moment is None) or moment.tzinfo == by_pattern.tzinfo  # type: ignore[union-attr]


mixed_lists = st.lists(
    st.one_of(st.sampled_from(["vip", "VIP", "vip ", "new", "3", 3, 3.0, True, None]), json_scalars, python_values),
    max_size=5,
)
typed_scalars = st.one_of(
    st.sampled_from(SPECIAL_SCALARS),
    finite_numbers,
    st.sampled_from(["active", "US", "pro", "vip", "3", " 7 ", "2.5", "1e3", "nan", "inf", "-inf", "1_000"]),
    date_texts,
    python_values,
)
# Mostly values of the kinds the fast paths take or turn down, so that they meet often.
mixed_values = st.one_of(typed_scalars, typed_scalars, typed_scalars, mixed_lists, json_values)
FAST_PATHS = ["a", "b", "c.d", "tags", "when", "items.0"]
fast_values = {
    "=": st.one_of(equality_values, iso_texts),
    "!=": st.one_of(equality_values, iso_texts),
    "<": st.one_of(ordering_values, iso_texts),
    ">": st.one_of(ordering_values, iso_texts),
    "<=": st.one_of(ordering_values, iso_texts),
    ">=": st.one_of(ordering_values, iso_texts),
    "between": st.one_of(
        st.tuples(finite_numbers, finite_numbers).map(sorted),
        st.tuples(st.dates(), st.dates()).map(lambda pair: [day.isoformat() for day in sorted(pair)]),
        st.tuples(texts, texts).map(sorted),
        st.tuples(ordering_values, iso_texts).map(list),
    ),
    "in": st.lists(
        st.one_of(equality_values, st.sampled_from(["US", "CA", "vip", "2026-01-01"])), min_size=1, max_size=5
    ),
    "not_in": st.lists(equality_values, min_size=1, max_size=5),
    "contains": st.one_of(st.sampled_from(["vip", "3", "new"]), finite_numbers, texts.filter(lambda text: text != "")),
    "exists": st.booleans(),
}


@st.composite
def fast_conditions(draw: st.DrawFn) -> dict[str, Any]:
    operator = draw(st.sampled_from(sorted(fast_values)))
    return {"type": draw(st.sampled_from(FAST_PATHS)), "operator": operator, "value": draw(fast_values[operator])}


# Several conditions per path (a value is read and parsed once per evaluation), and some groups.
fast_definitions = st.lists(
    st.one_of(fast_conditions(), fast_conditions(), fast_conditions(), conditions), min_size=1, max_size=8
)
every_fast_path = st.fixed_dictionaries(
    {},
    optional={
        "a": mixed_values,
        "b": mixed_values,
        "c": st.one_of(st.dictionaries(st.sampled_from(["d", "e"]), mixed_values, max_size=2), mixed_values),
        "tags": mixed_lists,
        "when": date_texts,
        "items": st.lists(st.one_of(mixed_values, st.dictionaries(st.sampled_from(["0"]), mixed_values)), max_size=2),
    },
)
fast_contexts = st.one_of(
    every_fast_path,
    every_fast_path,
    every_fast_path,
    st.dictionaries(st.sampled_from([*FAST_PATHS, "c", "items"]), mixed_values, max_size=7),
    json_values,
)


def full_test_passes(condition: Any, context: Any, zone: ZoneSource) -> bool:
    """A condition by the operators' full coercing tests only (``fast.slow``), no fast path."""
    if not isinstance(condition, dict) or "type" not in condition:  # a group: the closures answer
        return compile_conditions([condition], zone.get().key).explain(context)[0].passed
    operator = get_operator(condition["operator"])
    predicate = operator.build(condition.get("value", MISSING))
    test = predicate.test if predicate.fast is None else predicate.fast.slow
    actual = make_getter(condition["type"])(as_context(context))
    if actual is MISSING and not operator.sees_missing:
        return False
    return test(actual, zone)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(definition=fast_definitions, context=fast_contexts, zone=ZONES)
def test_a_plans_generated_function_answers_as_the_full_tests(definition: list[Any], context: Any, zone: str) -> None:
    assume(validate_conditions(definition) == {})
    compiled = compile_conditions(definition, zone)
    zone_source = ZoneSource.named(zone)
    # Built-in values (date, now...) fixed once, so that every evaluation sees the same moment.
    if compiled.builtin_keys:
        context = with_builtins(context, compiled.builtin_keys, zone_source)
    expected = [full_test_passes(condition, context, zone_source) for condition in definition]
    closures = [node.check(as_context(context), zone_source) for node in map(compile_node, definition)]

    assert closures == expected
    assert compiled.matches(context) is all(expected)
    assert [result.passed for result in compiled.explain(context)] == expected
    # Every condition evaluated after all the passing ones (which read and parse the same paths first).
    passing = [condition for condition, passed in zip(definition, expected, strict=True) if passed]
    assert compile_conditions(passing, zone).matches(context) is True
    for condition, passed in zip(definition, expected, strict=True):
        if not passed:
            assert compile_conditions([*passing, condition], zone).matches(context) is False


# Where a condition's path finds the value: a key, a nested object, a literal dotted key, a list item.
PLACES = {
    "key": ("x", lambda value: {"x": value}),
    "nested": ("c.d", lambda value: {"c": {"d": value}}),
    "literal": ("c.d", lambda value: {"c.d": value, "c": {"d": "other"}}),
    "item": ("items.0", lambda value: {"items": [value]}),
}


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    condition=fast_conditions(),
    actual=st.one_of(st.sampled_from(SPECIAL_SCALARS), mixed_values),
    place=st.sampled_from(sorted(PLACES)),
    zone=ZONES,
)
def test_each_fast_path_answers_as_the_full_test(condition: dict[str, Any], actual: Any, place: str, zone: str) -> None:
    path, context_for = PLACES[place]
    condition = {**condition, "type": path}
    assume(validate_conditions([condition]) == {})
    predicate = get_operator(condition["operator"]).build(condition["value"])
    zone_source = ZoneSource.named(zone)
    expected = full_test_passes(condition, context_for(actual), zone_source)

    assert predicate.test(actual, zone_source) is expected
    assert compile_conditions([condition], zone).matches(context_for(actual)) is expected
    # Read twice: the second condition takes the value (and its date) the first one read.
    assert compile_conditions([condition, condition], zone).matches(context_for(actual)) is expected
