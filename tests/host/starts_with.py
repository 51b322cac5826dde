"""A host operator, ``starts_with``: one entry with its coercion, value shape, validation and phrase."""

from __future__ import annotations

from typing import Any

from automations.conditions.operators import InvalidCondition, Predicate
from automations.conditions.values import show
from automations.kinds.operators import LeafWords, OperatorKind, ValueTally


def build(expected: Any) -> Predicate:
    if not isinstance(expected, str) or not expected:
        raise InvalidCondition("starts_with needs a non-empty text")

    def test(actual: Any, zone: Any) -> bool:
        return isinstance(actual, str) and actual.startswith(expected)

    def reason(label: str, actual: Any, zone: Any) -> str:
        return f"{label} is {show(actual)}, which does not start with {show(expected)}"

    return Predicate(test, reason)


def validate(value: Any, tally: ValueTally) -> list[str]:
    return [] if isinstance(value, str) and value else ["must be the text the value starts with, such as SKU-"]


def phrase(leaf: LeafWords) -> str | None:
    if not isinstance(leaf.value, str) or not leaf.value:
        return None
    return f"{leaf.subject} {'does not start' if leaf.negated else 'starts'} with “{leaf.value}”"


STARTS_WITH = OperatorKind("starts_with", "starts with", build, validate=validate, phrase=phrase)
