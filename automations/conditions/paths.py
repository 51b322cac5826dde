"""Which context keys a conditions list reads: one walk of the tree (groups included), for the warnings
that name a condition's field and the backtest that builds only the context the conditions read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from automations.choices import ConditionGroup


def leaf_paths(conditions: Any, prefix: str = "conditions") -> Iterator[tuple[str, str]]:
    """``(field path of the leaf's type, the context path it reads)`` for every leaf:
    ``("conditions[1].all[0].type", "customer.total_spent")`` for a leaf in a group."""
    if isinstance(conditions, list):
        for index, condition in enumerate(conditions):
            yield from leaf_paths(condition, f"{prefix}[{index}]")
    elif isinstance(conditions, dict):
        for group in ConditionGroup.values:
            if group in conditions and len(conditions) == 1:
                yield from leaf_paths(conditions[group], f"{prefix}.{group}")
                return
        path = conditions.get("type")
        if isinstance(path, str) and path:
            yield f"{prefix}.type", path


def condition_paths(conditions: Any) -> Iterator[tuple[str, str]]:
    """``(field path of the leaf's type, the first segment of the context path it reads)`` for every leaf:
    ``("conditions[1].all[0].type", "customer")`` for ``customer.total_spent`` in a group."""
    for field, path in leaf_paths(conditions):
        yield field, path.split(".", 1)[0]


def condition_keys(conditions: Any) -> set[str]:
    """The first segment of every context path the conditions read."""
    return {key for _, key in condition_paths(conditions)}


def context_keys_read(conditions: Any) -> set[str]:
    """Every top-level context key the conditions may read: each leaf's first segment and, as
    ``make_getter`` tries it first, its whole dotted path as a literal key (``customer.total_spent``)."""
    keys: set[str] = set()
    for _, path in leaf_paths(conditions):
        keys.update((path, path.split(".", 1)[0]))
    return keys
