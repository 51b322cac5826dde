"""Reads about rules for the portal pages, always scoped to one tenant."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from automations.models import AutomationRule
from governance.models import Tenant


@dataclass(frozen=True)
class RuleCounts:
    total: int
    enabled: int
    disabled: int


def rule_list_for_tenant(tenant: Tenant) -> QuerySet[AutomationRule]:
    """The tenant's live (not archived) rules, newest first."""
    return AutomationRule.objects.filter(tenant=tenant).order_by("-created_at", "id")


def rule_get_for_tenant(tenant: Tenant, rule_id: str) -> AutomationRule:
    """The tenant's live rule with ``rule_id``; Http404 for another tenant's rule or none at all."""
    rule = AutomationRule.objects.filter(tenant=tenant, pk=rule_id).select_related("assigned_council").first()
    if rule is None:
        raise Http404("No such automation.")
    return rule


def rule_counts_for_tenant(tenant: Tenant) -> RuleCounts:
    counts = AutomationRule.objects.filter(tenant=tenant).aggregate(
        total=Count("pk"), enabled=Count("pk", filter=Q(enabled=True))
    )
    return RuleCounts(total=counts["total"], enabled=counts["enabled"], disabled=counts["total"] - counts["enabled"])
