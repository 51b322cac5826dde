"""A threshold trigger's comparison: the one function the live tick and every preview use.

``compare`` decides whether ``actual <operator> threshold`` holds for numbers (a numeric string counts;
anything else is "not comparable", None). The threshold tick (``executions.listeners.threshold``) steps
its crossing state with it; ``explain_threshold`` gives the same answer, phrased, for Test Conditions in
the API, the builder and the rule's page (``automations.selectors.rule_condition_report``).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from typing import Any, Final

from automations.conditions.evaluator import ConditionResult
from automations.conditions.values import show

COMPARISONS: Final[dict[str, Callable[[float, float], bool]]] = {
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
    "=": operator.eq,
    "!=": operator.ne,
}
_WORDS: Final = {"<": "less than", ">": "greater than", "<=": "at most", ">=": "at least", "=": "", "!=": "other than"}


def as_number(value: object) -> float | None:
    """A finite number from a number or a numeric string ("12.5"); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def compare(operator_key: str, actual: object, threshold: object) -> bool | None:
    """Whether ``actual <operator_key> threshold`` holds; None when either side is not a number.

    Threshold rules compare numbers. A text sample (a store status) is not comparable, so the tick
    leaves the rule's state as it was rather than counting it as false.
    """
    comparison = COMPARISONS.get(operator_key)
    left, right = as_number(actual), as_number(threshold)
    if comparison is None or left is None or right is None:
        return None
    return bool(comparison(left, right))


def threshold_condition(config: Mapping[str, Any]) -> dict[str, Any]:
    """The trigger's comparison written as a condition row (metric, operator, value)."""
    return {"type": config.get("metric"), "operator": config.get("operator"), "value": config.get("value")}


def explain_threshold(config: Mapping[str, Any], context: Mapping[str, Any]) -> ConditionResult:
    """The trigger's comparison against the metric's value in ``context``, as a condition result."""
    metric, operator_key, expected = str(config.get("metric")), str(config.get("operator")), config.get("value")
    actual = context.get(metric)
    met = compare(operator_key, actual, expected)
    reason: str | None = None
    if metric not in context or actual is None:
        reason = f"{metric} is missing from the context"
    elif met is None:
        reason = f"{metric}: {show(actual)} is not a number"
    elif not met:
        words = _WORDS.get(operator_key, operator_key)
        reason = f"{metric} is {show(actual)}, not {words + ' ' if words else ''}{show(expected)}"
    return ConditionResult(threshold_condition(config), bool(met), actual, expected, reason)
