"""A recount of the daily roll-ups from raw rows, written apart from the code under test (Python, not SQL)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from executions.choices import ENDED_STATUSES, ExecutionStatus
from executions.models import AutomationExecution, ExecutionDailyRollup, RuleDailyOutcomes


def recount(tenant_id: str | None = None) -> dict[tuple[Any, ...], tuple[int, float, int]]:
    """{(rule, local day, status, failure kind, action type, trigger source, tenant): (count, ms, recorded)}."""
    executions = AutomationExecution.objects.filter(status__in=sorted(ENDED_STATUSES)).select_related(
        "automation_rule", "tenant", "rule_version"
    )
    if tenant_id is not None:
        executions = executions.filter(tenant_id=tenant_id)
    sums: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for execution in executions:
        definition = execution.rule_version.definition if execution.rule_version else None
        action_type = (definition or {}).get("action_type") or execution.automation_rule.action_type
        key = (
            execution.automation_rule_id,
            execution.triggered_at.astimezone(execution.tenant.zone).date(),
            execution.status,
            getattr(execution, "failure_kind", "") or "",
            action_type,
            execution.trigger_source,
            execution.tenant_id,
        )
        row = sums[key]
        row[0] += 1
        row[1] += execution.execution_time_ms or 0.0
        row[2] += int(execution.status == ExecutionStatus.SUCCEEDED and execution.recorded_only)
    return {key: (int(n), round(ms, 3), int(rec)) for key, (n, ms, rec) in sums.items()}


def stored(tenant_id: str | None = None) -> dict[tuple[Any, ...], tuple[int, float, int]]:
    """The roll-up rows in the same shape (rows at zero left out)."""
    rows = ExecutionDailyRollup.objects.exclude(count=0)
    if tenant_id is not None:
        rows = rows.filter(tenant_id=tenant_id)
    return {
        (
            row.automation_rule_id,
            row.day,
            row.status,
            row.failure_kind,
            row.action_type,
            row.trigger_source,
            row.tenant_id,
        ): (row.count, round(row.execution_time_ms_sum, 3), row.recorded_only_count)
        for row in rows
    }


def outcomes_projected(tenant_id: str | None = None) -> dict[tuple[Any, ...], tuple[float, ...]]:
    """The roll-up rows summed as the rules' daily outcomes should hold them, computed here in Python:
    {(rule, day, action type, tenant): (succeeded, recorded only, failed, skipped, rejected, blocked,
    cancelled, shadowed, throttled, time of the runs that ran)}."""
    columns = ["succeeded", "recorded_only", "failed", "skipped", "rejected", "blocked", "cancelled", "shadowed"]
    columns.append("throttled")
    sums: dict[tuple[Any, ...], dict[str, float]] = defaultdict(lambda: dict.fromkeys([*columns, "ms"], 0))
    for (rule, day, status, _kind, action_type, _source, tenant), (count, ms, recorded) in stored(tenant_id).items():
        row = sums[(rule, day, action_type, tenant)]
        if status == ExecutionStatus.SUCCEEDED:
            row["succeeded"] += count - recorded
            row["recorded_only"] += recorded
        else:
            row[status] += count
        if status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED):
            row["ms"] += ms
    return {key: tuple(round(value, 3) for value in row.values()) for key, row in sums.items()}


def outcomes_stored(tenant_id: str | None = None) -> dict[tuple[Any, ...], tuple[float, ...]]:
    """The rules' daily outcome rows in the same shape (rows all at zero left out)."""
    rows = RuleDailyOutcomes.objects.all()
    if tenant_id is not None:
        rows = rows.filter(tenant_id=tenant_id)
    result = {}
    for row in rows:
        values = (
            row.succeeded,
            row.recorded_only,
            row.failed,
            row.skipped,
            row.rejected,
            row.blocked,
            row.cancelled,
            row.shadowed,
            row.throttled,
            round(row.ran_time_ms_sum, 3),
        )
        if any(values):
            result[(row.automation_rule_id, row.day, row.action_type, row.tenant_id)] = values
    return result
