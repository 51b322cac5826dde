"""Helpers every pipeline service shares: guarded status transitions, loading, owner notices."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils import timezone

from executions.choices import success_for_status
from executions.failures import failure_kind_for
from executions.models import AutomationExecution
from executions.notifications.notices import notify_users_on_commit
from executions.selectors import tenant_owner_ids


class ExecutionConflict(Exception):
    """The execution is not in a state that allows the step (already decided, already ran)."""


def transition(
    execution_id: int, from_statuses: list[str], to_status: str, extra_filter: Q | None = None, **fields: Any
) -> bool:
    """Move an execution from one of ``from_statuses`` to ``to_status`` with one conditional UPDATE.

    True only for the one caller whose update changed the row: the compare-and-set that claims a step
    on SQLite and PostgreSQL alike. ``success`` follows the status; ``updated_at`` is set (``update()``
    skips ``auto_now``). ``failure_kind`` follows the status and ``error_message`` (``failure_kind_for``)
    unless given.
    """
    if "failure_kind" not in fields:
        fields["failure_kind"] = failure_kind_for(to_status, fields.get("error_message", ""))
    queryset = AutomationExecution.objects.filter(pk=execution_id, status__in=from_statuses)
    if extra_filter is not None:
        queryset = queryset.filter(extra_filter)
    updates = {"status": to_status, "success": success_for_status(to_status), "updated_at": timezone.now(), **fields}
    return queryset.update(**updates) == 1


def transition_loaded(
    execution: AutomationExecution,
    from_statuses: list[str],
    to_status: str,
    extra_filter: Q | None = None,
    **fields: Any,
) -> bool:
    """``transition`` for an execution already in memory: on a win, the object gets the same values.

    Saves reloading the row after a step this caller won (the guarded UPDATE is unchanged). Only plain
    values may be passed: an expression (``F(...)``) has no in-memory value, so set that field yourself.
    """
    now = timezone.now()
    if "failure_kind" not in fields:
        fields["failure_kind"] = failure_kind_for(to_status, fields.get("error_message", ""))
    won = transition(execution.pk, from_statuses, to_status, extra_filter, updated_at=now, **fields)
    if won:
        execution.set_status(to_status)
        execution.updated_at = now
        for name, value in fields.items():
            if not hasattr(value, "resolve_expression"):  # an F() expression: the caller sets the value
                setattr(execution, name, value)
    return won


def load_execution(execution_id: int) -> AutomationExecution | None:
    """The execution with its rule, tenant, council, version and event, or None."""
    return (
        AutomationExecution.objects.select_related(
            "automation_rule", "automation_rule__tenant", "automation_rule__assigned_council", "rule_version", "event"
        )
        .filter(pk=execution_id)
        .first()
    )


def notify_owners(execution: AutomationExecution, kind: str, title: str, body: str) -> None:
    """Tell the tenant's owners about the execution, after commit."""
    notify_users_on_commit(tenant_owner_ids(execution.tenant_id), execution.tenant_id, kind, title, body, execution.pk)
