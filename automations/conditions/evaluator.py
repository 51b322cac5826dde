"""Compile a rule's conditions into closures once, then evaluate them against many contexts.

Every condition becomes a node with two closures: ``check(context, zone) -> bool`` for the fast
boolean path and ``explain(context, zone) -> ConditionResult`` for the detailed one. A definition
the evaluator cannot use (unknown operator, wrong value shape; normally refused at save time by
``automations.validators.validate_conditions``) becomes a node that always fails with the problem
as its reason, so stored JSON can never make evaluation raise or make a rule fire by mistake.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import functools
import logging
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from automations.choices import ConditionGroup
from automations.conditions.context import BUILTIN_KEYS, Getter, as_context, make_getter, with_builtins
from automations.conditions.operators import (
    DATE,
    DATETIME,
    LIST_HAS,
    NUMBER,
    TEXT,
    Fast,
    InvalidCondition,
    TestFunction,
    get_operator,
    with_fast_path,
)
from automations.conditions.values import (
    MISSING,
    USUAL_DATETIME_LAYOUTS,
    ZoneSource,
    is_aware,
    json_safe,
    show,
)
from governance.common.words import plural

logger = logging.getLogger(__name__)

Check = Callable[[Any, ZoneSource], bool]

# Groups nest at most 5 deep when validated; this only bounds recursion on hand-written JSON.
MAX_COMPILE_DEPTH: Final = 32


@dataclass(slots=True)
class ConditionResult:
    """How one condition (or group) fared against one context."""

    condition: Any
    passed: bool
    actual_value: Any
    expected_value: Any
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe: dates and datetimes become ISO strings."""
        return {
            "condition": json_safe(self.condition),
            "passed": self.passed,
            "actual_value": json_safe(self.actual_value),
            "expected_value": json_safe(self.expected_value),
            "reason": self.reason,
        }


Explain = Callable[[Any, ZoneSource], ConditionResult]


@dataclass(frozen=True, slots=True)
class Node:
    """One compiled condition or group."""

    condition: Any
    check: Check
    explain: Explain
    builtin_keys: frozenset[str]
    problem: str | None = None
    # A leaf whose fast path a plan may write inline: (path, fast); None for groups and the rest.
    inline: tuple[str, Fast] | None = None


def describe(condition: Any) -> str:
    """A short text for a condition: ``store_status = 'active'``, ``any of (2 conditions)``."""
    if not isinstance(condition, Mapping):
        return show(condition)
    for key in ConditionGroup.values:
        if key in condition and len(condition) == 1:
            inner = condition[key]
            if key == ConditionGroup.NOT:
                return f"not ({describe(inner)})"
            count = len(inner) if isinstance(inner, list) else 0
            return f"{key} of ({plural(count, 'condition')})"
    value = condition.get("value", MISSING)
    text = f"{condition.get('type')} {condition.get('operator')}"
    return text if value is MISSING else f"{text} {show(value, 40)}"


# --- leaves --------------------------------------------------------------------------------------


def _invalid(condition: Any, problem: str) -> Node:
    expected = condition.get("value") if isinstance(condition, Mapping) else None
    reason = f"invalid condition: {problem}"

    def check(context: Any, zone: ZoneSource) -> bool:
        return False

    def explain(context: Any, zone: ZoneSource) -> ConditionResult:
        return ConditionResult(condition, False, None, expected, reason)

    return Node(condition, check, explain, frozenset(), problem)


def _leaf(condition: Mapping[str, Any]) -> Node:
    path = condition.get("type")
    if not isinstance(path, str) or not path:
        return _invalid(condition, "type must name a context value, such as store_status")
    try:
        operator = get_operator(condition.get("operator"))
        expected = condition.get("value", MISSING)
        if expected is MISSING and operator.value_required:
            raise InvalidCondition(f"the {operator.key} operator needs a value")
        built = operator.build(expected)
    except InvalidCondition as error:
        return _invalid(condition, str(error))

    test, reason = built.test, built.reason
    get = make_getter(path)
    sees_missing = operator.sees_missing
    shown_expected = True if expected is MISSING else expected
    missing_reason = f"{path} is missing from the context"

    check = None
    if built.fast is not None and not sees_missing:
        check = _fused_check(path, built.fast)
    if check is None:
        check = _check(path, get, test, sees_missing)

    def explain(context: Any, zone: ZoneSource) -> ConditionResult:
        actual = get(context)
        if actual is MISSING:
            if not sees_missing:
                return ConditionResult(condition, False, None, shown_expected, missing_reason)
            if test(actual, zone):
                return ConditionResult(condition, True, None, shown_expected, None)
            return ConditionResult(condition, False, None, shown_expected, reason(path, actual, zone))
        if test(actual, zone):
            return ConditionResult(condition, True, actual, shown_expected, None)
        return ConditionResult(condition, False, actual, shown_expected, reason(path, actual, zone))

    builtin_keys = frozenset({path}) & BUILTIN_KEYS
    inline = (path, built.fast) if built.fast is not None and not sees_missing else None
    return Node(condition, check, explain, builtin_keys, inline=inline)


def _check(path: str, get: Getter, test: TestFunction, sees_missing: bool) -> Check:
    """Read the value, fail a missing one (unless the operator wants to see it), then test it."""
    if sees_missing:

        def check_any(context: Any, zone: ZoneSource) -> bool:
            return test(get(context), zone)

        return check_any

    if "." not in path:

        def check_key(context: Any, zone: ZoneSource) -> bool:
            actual = context.get(path, MISSING)
            return actual is not MISSING and test(actual, zone)

        return check_key

    def check_path(context: Any, zone: ZoneSource) -> bool:
        actual = get(context)
        return actual is not MISSING and test(actual, zone)

    return check_path


def _fused_check(path: str, fast: Fast) -> Check | None:
    """The hot path as one closure: read a plain key (or ``a.b`` from nested objects), then compare.

    TRICKY: this inlines what ``make_getter`` and ``with_fast_path`` do, to save two Python calls
    per condition (issue 2 item 12: a million evaluations a second). ``fast.slow`` answers for every
    present value the inline path does not cover. None for paths it does not handle.
    """
    if fast.kind not in (NUMBER, TEXT):
        return None
    compare, want, test = fast.compare, fast.want, fast.slow
    segments = path.split(".")
    if len(segments) == 1:
        if fast.kind == NUMBER:

            def number_at_key(context: Any, zone: ZoneSource) -> bool:
                actual = context.get(path, MISSING)
                cls = actual.__class__
                if cls is int or (cls is float and actual - actual == 0):
                    return compare(actual, want)
                return actual is not MISSING and test(actual, zone)

            return number_at_key

        def text_at_key(context: Any, zone: ZoneSource) -> bool:
            actual = context.get(path, MISSING)
            if actual.__class__ is str:
                return compare(actual, want)
            return actual is not MISSING and test(actual, zone)

        return text_at_key

    if len(segments) != 2 or segments[1].isdigit():
        return None
    first, second = segments
    get = make_getter(path)

    if fast.kind == NUMBER:

        def number_at_path(context: Any, zone: ZoneSource) -> bool:
            actual = context.get(path, MISSING)
            if actual is MISSING:
                actual = context.get(first, MISSING)
                actual = actual.get(second, MISSING) if actual.__class__ is dict else get(context)
            cls = actual.__class__
            if cls is int or (cls is float and actual - actual == 0):
                return compare(actual, want)
            return actual is not MISSING and test(actual, zone)

        return number_at_path

    def text_at_path(context: Any, zone: ZoneSource) -> bool:
        actual = context.get(path, MISSING)
        if actual is MISSING:
            actual = context.get(first, MISSING)
            actual = actual.get(second, MISSING) if actual.__class__ is dict else get(context)
        if actual.__class__ is str:
            return compare(actual, want)
        return actual is not MISSING and test(actual, zone)

    return text_at_path


# --- groups --------------------------------------------------------------------------------------


def all_of(checks: list[Check]) -> Check:
    """A check passing when every one of ``checks`` does, stopping at the first failure; [] passes."""
    if not checks:

        def nothing(context: Any, zone: ZoneSource) -> bool:
            return True

        return nothing
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks

        def both(context: Any, zone: ZoneSource) -> bool:
            return first(context, zone) and second(context, zone)

        return both
    if len(checks) == 3:
        first, second, third = checks

        def all_three(context: Any, zone: ZoneSource) -> bool:
            return first(context, zone) and second(context, zone) and third(context, zone)

        return all_three
    frozen = tuple(checks)

    def every(context: Any, zone: ZoneSource) -> bool:
        # A plain loop: all() over a generator costs a generator frame per call.
        for check in frozen:  # noqa: SIM110
            if not check(context, zone):
                return False
        return True

    return every


def any_of(checks: list[Check]) -> Check:
    """A check passing when one of ``checks`` does, stopping at the first success."""
    frozen = tuple(checks)

    def some(context: Any, zone: ZoneSource) -> bool:
        for check in frozen:  # noqa: SIM110
            if check(context, zone):
                return True
        return False

    return some


def _failures(results: list[ConditionResult]) -> str:
    return "; ".join(f"{describe(result.condition)}: {result.reason}" for result in results if not result.passed)


def _group(condition: Mapping[str, Any], depth: int) -> Node:
    if len(condition) != 1:
        return _invalid(condition, f"a group is an object with exactly one key: {', '.join(ConditionGroup.values)}")
    if depth >= MAX_COMPILE_DEPTH:
        return _invalid(condition, f"groups nest more than {MAX_COMPILE_DEPTH} deep")
    ((key, inner),) = condition.items()

    if key == ConditionGroup.NOT:
        member = compile_node(inner, depth + 1)
        if member.problem:
            return _invalid(condition, member.problem)
        member_check, member_explain = member.check, member.explain

        def check_not(context: Any, zone: ZoneSource) -> bool:
            return not member_check(context, zone)

        def explain_not(context: Any, zone: ZoneSource) -> ConditionResult:
            result = member_explain(context, zone)
            if result.passed:
                return ConditionResult(condition, False, None, None, f"{describe(inner)} holds, so 'not' fails")
            return ConditionResult(condition, True, None, None, None)

        return Node(condition, check_not, explain_not, member.builtin_keys)

    if not isinstance(inner, list) or not inner:
        return _invalid(condition, f"{key} must be a non-empty list of conditions")
    members = [compile_node(item, depth + 1) for item in inner]
    for member in members:
        if member.problem:
            return _invalid(condition, member.problem)
    explainers = tuple(member.explain for member in members)
    builtin_keys = frozenset().union(*(member.builtin_keys for member in members))
    size = len(members)

    if key == ConditionGroup.ALL:

        def explain_all(context: Any, zone: ZoneSource) -> ConditionResult:
            results = [explain(context, zone) for explain in explainers]
            failed = sum(1 for result in results if not result.passed)
            if not failed:
                return ConditionResult(condition, True, None, None, None)
            return ConditionResult(condition, False, None, None, f"{failed} of {size} failed: {_failures(results)}")

        return Node(condition, all_of([member.check for member in members]), explain_all, builtin_keys)

    def explain_any(context: Any, zone: ZoneSource) -> ConditionResult:
        results = [explain(context, zone) for explain in explainers]
        if any(result.passed for result in results):
            return ConditionResult(condition, True, None, None, None)
        return ConditionResult(condition, False, None, None, f"none of {size} passed: {_failures(results)}")

    return Node(condition, any_of([member.check for member in members]), explain_any, builtin_keys)


def compile_node(condition: Any, depth: int = 0) -> Node:
    """Compile one condition or group (never raises; an unusable one always fails with a reason)."""
    if not isinstance(condition, Mapping):
        return _invalid(condition, "a condition is a JSON object with type, operator and value")
    if any(key in condition for key in ConditionGroup.values):
        return _group(condition, depth)
    return _leaf(condition)


# --- one function per plan ----------------------------------------------------------------------

# TRICKY: a plan's top-level conditions become the source of one function (issue 16: ten conditions
# at the speed of a hand-written loop; a closure call per condition cost more than the comparisons).
# Its text is made only of the fixed fragments below and generated names (p0, w0, v0...): every value
# from a definition (paths, expected values, the slow tests) is bound to a name in the function's
# namespace, never written into the source, so the same shapes share one compiled code object.
_EXPRESSIONS: Final = {
    "==": "{x} == {w}",
    "!=": "{x} != {w}",
    "<": "{x} < {w}",
    ">": "{x} > {w}",
    "<=": "{x} <= {w}",
    ">=": "{x} >= {w}",
    "between": "{w}_low <= {x} <= {w}_high",
    "in": "{x} in {w}",
    "has": "{w} in {x}",
}
# A float's comparison with a finite want (or two) that nan, inf and -inf fail: those need no test of
# their own. == and != and between need none; for the others -inf or inf would pass the plain one.
_FLOAT_EXPRESSIONS: Final = {
    "==": "{x} == {w}",
    "!=": "{x} != {w}",
    "<": "NEG_INF < {x} < {w}",
    "<=": "NEG_INF < {x} <= {w}",
    ">": "{w} < {x} < INF",
    ">=": "{w} <= {x} < INF",
    "between": "{w}_low <= {x} <= {w}_high",
}
_INLINE_KINDS: Final = frozenset({NUMBER, TEXT, DATE, DATETIME, LIST_HAS})
# From this many top-level keys a plan reads them together (see _PlanSource.read_keys).
READ_TOGETHER_FROM: Final = 4
# A saved rule has at most 50 conditions (validators.MAX_CONDITIONS); a longer hand-written list
# keeps the closures rather than compiling a function of thousands of lines.
MAX_GENERATED_CONDITIONS: Final = 200


@functools.lru_cache(maxsize=512)
def _code(source: str) -> Any:
    return compile(source, "<compiled conditions>", "exec")


_CHRONOLOGICAL: Final = frozenset({"==", "!=", "<", ">", "<=", ">="})
# The separators at 7, 10, 13 and 16 of the usual layouts (``USUAL_DATETIME_LAYOUTS``). With them,
# fromisoformat reads a text's first 19 characters only as YYYY-MM-DD?HH:MM:SS in ASCII digits (a
# dash at 7 rules out week dates and basic dates, so the one at 4 is there too); the rest of the
# text is one of the layouts' tails exactly when WantAtOffset keeps it as a key.
_CLOCK_SEPARATORS: Final = frozenset(layout[1:5] for layout in USUAL_DATETIME_LAYOUTS)


class WantAtOffset(dict[str, dt.datetime | None]):
    """A datetime want as a naive wall-clock time at each UTC offset, filled as offsets are met.

    ``at_offset[tail]``, for the text after an ISO date and time's seconds ("", "Z", "+02:00"): the
    naive datetime that a text's own wall-clock time compares with as its instant compares with the
    want (for a naive want, the want itself at ""). None when that text's awareness differs from the
    want's, the want at that offset is past the calendar's ends, or the tail is not one of the usual
    layouts' (the full test then answers). Only "", "Z" and the ±HH:MM offsets fromisoformat reads
    are kept: at most 2,882 entries.
    """

    __slots__ = ("want",)

    def __init__(self, want: dt.datetime) -> None:
        super().__init__()
        self.want = want

    def __missing__(self, tail: str) -> dt.datetime | None:
        if tail not in ("", "Z") and not (len(tail) == 6 and tail[0] in "+-" and tail[3] == ":"):
            return None
        try:
            offset = dt.datetime.fromisoformat(f"2000-01-01T00:00:00{tail}").utcoffset()
        except ValueError:
            return None
        want, bound = self.want, None
        if not is_aware(want):
            bound = want if offset is None else None
        elif offset is not None:
            # The offsets' difference first: no step passes the calendar's ends unless the bound does.
            with contextlib.suppress(OverflowError):
                bound = want.replace(tzinfo=None) + (offset - want.utcoffset())  # type: ignore[operator]
        self[tail] = bound
        return bound


class _PlanSource:
    """The lines and namespace of one plan's function, built condition by condition."""

    def __init__(self) -> None:
        # Every plan reads ``context.get`` first (a context that is not a mapping raises AttributeError
        # there, which ``matches`` handles), except one reading its keys together: it does in its branches.
        self.lines = ["get = context.get"]
        self.read_together = False
        self.namespace: dict[str, Any] = {
            "M": MISSING,
            "Mapping": Mapping,
            "as_context": as_context,
            "DATE_ISO": dt.date.fromisoformat,
            "DATETIME_ISO": dt.datetime.fromisoformat,
            "CLOCK_SEPARATORS": _CLOCK_SEPARATORS,
            "INF": float("inf"),
            "NEG_INF": float("-inf"),
            # Module globals are read faster than builtins.
            "int": int,
            "float": float,
            "str": str,
            "list": list,
            "dict": dict,
            "len": len,
            "ValueError": ValueError,
            "isinstance": isinstance,
            "AttributeError": AttributeError,
        }
        self.values: dict[str, str] = {}  # path -> the local holding its value
        self.parsed: dict[tuple[str, str], str] = {}  # (path, DATE) -> the local holding it parsed
        self.clocks: dict[str, tuple[str, str]] = {}  # path -> the locals of wall_clock

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def call(self, index: int, check: Check) -> None:
        self.namespace[f"k{index}"] = check
        self.add(f"if not k{index}(context, zone):", "    return False")

    def read_keys(self, keys: list[str]) -> None:
        """Read these top-level keys first, together, into locals that ``value`` then uses.

        From a plain dict holding them all, one ``itemgetter`` call: a ``get`` per key cost more
        than the comparison that follows it. From anything else (a missing key, a dict subclass whose
        ``__missing__`` must not run, another mapping), one ``get`` each, as ``value`` would. Fewer
        than READ_TOGETHER_FROM keys are left to ``value``: read one by one as the conditions need
        them, they cost no more, and a list failing at its first condition reads only one.
        """
        keys = list(dict.fromkeys(keys))
        if len(keys) < READ_TOGETHER_FROM:
            return
        names = [f"r{position}" for position in range(len(keys))]
        self.values.update(zip(keys, names, strict=True))
        for position, key in enumerate(keys):
            self.namespace[f"key{position}"] = key
        self.namespace["read_keys"] = operator.itemgetter(*keys)
        targets = ", ".join(names)
        by_get = ", ".join(f"get(key{position}, M)" for position in range(len(keys)))
        self.lines.remove("get = context.get")
        self.read_together = True
        self.add(
            "if context.__class__ is dict:",
            "    try:",
            f"        {targets} = read_keys(context)",
            "    except KeyError:",
            "        get = context.get",
            f"        {targets} = {by_get}",
            "else:",
            "    get = context.get",
            f"    {targets} = {by_get}",
        )

    def value(self, index: int, path: str) -> str:
        """The local holding ``path``'s value (MISSING when absent), read once per evaluation."""
        name = self.values.get(path)
        if name is not None:
            return name
        name = self.values[path] = f"v{index}"
        self.namespace[f"p{index}"] = path
        segments = path.split(".")
        if len(segments) == 1:
            self.add(f"{name} = get(p{index}, M)")
            return name
        self.namespace[f"g{index}"] = make_getter(path)
        if len(segments) == 2 and not segments[1].isdigit():
            # As make_getter's pair reader, inline: the literal dotted key, then one level down.
            self.namespace[f"f{index}"], self.namespace[f"s{index}"] = segments
            first = self.values.get(segments[0])
            if first is not None and self.read_together:
                # TRICKY: ``in`` and a subscript, not two ``get`` calls (issue 16); the context is a mapping
                # here (read_keys' branches called its ``get``).
                self.add(
                    f"if p{index} in context:",
                    f"    {name} = context[p{index}]",
                    f"elif {first}.__class__ is dict:",
                    f"    {name} = {first}[s{index}] if s{index} in {first} else M",
                    "else:",
                    f"    {name} = g{index}(context)",
                )
            elif first is None:
                first = name
                self.add(f"{name} = get(p{index}, M)", f"if {name} is M:", f"    {name} = get(f{index}, M)")
            else:  # the first segment was read with the other keys
                self.add(f"{name} = get(p{index}, M)", f"if {name} is M:")
            self.add(f"    {name} = {first}.get(s{index}, M) if {first}.__class__ is dict else g{index}(context)")
        else:
            self.add(f"{name} = g{index}(context)")
        return name

    def date(self, index: int, path: str, value: str) -> str:
        """The local holding ``value`` read as a date (None if it is not such a str), once per path."""
        name = self.parsed.get((path, DATE))
        if name is not None:
            return name
        name = self.parsed[(path, DATE)] = f"date{index}"
        # date_from_text, inline.
        self.add(
            f"{name} = None",
            f'if {value}.__class__ is str and len({value}) == 10 and {value}[4] == "-" and {value}[7] == "-":',
            "    try:",
            f"        {name} = DATE_ISO({value})",
            "    except ValueError:",
            "        pass",
        )
        return name

    def wall_clock(self, index: int, path: str, value: str) -> tuple[str, str]:
        """Locals holding ``value``'s date and time as written and the text after it, once per path.

        For a str with the usual layouts' separators at 7, 10, 13 and 16: its first 19 characters read
        as a naive datetime (None if they are not a date and time) and the rest (a usual layout's
        tail, "", "Z" or an offset such as "+02:00", when WantAtOffset keeps it); the naive one is
        None for every other value.
        """
        names = self.clocks.get(path)
        if names is not None:
            return names
        clock, tail = self.clocks[path] = (f"clock{index}", f"tail{index}")
        self.add(
            f"{clock} = None",
            f"if {value}.__class__ is str and {value}[7:17:3] in CLOCK_SEPARATORS:",
            f"    {tail} = {value}[19:]",
            "    try:",
            f"        {clock} = DATETIME_ISO({value}[:19])",
            "    except ValueError:",
            "        pass",
        )
        return clock, tail

    def leaf(self, index: int, path: str, fast: Fast) -> None:
        ns = self.namespace
        want, slow = f"w{index}", f"slow{index}"
        ns[want], ns[slow] = fast.want, fast.slow
        template = _EXPRESSIONS.get(fast.op)
        if fast.op == "between":
            ns[f"{want}_low"], ns[f"{want}_high"] = fast.want
        if template is None:
            ns[f"c{index}"] = fast.compare
            template = f"c{index}({{x}}, {{w}})"
        x = self.value(index, path)
        slow_fails = f"{x} is M or not {slow}({x}, zone)"
        if fast.kind == NUMBER and fast.op in _FLOAT_EXPRESSIONS:
            # An int is finite; a float's comparison is written so that nan and the infinities fail
            # it, as the slow test fails them (the want is finite: mode_for).
            self.add(
                f"c = {x}.__class__",
                "if c is int:",
                f"    if not ({template.format(x=x, w=want)}):",
                "        return False",
                "elif c is float:",
                f"    if not ({_FLOAT_EXPRESSIONS[fast.op].format(x=x, w=want)}):",
                "        return False",
            )
        elif fast.kind == NUMBER:
            self.add(
                f"c = {x}.__class__",
                f"if c is int or (c is float and {x} - {x} == 0):",
                f"    if not ({template.format(x=x, w=want)}):",
                "        return False",
            )
        elif fast.kind == TEXT:
            self.add(
                f"if {x}.__class__ is str:", f"    if not ({template.format(x=x, w=want)}):", "        return False"
            )
        elif fast.kind == LIST_HAS:
            self.add(f"if not ({x}.__class__ is list and {template.format(x=x, w=want)}):")
            self.add(f"    if {slow_fails}:", "        return False")
            return
        elif fast.kind == DATE:
            parsed = self.date(index, path, x)
            condition = template.format(x=parsed, w=want)
            self.add(f"if {parsed} is not None:", f"    if not ({condition}):", "        return False")
        elif fast.op in _CHRONOLOGICAL:
            # TRICKY: a datetime is compared by its wall-clock time with the want at the text's own
            # offset (found once per rule version and offset): reading the offset into the datetime
            # and moving it to UTC cost more than the other nine conditions of the bench's rule.
            clock, tail = self.wall_clock(index, path, x)
            bound, at_offset, test = f"b{index}", f"at{index}", f"test{index}"
            ns[at_offset], ns[test] = WantAtOffset(fast.want), with_fast_path(fast)
            self.add(
                f"if {clock} is not None and ({bound} := {at_offset}[{tail}]) is not None:",
                f"    if not ({template.format(x=clock, w=bound)}):",
                "        return False",
                f"elif {x} is M or not {test}({x}, zone):",
                "    return False",
            )
            return
        else:
            ns[f"test{index}"] = with_fast_path(fast)
            self.add(f"if {x} is M or not test{index}({x}, zone):", "    return False")
            return
        self.add(f"elif {slow_fails}:", "    return False")

    def functions(self) -> tuple[Check, Binder]:
        """``plan_check(context, zone)``, and a binder giving ``plan_matches(context)`` for one zone.

        plan_matches is the same body with the zone bound (one call less per evaluation) and the
        retry of ``CompiledConditions.matches`` for a context that is not an object. Both are made by
        a factory taking every bound value as a parameter, so the body reads them as closure cells.
        """
        body = [*self.lines, "return True"]
        names = sorted(self.namespace)
        source = "\n".join(
            [
                f"def make(ZONE, {', '.join(names)}):",
                "    def plan_check(context, zone):",
                *(f"        {line}" for line in body),
                "    def plan_matches(context, zone=ZONE):",
                "        try:",
                *(f"            {line}" for line in body),
                "        except AttributeError:",
                "            if isinstance(context, Mapping):",
                "                raise",
                "            return plan_check(as_context(context), zone)",
                "    return plan_check, plan_matches",
            ]
        )
        namespace: dict[str, Any] = {}
        exec(_code(source), namespace)  # the source holds no definition text
        make = namespace["make"]
        values = [self.namespace[name] for name in names]
        check: Check = make(None, *values)[0]

        def bind(zone: ZoneSource) -> Callable[[Any], bool]:
            matches: Callable[[Any], bool] = make(zone, *values)[1]
            return matches

        return check, bind


Binder = Callable[[ZoneSource], Callable[[Any], bool]]


def _top_level_key(path: str) -> str | None:
    """The top-level key a plan reads for ``path``: itself, the ``a`` of ``a.b``; None for longer paths."""
    segments = path.split(".")
    if len(segments) == 1:
        return path
    if len(segments) == 2 and not segments[1].isdigit():
        return segments[0]
    return None


def plan_functions(nodes: list[Node]) -> tuple[Check, Binder | None]:
    """One function checking every node in turn (all must pass), with the leaves' fast paths inline.

    Equal to ``all_of([node.check for node in nodes])`` for every context; a context that is not an
    object raises AttributeError (``context.get``), which ``CompiledConditions.matches`` handles.
    The binder (None when no leaf has a fast path: the closures then serve) gives the same check
    for one zone as ``matches`` (see ``_PlanSource.functions``).
    """
    inlined = any(node.inline is not None and node.inline[1].kind in _INLINE_KINDS for node in nodes)
    if not inlined or len(nodes) > MAX_GENERATED_CONDITIONS:
        return all_of([node.check for node in nodes]), None
    source = _PlanSource()
    leaves = {
        index: node.inline
        for index, node in enumerate(nodes)
        if node.inline is not None and node.inline[1].kind in _INLINE_KINDS
    }
    keys = (_top_level_key(path) for path, _ in leaves.values())
    source.read_keys([key for key in keys if key is not None])
    for index, node in enumerate(nodes):
        inline = leaves.get(index)
        if inline is None:
            source.call(index, node.check)
        else:
            source.leaf(index, *inline)
    return source.functions()


# --- a whole list --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """A compiled conditions list, independent of any time zone; shared by every rule instance."""

    conditions: Any
    check: Check
    explainers: tuple[Explain, ...]
    builtin_keys: frozenset[str]
    problems: tuple[str, ...]
    bind: Binder | None = None  # check for one zone, with matches' retry (see plan_functions)


def compile_plan(conditions: Any) -> Plan:
    """Compile a conditions list (top-level entries must all pass; [] always passes)."""
    conditions = copy.deepcopy(conditions)
    if not isinstance(conditions, list):
        nodes = [_invalid(conditions, "conditions must be a list (use [] for none)")]
    else:
        nodes = [compile_node(condition) for condition in conditions]
    problems = []
    for index, node in enumerate(nodes):
        if node.problem:
            problems.append(f"conditions[{index}]: {node.problem}")
            logger.warning("Unusable stored condition conditions[%s] (it always fails): %s", index, node.problem)
    check, bind = plan_functions(nodes)
    return Plan(
        conditions=conditions,
        check=check,
        bind=bind,
        explainers=tuple(node.explain for node in nodes),
        builtin_keys=frozenset().union(*(node.builtin_keys for node in nodes)),
        problems=tuple(problems),
    )


class CompiledConditions:
    """A conditions list ready to evaluate: ``matches`` for a yes/no, ``explain`` for the detail."""

    __slots__ = ("_builtin_keys", "_check", "_explainers", "_zone", "matches", "plan")

    matches: Callable[[Any], bool]
    """True when every top-level condition passes for ``context``; never raises on JSON data."""

    def __init__(self, plan: Plan, zone: ZoneSource) -> None:
        self.plan = plan
        self._check = plan.check
        self._explainers = plan.explainers
        self._builtin_keys = plan.builtin_keys
        self._zone = zone
        # The plan's own function for this zone when it has one and no built-in value is needed.
        self.matches = plan.bind(zone) if plan.bind is not None and not plan.builtin_keys else self._matches

    @property
    def conditions(self) -> Any:
        return self.plan.conditions

    @property
    def problems(self) -> tuple[str, ...]:
        """Why stored conditions are unusable (each always fails), by path; () when all are fine."""
        return self.plan.problems

    @property
    def builtin_keys(self) -> frozenset[str]:
        """The built-in values (date, now, weekday, time) that these conditions read."""
        return self._builtin_keys

    def _matches(self, context: Any) -> bool:
        zone = self._zone
        if self._builtin_keys:
            context = with_builtins(context, self._builtin_keys, zone)
        try:
            return self._check(context, zone)
        except AttributeError:
            # TRICKY: a context that is not an object has no .get; checking for that on every call
            # would cost more than this zero-cost try on the fast path.
            if isinstance(context, Mapping):
                raise
            return self._check(as_context(context), zone)

    def explain(self, context: Any) -> list[ConditionResult]:
        """One result per top-level condition, in order, with the actual value and a failure reason."""
        zone = self._zone
        if self._builtin_keys:
            context = with_builtins(context, self._builtin_keys, zone)
        elif not isinstance(context, Mapping):
            context = as_context(context)
        return [explain(context, zone) for explain in self._explainers]


def compile_conditions(conditions: Any, timezone_name: str = "UTC") -> CompiledConditions:
    """Compile ``conditions`` for evaluation in ``timezone_name`` (an IANA name; UTC if invalid)."""
    return CompiledConditions(compile_plan(conditions), ZoneSource.named(timezone_name))
