"""Reads about executions."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from executions.choices import ACTION_ALLOWED_STATUSES, ApprovalStatus
from executions.models import ApprovalRequest, AutomationExecution, Event

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
    from django.db.models import OuterRef, Subquery

    from automations.choices import TriggerType
    from automations.models import AutomationRule, RuleVersion

    # ``current_version_id``: the id of the rule's current RuleVersion, read with the rule (trigger_rule
    # would otherwise look it up once per execution).
    current_version = RuleVersion.objects.filter(rule_id=OuterRef("pk"), version=OuterRef("version")).values("id")[:1]
    rules = (
        AutomationRule.objects.filter(
            tenant_id=event.tenant_id, enabled=True, trigger_type=TriggerType.EVENT, event_type=event.event_type
        )
        .select_related("tenant")
        .annotate(current_version_id=Subquery(current_version))
    )
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
