"""The built-in condition operators: one ``OperatorKind`` each, in the order the builder lists them.

Registered by ``AutomationsConfig.ready()``. Keys and labels are ``ConditionOperator``'s (the spec's
enum values). Each entry names its test (``automations.conditions.operators``), its value check
(``automations.validators``) and its phrase (``automations.summaries.conditions``).
"""

from __future__ import annotations

from automations import validators as checks
from automations.choices import ConditionOperator as Op
from automations.conditions import operators as tests
from automations.kinds.operators import LIST, OPTIONAL, OperatorKind, register_operator
from automations.summaries import conditions as words


def _kind(key: Op, **fields: object) -> OperatorKind:
    return OperatorKind(key.value, key.label, **fields)  # type: ignore[arg-type]


BUILTIN_OPERATORS: tuple[OperatorKind, ...] = (
    _kind(
        Op.EQ,
        build=tests.build_equals,
        validate=checks.validate_scalar_value,
        phrase=words.phrase_equals,
        status_subject=True,
    ),
    _kind(
        Op.NEQ,
        build=tests.build_not_equals,
        validate=checks.validate_scalar_value,
        phrase=words.phrase_not_equals,
        status_subject=True,
    ),
    *(
        _kind(
            key,
            build=tests.ORDERING_BUILDS[key.value],
            validate=checks.validate_ordering_value,
            phrase=words.phrase_ordering(key.value),
        )
        for key in (Op.LT, Op.GT, Op.LTE, Op.GTE)
    ),
    _kind(
        Op.CONTAINS, build=tests.build_contains, validate=checks.validate_contains_value, phrase=words.phrase_contains
    ),
    _kind(
        Op.NOT_CONTAINS,
        build=tests.build_not_contains,
        validate=checks.validate_contains_value,
        phrase=words.phrase_not_contains,
    ),
    _kind(
        Op.IN,
        build=tests.build_in,
        validate=checks.validate_list_value,
        phrase=words.phrase_in,
        value_shape=LIST,
        status_subject=True,
    ),
    _kind(
        Op.NOT_IN,
        build=tests.build_not_in,
        validate=checks.validate_list_value,
        phrase=words.phrase_not_in,
        value_shape=LIST,
        status_subject=True,
    ),
    _kind(
        Op.BETWEEN,
        build=tests.build_between,
        validate=checks.validate_between_value,
        phrase=words.phrase_between,
        value_shape=LIST,
    ),
    _kind(
        Op.EXISTS,
        build=tests.build_exists,
        validate=checks.validate_exists_value,
        phrase=words.phrase_exists,
        value_shape=OPTIONAL,
        sees_missing=True,
        value_required=False,
    ),
    _kind(Op.MATCHES, build=tests.build_matches, validate=checks.validate_pattern_value, phrase=words.phrase_matches),
)


def register_builtin_operators() -> None:
    for kind in BUILTIN_OPERATORS:
        register_operator(kind)
