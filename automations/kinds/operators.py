"""The condition operator registry: one ``OperatorKind`` per operator.

An entry holds everything about its operator: ``build`` (the coercion and the test, see
``automations.conditions.operators``), ``value_shape`` (how the builder reads the value box),
``validate`` (the save-time check of the value) and ``phrase`` (the summary's words). The evaluator,
``automations.validators``, ``automations.summaries.conditions``, the builder and the API read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from automations.kinds.loading import load_host_specs

# How the builder's value box is read: one scalar, a comma-separated list, or optional (empty: no value).
SCALAR = "scalar"
LIST = "list"
OPTIONAL = "optional"


@dataclass
class ValueTally:
    """What the values of one rule add up to (the RE2 instructions of its ``matches`` patterns)."""

    pattern_program: int = 0


@dataclass(frozen=True)
class LeafWords:
    """One condition, as its operator's ``phrase`` sees it."""

    field: str  # the context path, such as customer.is_vip
    subject: str  # its words, such as "customer is vip"
    value: Any
    has_value: bool
    negated: bool


Build = Callable[[Any], Any]  # expected value -> automations.conditions.operators.Predicate
Validate = Callable[[Any, ValueTally], list[str]]  # the value (present) -> messages
Phrase = Callable[[LeafWords], str | None]


@dataclass(frozen=True)
class OperatorKind:
    key: str
    label: str
    build: Build
    # None: the value must be one ``build`` accepts (its InvalidCondition message otherwise).
    validate: Validate | None = None
    # None: "<subject> <label> <value>" (automations.summaries.conditions).
    phrase: Phrase | None = None
    value_shape: str = SCALAR
    sees_missing: bool = False  # the test also sees a missing key (only exists)
    value_required: bool = True
    status_subject: bool = False  # "store_status = active" reads "store is active"


OPERATORS: dict[str, OperatorKind] = {}
_HOST_KEYS: set[str] = set()


def register_operator(kind: OperatorKind) -> OperatorKind:
    """Add ``kind`` (a later registration under the same key replaces it)."""
    OPERATORS[kind.key] = kind
    return kind


def load_host_operators() -> None:
    """(Re)load ``AUTOMATIONS["OPERATORS"]`` (dotted paths to ``OperatorKind`` objects)."""
    load_host_specs("OPERATORS", OperatorKind, OPERATORS, _HOST_KEYS)


def operator_keys() -> list[str]:
    return list(OPERATORS)


def operator_choices() -> list[tuple[str, str]]:
    return [(kind.key, kind.label) for kind in OPERATORS.values()]
