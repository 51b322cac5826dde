"""Reads about executions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import QuerySet

from executions.choices import ACTION_ALLOWED_STATUSES
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


# --- the portal's figures ------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleExecutionStats:
    total_executions: int
    success_rate: float | None  # None when nothing has ended yet, never NaN
    avg_execution_time_ms: float | None
    last_24h_executions: int


@dataclass(frozen=True)
class DayCount:
    day: dt.date
    count: int


def tenant_executions_since_count(tenant_id: str, since: dt.datetime) -> int:
    return AutomationExecution.objects.filter(tenant_id=tenant_id, triggered_at__gte=since).count()


def rule_execution_stats(rule: AutomationRule, now: dt.datetime) -> RuleExecutionStats:
    """The detail page's four figures, from the rule's running totals and its recent executions."""
    since = now - dt.timedelta(hours=24)
    last_24h = AutomationExecution.objects.filter(automation_rule_id=rule.pk, triggered_at__gte=since).count()
    return RuleExecutionStats(
        total_executions=rule.execution_count,
        success_rate=rule.success_rate,
        avg_execution_time_ms=rule.average_execution_time_ms if rule.execution_count else None,
        last_24h_executions=last_24h,
    )


def rule_executions_by_day(rule: AutomationRule, now: dt.datetime, days: int = 30) -> list[DayCount]:
    """How many executions the rule had on each of the last ``days`` days (tenant's time zone), oldest first."""
    zone = rule.tenant.zone
    today = now.astimezone(zone).date()
    first = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time(0), tzinfo=zone)
    counts: dict[dt.date, int] = {}
    moments = AutomationExecution.objects.filter(automation_rule_id=rule.pk, triggered_at__gte=start).values_list(
        "triggered_at", flat=True
    )
    for moment in moments.iterator():
        day = moment.astimezone(zone).date()
        counts[day] = counts.get(day, 0) + 1
    return [DayCount(first + dt.timedelta(days=i), counts.get(first + dt.timedelta(days=i), 0)) for i in range(days)]


def rule_executions(rule: AutomationRule) -> QuerySet[AutomationExecution]:
    return AutomationExecution.objects.filter(automation_rule_id=rule.pk).order_by("-triggered_at", "-id")


def execution_get_for_rule(rule: AutomationRule, execution_id: int) -> AutomationExecution:
    """One of the rule's executions; Http404 for anything else."""
    from django.http import Http404

    execution = rule_executions(rule).filter(pk=execution_id).first()
    if execution is None:
        raise Http404("No such execution.")
    return execution


def tenant_latest_metrics(tenant_id: str) -> dict[str, object]:
    """The newest recorded value of each of the tenant's metrics (product_count, store_status, ...)."""
    from executions.models import MetricSample

    latest: dict[str, object] = {}
    samples = MetricSample.objects.filter(tenant_id=tenant_id).order_by("metric", "-recorded_at", "-id")
    for sample in samples.iterator():
        latest.setdefault(sample.metric, sample.value)
    return latest
