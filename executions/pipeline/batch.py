"""What every step shares: loading executions, applying a written row in memory."""

from __future__ import annotations

from typing import Any

from executions.models import AutomationExecution


def load_executions(execution_ids: list[int]) -> list[AutomationExecution]:
    """The executions with their rule, tenant, council, version and event, in id order (one query)."""
    return list(
        AutomationExecution.objects.select_related(
            "automation_rule", "automation_rule__tenant", "automation_rule__assigned_council", "rule_version", "event"
        )
        .filter(pk__in=execution_ids)
        .order_by("id")
    )


def apply_row(execution: AutomationExecution, row: dict[str, Any]) -> None:
    """Set on the in-memory execution the values an update has just written to its row."""
    for name, value in row.items():
        setattr(execution, name, value)
