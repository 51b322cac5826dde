"""Condition evaluation for automation rules (see docs/conditions.md).

``compile_conditions(conditions, timezone_name)`` turns a validated conditions list into closures;
``compiled_conditions_for_rule(rule)`` does that once per rule version. The result answers
``matches(context) -> bool`` and ``explain(context) -> list[ConditionResult]``.
"""

from automations.conditions.cache import clear_cache, compiled_conditions_for_rule, rule_matches
from automations.conditions.context import BUILTIN_KEYS
from automations.conditions.evaluator import (
    CompiledConditions,
    ConditionResult,
    compile_conditions,
    describe,
)
from automations.conditions.operators import (
    OPERATORS,
    InvalidCondition,
    Operator,
    Predicate,
    UnknownOperator,
    get_operator,
    register,
)
from automations.patterns import MAX_MATCHED_TEXT

__all__ = [
    "BUILTIN_KEYS",
    "MAX_MATCHED_TEXT",
    "OPERATORS",
    "CompiledConditions",
    "ConditionResult",
    "InvalidCondition",
    "Operator",
    "Predicate",
    "UnknownOperator",
    "clear_cache",
    "compile_conditions",
    "compiled_conditions_for_rule",
    "describe",
    "get_operator",
    "register",
    "rule_matches",
]
