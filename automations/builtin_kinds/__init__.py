"""The built-in kinds: the eight actions, the four triggers and the condition operators, one spec each.

Each spec ties a kind's registry entry (``automations.kinds``) to its validator (``automations.validators``),
its words (``automations.summaries``) and, for operators, its test (``automations.conditions.operators``).
This package sits above all of them, so the registries import none of what the specs point at.
``register_builtin_kinds`` runs in ``AutomationsConfig.ready()``. See docs/extending.md.
"""

from __future__ import annotations

from automations.builtin_kinds.actions import register_builtin_actions
from automations.builtin_kinds.operators import register_builtin_operators
from automations.builtin_kinds.triggers import register_builtin_triggers


def register_builtin_kinds() -> None:
    """Register every built-in operator, action and trigger kind (operators first: validators use them)."""
    register_builtin_operators()
    register_builtin_actions()
    register_builtin_triggers()
