"""Reads about executions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from executions.choices import ACTION_ALLOWED_STATUSES, ApprovalStatus
from executions.models import ApprovalRequest, AutomationExecution, Event, Notification

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


def tenant_latest_metric_values(tenant_id: str) -> dict[str, object]:
    """The latest value of each of the tenant's metrics, from ``MetricSample`` rows (two indexed queries)."""
    from django.db.models import Max, Q

    from executions.models import MetricSample

    latest = (
        MetricSample.objects.filter(tenant_id=tenant_id).values("metric").annotate(latest=Max("recorded_at")).order_by()
    )
    pairs = [(row["metric"], row["latest"]) for row in latest]
    if not pairs:
        return {}
    match = Q()
    for metric, recorded_at in pairs:
        match |= Q(metric=metric, recorded_at=recorded_at)
    values: dict[str, object] = {}
    # Ties on recorded_at: the highest id wins.
    for sample in MetricSample.objects.filter(match, tenant_id=tenant_id).order_by("metric", "recorded_at", "id"):
        values[sample.metric] = sample.value
    return values


def rules_matching_event(event: Event) -> list[AutomationRule]:
    """The tenant's enabled event rules for the event's type and, when a rule names one, its source.

    Uses the partial index ``rule_enabled_event_lookup`` (tenant, event_type), so the cost does not
    grow with other tenants' rules.
    """
    from automations.choices import TriggerType
    from automations.models import AutomationRule

    rules = AutomationRule.objects.filter(
        tenant_id=event.tenant_id, enabled=True, trigger_type=TriggerType.EVENT, event_type=event.event_type
    ).select_related("tenant")
    matched = []
    for rule in rules:
        config = rule.trigger_config if isinstance(rule.trigger_config, dict) else {}
        source = config.get("source") or ""
        if source and source != event.source:
            continue
        matched.append(rule)
    return matched


def approvals_for_user(
    user: AbstractBaseUser, status: str | None = ApprovalStatus.PENDING
) -> QuerySet[ApprovalRequest]:
    """Approval requests of the councils the user sits on (all of them for a superuser), newest first."""
    requests = ApprovalRequest.objects.select_related(
        "execution", "execution__automation_rule", "council", "tenant", "decided_by"
    )
    if not user.is_superuser:
        requests = requests.filter(council__memberships__user_id=user.pk)
    if status is not None:
        requests = requests.filter(status=status)
    return requests.order_by("-requested_at", "-id")


def approvals_decidable_by(user: AbstractBaseUser) -> QuerySet[ApprovalRequest]:
    """Pending approval requests the user may decide: those of councils the user sits on."""
    return (
        ApprovalRequest.objects.select_related("execution", "execution__automation_rule", "council", "tenant")
        .filter(status=ApprovalStatus.PENDING, council__memberships__user_id=user.pk)
        .order_by("-requested_at", "-id")
    )


def user_may_decide(council_id: str | None, user: AbstractBaseUser) -> bool:
    """Whether ``user`` is an active member of the council (a decision needs one)."""
    from governance.models import CouncilMember

    if council_id is None or not user.is_authenticated or not user.is_active:
        return False
    return CouncilMember.objects.filter(council_id=council_id, user_id=user.pk).exists()


def tenant_owner_ids(tenant_id: str) -> list[int]:
    from governance.choices import Role
    from governance.models import Membership

    return list(Membership.objects.filter(tenant_id=tenant_id, role=Role.OWNER).values_list("user_id", flat=True))


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


def notifications_for_user(user: AbstractBaseUser, tenant_id: str) -> QuerySet[Notification]:
    """The user's in-app notifications in one tenant, newest first."""
    return (
        Notification.objects.filter(user_id=user.pk, tenant_id=tenant_id)
        .select_related("execution")
        .order_by("-created_at", "-id")
    )


def unread_notification_count(user: AbstractBaseUser, tenant_id: str) -> int:
    return Notification.objects.filter(user_id=user.pk, tenant_id=tenant_id, read_at__isnull=True).count()


def execution_approval(execution: AutomationExecution) -> ApprovalRequest | None:
    """The execution's approval request, with who decided it, if governance asked for one."""
    return ApprovalRequest.objects.select_related("decided_by", "council").filter(execution=execution).first()
