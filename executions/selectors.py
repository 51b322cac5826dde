"""Reads about executions."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import connections
from django.db.models import Avg, Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from executions.choices import ACTION_ALLOWED_STATUSES, ExecutionStatus
from executions.models import AutomationExecution

if TYPE_CHECKING:
    from automations.models import AutomationRule


def local_day_bounds(moment: dt.datetime, zone: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The start and end (exclusive) of ``moment``'s calendar day in ``zone``, as aware datetimes."""
    local = moment.astimezone(zone)
    start = dt.datetime.combine(local.date(), dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return start, end


def rule_executions_run_today_count(rule: AutomationRule, moment: dt.datetime) -> int:
    """How many of the rule's executions were allowed to run their action on ``moment``'s local day."""
    start, end = local_day_bounds(moment, rule.tenant.zone)
    return AutomationExecution.objects.filter(
        automation_rule_id=rule.pk,
        status__in=sorted(ACTION_ALLOWED_STATUSES),
        triggered_at__gte=start,
        triggered_at__lt=end,
    ).count()


# Executions whose action ran: what the API's total_executions and success_rate count.
ACTION_RAN_STATUSES = (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED)
RECENT_EXECUTIONS = 10
STATS_DAYS = 30
MAX_FAILURE_REASONS = 10


def _ran_counts(queryset: QuerySet[AutomationExecution]) -> dict[str, Any]:
    ran = Q(status__in=ACTION_RAN_STATUSES)
    return queryset.aggregate(
        total=Count("id", filter=ran),
        succeeded=Count("id", filter=Q(status=ExecutionStatus.SUCCEEDED)),
        failed=Count("id", filter=Q(status=ExecutionStatus.FAILED)),
        skipped=Count("id", filter=Q(status=ExecutionStatus.SKIPPED)),
        awaiting=Count("id", filter=Q(status=ExecutionStatus.AWAITING_APPROVAL)),
        avg_ms=Avg("execution_time_ms", filter=ran),
    )


def _rate(succeeded: int, total: int) -> float | None:
    return round(succeeded / total, 4) if total else None


# TRICKY: hand-written SQL on the detail endpoint's hot path. The ORM spends longer composing a
# filtered aggregate than the database spends answering it; this text is portable (CASE, not FILTER).
OVERVIEW_SQL = """
SELECT
    SUM(CASE WHEN status IN (%s, %s) THEN 1 ELSE 0 END),
    SUM(CASE WHEN status = %s THEN 1 ELSE 0 END),
    AVG(CASE WHEN status IN (%s, %s) THEN execution_time_ms END),
    SUM(CASE WHEN status IN (%s, %s) AND triggered_at >= %s THEN 1 ELSE 0 END)
FROM {table}
WHERE automation_rule_id = %s
"""


def rule_execution_overview(rule: AutomationRule, now: dt.datetime | None = None) -> dict[str, Any]:
    """The get endpoint's stats: totals of executions whose action ran, and those of the last 24 hours."""
    now = now or timezone.now()
    ran = [str(status) for status in ACTION_RAN_STATUSES]
    params = [*ran, str(ExecutionStatus.SUCCEEDED), *ran, *ran, now - dt.timedelta(hours=24), rule.pk]
    connection = connections[AutomationExecution.objects.db]
    with connection.cursor() as cursor:
        cursor.execute(OVERVIEW_SQL.format(table=connection.ops.quote_name(AutomationExecution._meta.db_table)), params)
        total, succeeded, avg_ms, last_24h = cursor.fetchone()
    total = int(total or 0)
    return {
        "total_executions": total,
        "success_rate": _rate(int(succeeded or 0), total),
        "avg_execution_time_ms": _round(avg_ms),
        "last_24h_executions": int(last_24h or 0),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def rule_recent_executions(rule: AutomationRule, limit: int = RECENT_EXECUTIONS) -> list[AutomationExecution]:
    return list(AutomationExecution.objects.filter(automation_rule_id=rule.pk).order_by("-triggered_at", "-id")[:limit])


def rule_execution_stats(
    rule: AutomationRule, now: dt.datetime | None = None, days: int = STATS_DAYS
) -> dict[str, Any]:
    """The stats endpoint: totals, one entry per day (in the tenant's zone, zero days included), failures."""
    now = now or timezone.now()
    executions = AutomationExecution.objects.filter(automation_rule_id=rule.pk)
    totals = _ran_counts(executions)
    zone = rule.tenant.zone
    today = now.astimezone(zone).date()
    first_day = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first_day, dt.time(0), tzinfo=zone)
    per_day = (
        executions.filter(triggered_at__gte=start, status__in=ACTION_RAN_STATUSES)
        .annotate(day=TruncDate("triggered_at", tzinfo=zone))
        .values("day")
        .annotate(
            succeeded=Count("id", filter=Q(status=ExecutionStatus.SUCCEEDED)),
            failed=Count("id", filter=Q(status=ExecutionStatus.FAILED)),
        )
    )
    by_day = {row["day"]: row for row in per_day}
    executions_by_day = []
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        row = by_day.get(day, {"succeeded": 0, "failed": 0})
        executions_by_day.append(
            {
                "date": day.isoformat(),
                "total": row["succeeded"] + row["failed"],
                "succeeded": row["succeeded"],
                "failed": row["failed"],
            }
        )
    reasons = (
        executions.filter(status=ExecutionStatus.FAILED)
        .values("error_message")
        .annotate(count=Count("id"))
        .order_by("-count", "error_message")[:MAX_FAILURE_REASONS]
    )
    return {
        "total_executions": totals["total"],
        "success_count": totals["succeeded"],
        "failure_count": totals["failed"],
        "success_rate": _rate(totals["succeeded"], totals["total"]),
        "avg_execution_time_ms": _round(totals["avg_ms"]),
        "skipped_count": totals["skipped"],
        "awaiting_approval_count": totals["awaiting"],
        "executions_by_day": executions_by_day,
        "failure_reasons": [
            {"reason": row["error_message"] or "unknown error", "count": row["count"]} for row in reasons
        ],
    }
