"""The condition operators' tests: ``build(expected) -> Predicate`` per operator.

The registry entries (``OperatorKind``: this build, the value's validation and the phrase) are in
``automations.kinds.operators``; the built-ins are listed in ``automations.builtin_kinds.operators``.
Each operator is built once per condition from the expected value (``build(expected) -> Predicate``):
the coercion is chosen there, so the returned ``test(actual, zone) -> bool`` is a specialised closure
with a fast path for the common actual type. ``test`` never raises on context data; ``reason`` explains a
failure in plain English. ``actual`` is never MISSING except for operators registered with
``sees_missing=True`` (only ``exists``): the evaluator fails a missing key before calling ``test``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from automations.choices import ConditionOperator
from automations.conditions.values import (
    MISSING,
    DateMode,
    DateTimeMode,
    Mode,
    NumberMode,
    TextMode,
    ZoneSource,
    date_from_text,
    datetime_from_text,
    is_aware,
    is_number,
    mode_for,
    number_from_text,
    show,
    to_number,
)
from automations.kinds.operators import OPERATORS as OPERATORS  # re-exported: automations.conditions
from automations.kinds.operators import SCALAR, OperatorKind, Phrase, Validate, register_operator
from automations.patterns import PatternError, compile_pattern

# The most values an "in"/"not_in" list may hold (automations.validators checks it at save time).
MAX_LIST_VALUES: Final = 1000

TestFunction = Callable[[Any, ZoneSource], bool]
ReasonFunction = Callable[[str, Any, ZoneSource], str]


class InvalidCondition(ValueError):
    """A stored condition the evaluator cannot use; it then fails with this message as its reason."""


class UnknownOperator(InvalidCondition, LookupError):
    """No operator is registered under this key."""


# The fast-path kinds: for an actual value of the kind's common type, the operator's result is
# ``compare(actual', want)``; any other present value goes to ``slow``.
NUMBER: Final = "number"  # int, or float that is finite: actual' is the value
TEXT: Final = "text"  # str: actual' is the value
DATE: Final = "date"  # str that date_from_text reads: actual' is that date
# str that datetime_from_text reads, aware exactly when want is: actual' is that datetime
DATETIME: Final = "datetime"
# list (exactly): when compare(actual, want) is true the operator passes; otherwise slow decides
LIST_HAS: Final = "list_has"

# What ``Fast.op`` may name: ``compare`` is then that operator, which the evaluator may write inline.
FAST_OPS: Final = frozenset({"==", "!=", "<", ">", "<=", ">=", "between", "in", "has"})


@dataclass(frozen=True, slots=True)
class Fast:
    """A declared fast path the evaluator may inline into the condition's closure (or plan)."""

    kind: str
    want: Any
    compare: Callable[[Any, Any], bool]
    slow: TestFunction  # the operator's answer for every other actual value (never MISSING)
    # One of FAST_OPS when compare is that operator (between: want is (low, high), low <= a <= high;
    # in: a in want; has: want in a); "" when it is only known as the function.
    op: str = ""


@dataclass(frozen=True, slots=True)
class Predicate:
    """One operator specialised for one expected value."""

    test: TestFunction
    reason: ReasonFunction
    fast: Fast | None = None


def with_fast_path(fast: Fast) -> TestFunction:
    """``fast.compare`` for the fast kind's common type, ``fast.slow`` for everything else."""
    compare, want, slow = fast.compare, fast.want, fast.slow
    if fast.kind == DATE:

        def date_test(actual: Any, zone: ZoneSource) -> bool:
            if actual.__class__ is str:
                parsed = date_from_text(actual)
                if parsed is not None:
                    return compare(parsed, want)
            return slow(actual, zone)

        return date_test

    if fast.kind == DATETIME:
        naive = not is_aware(want)

        def datetime_test(actual: Any, zone: ZoneSource) -> bool:
            if actual.__class__ is str:
                moment = datetime_from_text(actual)
                # fromisoformat gives a fixed offset or None: tzinfo alone says aware.
                if moment is not None and (moment.tzinfo is None) is naive:
                    return compare(moment, want)
            return slow(actual, zone)

        return datetime_test

    if fast.kind == LIST_HAS:

        def list_test(actual: Any, zone: ZoneSource) -> bool:
            return (actual.__class__ is list and compare(actual, want)) or slow(actual, zone)

        return list_test

    if fast.kind == NUMBER:

        def number_test(actual: Any, zone: ZoneSource) -> bool:
            cls = actual.__class__
            # actual - actual == 0 is false for nan and inf, which take the slow path and fail.
            if cls is int or (cls is float and actual - actual == 0):
                return compare(actual, want)
            return slow(actual, zone)

        return number_test

    def text_test(actual: Any, zone: ZoneSource) -> bool:
        if actual.__class__ is str:
            return compare(actual, want)
        return slow(actual, zone)

    return text_test


def fast_for(mode: Mode, compare: Callable[[Any, Any], bool], slow: TestFunction, op: str = "") -> Fast | None:
    """The fast path of a comparison with ``mode``'s expected value (``op`` names ``compare``, if known)."""
    kind = _FAST_KINDS.get(type(mode))
    return None if kind is None else Fast(kind, mode.expected, compare, slow, op)


_FAST_KINDS: Final[dict[type[Mode], str]] = {NumberMode: NUMBER, TextMode: TEXT, DateMode: DATE, DateTimeMode: DATETIME}


Operator = OperatorKind  # the registry entry (automations.kinds.operators)


def register(
    key: str,
    *,
    sees_missing: bool = False,
    value_required: bool = True,
    validate: Validate | None = None,
    phrase: Phrase | None = None,
    value_shape: str = SCALAR,
) -> Callable[[Callable[[Any], Predicate]], Callable[[Any], Predicate]]:
    """Register ``build(expected) -> Predicate`` as the operator ``key`` (a later registration replaces it).

    A shorthand for ``register_operator(OperatorKind(...))``; the label is the key.
    """

    def decorator(build: Callable[[Any], Predicate]) -> Callable[[Any], Predicate]:
        name = str(key)
        register_operator(
            OperatorKind(
                name,
                name,
                build,
                validate=validate,
                phrase=phrase,
                value_shape=value_shape,
                sees_missing=sees_missing,
                value_required=value_required,
            )
        )
        return build

    return decorator


def get_operator(key: object) -> OperatorKind:
    """The operator registered as ``key``; raises UnknownOperator listing the known keys."""
    entry = OPERATORS.get(key) if isinstance(key, str) else None
    if entry is None:
        raise UnknownOperator(f"unknown operator {show(key)}; known operators: {', '.join(OPERATORS)}")
    return entry


# --- equality and ordering ----------------------------------------------------------------------


def _specialise(mode: Mode, compare: Callable[[Any, Any], bool], slow: TestFunction, op: str) -> Predicate:
    fast = fast_for(mode, compare, slow, op)
    test = slow if fast is None else with_fast_path(fast)
    return Predicate(test, _no_reason, fast)


def _no_reason(label: str, actual: Any, zone: ZoneSource) -> str:
    return f"{label} failed"


def equality(expected: object) -> tuple[Mode, Predicate]:
    """``actual = expected`` with the coercions of ``mode_for(expected)``, fast path first."""
    mode = mode_for(expected)
    pair = mode.pair
    want = mode.expected

    def slow_equals(actual: Any, zone: ZoneSource) -> bool:
        found = pair(actual, zone)
        return found is not None and found[0] == found[1]

    def slow_equals_number(actual: Any, zone: ZoneSource) -> bool:
        number = to_number(actual)
        return number is not None and number == want

    slow = slow_equals_number if isinstance(mode, NumberMode) else slow_equals
    return mode, _specialise(mode, operator.eq, slow, "==")


def build_equals(expected: Any) -> Predicate:
    _, equals = equality(expected)

    def reason(label: str, actual: Any, zone: ZoneSource) -> str:
        return f"{label} is {show(actual)}, not {show(expected)}"

    return Predicate(equals.test, reason, equals.fast)


def build_not_equals(expected: Any) -> Predicate:
    mode, equals = equality(expected)
    equals_test = equals.test

    def slow_not_equals(actual: Any, zone: ZoneSource) -> bool:
        return not equals_test(actual, zone)

    def reason(label: str, actual: Any, zone: ZoneSource) -> str:
        return f"{label} is {show(actual)}, which it must not be"

    not_equals = _specialise(mode, operator.ne, slow_not_equals, "!=")
    return Predicate(not_equals.test, reason, not_equals.fast)


_ORDER_WORDS: Final = {
    ConditionOperator.LT.value: "less than",
    ConditionOperator.GT.value: "greater than",
    ConditionOperator.LTE.value: "at most",
    ConditionOperator.GTE.value: "at least",
}
_COMPARE: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


def _never(actual: Any, zone: ZoneSource) -> bool:
    return False


def ordering(key: str, expected: object) -> tuple[Mode, Predicate]:
    """``actual <key> expected``; false for every ordering operator when the two are incomparable."""
    mode = mode_for(expected)
    if not mode.orderable:
        return mode, Predicate(_never, _no_reason)
    compare = _COMPARE[key]
    pair = mode.pair
    want = mode.expected

    def slow_compare(actual: Any, zone: ZoneSource) -> bool:
        found = pair(actual, zone)
        return found is not None and compare(found[0], found[1])

    def slow_compare_number(actual: Any, zone: ZoneSource) -> bool:
        number = to_number(actual)
        return number is not None and compare(number, want)

    slow = slow_compare_number if isinstance(mode, NumberMode) else slow_compare
    return mode, _specialise(mode, compare, slow, key)


def _build_ordering(key: str) -> Callable[[Any], Predicate]:
    words = _ORDER_WORDS[key]

    def build(expected: Any) -> Predicate:
        mode, compared = ordering(key, expected)

        def reason(label: str, actual: Any, zone: ZoneSource) -> str:
            if not mode.orderable or mode.pair(actual, zone) is None:
                return f"{label}: {mode.why_not(actual)}"
            return f"{label} is {show(actual)}, not {words} {show(expected)}"

        return Predicate(compared.test, reason, compared.fast)

    build.__name__ = f"build_{key}"
    return build


ORDERING_BUILDS: Final = {key: _build_ordering(key) for key in _ORDER_WORDS}


def build_between(expected: Any) -> Predicate:
    if not isinstance(expected, list | tuple) or len(expected) != 2:
        raise InvalidCondition("between needs a list of two values [lowest, highest]")
    low, high = expected
    low_mode, low_test = ordering(">=", low)
    high_mode, high_test = ordering("<=", high)
    at_least_low, at_most_high = low_test.test, high_test.test

    def between(actual: Any, zone: ZoneSource) -> bool:
        return at_least_low(actual, zone) and at_most_high(actual, zone)

    def reason(label: str, actual: Any, zone: ZoneSource) -> str:
        for mode in (low_mode, high_mode):
            if not mode.orderable or mode.pair(actual, zone) is None:
                return f"{label}: {mode.why_not(actual)}"
        return f"{label} is {show(actual)}, not between {show(low)} and {show(high)}"

    fast = None
    low_fast, high_fast = low_test.fast, high_test.fast
    # Both ends of one kind (not datetimes: awareness is checked against one want): the fast kind's
    # values compare as low <= actual <= high, which is what the two ordering tests answer for them.
    if low_fast is not None and high_fast is not None and low_fast.kind == high_fast.kind != DATETIME:
        fast = Fast(low_fast.kind, (low_fast.want, high_fast.want), _within, between, "between")
        return Predicate(with_fast_path(fast), reason, fast)
    return Predicate(between, reason)


def _within(actual: Any, bounds: tuple[Any, Any]) -> bool:
    return bool(bounds[0] <= actual <= bounds[1])


# --- membership ----------------------------------------------------------------------------------


class _OneOf:
    """``actual`` equals (by ``=``) one of a list of scalars, with hashed look-ups for the usual cases."""

    __slots__ = ("date_tests", "has_false", "has_null", "has_true", "numbers", "texts")

    def __init__(self, values: list[Any]) -> None:
        self.numbers: set[Any] = set()
        self.texts: set[str] = set()
        self.date_tests: list[TestFunction] = []
        self.has_true = self.has_false = self.has_null = False
        for value in values:
            if value is None:
                self.has_null = True
            elif value is True:
                self.has_true = True
            elif value is False:
                self.has_false = True
            elif is_number(value) or (isinstance(value, str) and number_from_text(value) is not None):
                number = to_number(value)
                if number is not None:
                    self.numbers.add(number)
            elif isinstance(value, str):
                self.texts.add(value)
                if date_from_text(value) is not None or datetime_from_text(value) is not None:
                    self.date_tests.append(equality(value)[1].test)
            else:
                self.date_tests.append(equality(value)[1].test)

    def __call__(self, actual: Any, zone: ZoneSource) -> bool:
        if isinstance(actual, str):
            if actual in self.texts:
                return True
        elif actual is None:
            return self.has_null
        elif isinstance(actual, bool):
            return self.has_true if actual else self.has_false
        if self.numbers:
            number = to_number(actual)
            if number is not None and number in self.numbers:
                return True
        return any(test(actual, zone) for test in self.date_tests)


def _values_list(expected: Any, key: str) -> list[Any]:
    if not isinstance(expected, list | tuple) or not expected:
        raise InvalidCondition(f"{key} needs a non-empty list of values")
    if len(expected) > MAX_LIST_VALUES:
        raise InvalidCondition(f"{key} takes at most {MAX_LIST_VALUES} values")
    return list(expected)


def _show_values(values: list[Any]) -> str:
    return ", ".join(show(value, 40) for value in values[:5]) + (", ..." if len(values) > 5 else "")


def _is_in(actual: Any, values: frozenset[str]) -> bool:
    return actual in values


def build_in(expected: Any) -> Predicate:
    values = _values_list(expected, "in")
    one_of = _OneOf(values)

    def reason(label: str, actual: Any, zone: ZoneSource) -> str:
        return f"{label} is {show(actual)}, not one of {_show_values(values)}"

    if one_of.numbers or one_of.date_tests:
        return Predicate(one_of, reason)
    # Only texts (and true, false, null) to match: a str is in the list exactly when it is one of them.
    fast = Fast(TEXT, frozenset(one_of.texts), _is_in, one_of, "in")
    return Predicate(with_fast_path(fast), reason, fast)


def build_not_in(expected: Any) -> Predicate:
    values = _values_list(expected, "not_in")
    one_of = _OneOf(values)

    def not_in(actual: Any, zone: ZoneSource) -> bool:
        return not one_of(actual, zone)

    def reason(label: str, actual: Any, zone: ZoneSource) -> str:
        return f"{label} is {show(actual)}, one of the excluded values {_show_values(values)}"

    return Predicate(not_in, reason)


def _containment(expected: Any) -> Callable[[Any, ZoneSource], bool | None]:
    """True/False for text, lists and objects; None when ``actual`` is none of those."""
    try:
        needle = str(expected)
    except ValueError:  # an int beyond Python's 4300-digit text conversion limit
        raise InvalidCondition(f"{show(expected)} is too large to look for as text") from None
    equals = equality(expected)[1].test

    def contains(actual: Any, zone: ZoneSource) -> bool | None:
        if isinstance(actual, str):
            return needle in actual
        if isinstance(actual, list | tuple | set | frozenset):
            return any(equals(item, zone) for item in actual)
        if isinstance(actual, Mapping):
            return needle in actual
        return None

    return contains


def _not_a_container(label: str, actual: Any) -> str:
    return f"{label}: {show(actual)} is not text, a list or an object"


def _has(actual: list[Any], needle: str) -> bool:
    return needle in actual


def build_contains(expected: Any) -> Predicate:
    contains = _containment(expected)

    def test(actual: Any, zone: ZoneSource) -> bool:
        return contains(actual, zone) is True

    def reason(label: str, actual: Any, zone: ZoneSource) -> str:
        if contains(actual, zone) is None:
            return _not_a_container(label, actual)
        return f"{label} is {show(actual)}, which does not contain {show(expected)}"

    if not isinstance(mode_for(expected), TextMode):
        return Predicate(test, reason)
    # Plain text to look for (not a number, date or datetime): a list holding that str contains it,
    # as the item-by-item equality would say (a JSON value, date or datetime equals a str only when it
    # is that str); when the list does not hold it, the item-by-item test decides.
    fast = Fast(LIST_HAS, str(expected), _has, test, "has")
    return Predicate(with_fast_path(fast), reason, fast)


def build_not_contains(expected: Any) -> Predicate:
    contains = _containment(expected)

    def test(actual: Any, zone: ZoneSource) -> bool:
        return contains(actual, zone) is False

    def reason(label: str, actual: Any, zone: ZoneSource) -> str:
        if contains(actual, zone) is None:
            return _not_a_container(label, actual)
        return f"{label} is {show(actual)}, which contains {show(expected)}"

    return Predicate(test, reason)


# --- presence and patterns -----------------------------------------------------------------------


def build_exists(expected: Any) -> Predicate:
    if expected is MISSING:
        expected = True
    if not isinstance(expected, bool):
        raise InvalidCondition("exists takes true (the value is present) or false (it is missing)")
    if expected:

        def present(actual: Any, zone: ZoneSource) -> bool:
            return actual is not MISSING and actual is not None

        def reason_present(label: str, actual: Any, zone: ZoneSource) -> str:
            return f"{label} is missing from the context" if actual is MISSING else f"{label} is null"

        return Predicate(present, reason_present)

    def absent(actual: Any, zone: ZoneSource) -> bool:
        return actual is MISSING or actual is None

    def reason_absent(label: str, actual: Any, zone: ZoneSource) -> str:
        return f"{label} is present ({show(actual)})"

    return Predicate(absent, reason_absent)


def build_matches(expected: Any) -> Predicate:
    """RE2 (linear time) on the text's first MAX_MATCHED_TEXT characters; see automations.patterns."""
    if not isinstance(expected, str) or not expected:
        raise InvalidCondition("matches needs a regular expression")
    try:
        search = compile_pattern(expected).search
    except PatternError as error:
        # A stored pattern from before RE2 (a backreference, a lookaround) fails here, not at run time.
        raise InvalidCondition(f"the pattern {error}") from None

    def matches(actual: Any, zone: ZoneSource) -> bool:
        return isinstance(actual, str) and search(actual)

    def reason(label: str, actual: Any, zone: ZoneSource) -> str:
        if not isinstance(actual, str):
            return f"{label}: {show(actual)} is not text"
        return f"{label} is {show(actual)}, which does not match {show(expected)}"

    return Predicate(matches, reason)
