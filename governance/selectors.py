"""Reads about tenants, roles and councils."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from governance.choices import WEEKDAYS_BY_INDEX
from governance.common.storable import text_problem
from governance.models import Council, Membership, Tenant, TrustedUser


def tenant_ids_for_user(user: User) -> list[str]:
    """The ids of every tenant the user belongs to (all of them for a superuser)."""
    if not user.is_authenticated:
        return []
    if user.is_superuser:
        return list(Tenant.objects.values_list("id", flat=True))
    return list(Membership.objects.filter(user=user).values_list("tenant_id", flat=True))


def tenants_for_user(user: User) -> QuerySet[Tenant]:
    if user.is_superuser:
        return Tenant.objects.all()
    return Tenant.objects.filter(memberships__user=user)


def default_council(tenant_id: str) -> Council | None:
    return Council.objects.filter(tenant_id=tenant_id, is_default=True).first()


def is_trusted_user(tenant_id: str, user_id: object) -> bool:
    """True when ``user_id`` (a user's primary key, as int or string) is a member trusted in the tenant."""
    if user_id is None or isinstance(user_id, bool):
        return False
    try:
        pk = int(str(user_id))
    except ValueError:
        return False
    # Trust needs a current membership too: a removed member's leftover trust row decides nothing.
    return TrustedUser.objects.filter(tenant_id=tenant_id, user_id=pk, user__memberships__tenant_id=tenant_id).exists()


def is_within_business_hours(tenant: Tenant, moment: dt.datetime) -> bool:
    """Whether ``moment`` falls on a business day, inside business hours, in the tenant's zone."""
    local = moment.astimezone(tenant.zone)
    if WEEKDAYS_BY_INDEX[local.weekday()] not in (tenant.business_days or []):
        return False
    return tenant.business_hours_start <= local.time().replace(tzinfo=None) < tenant.business_hours_end


def role_for_user(user: User, tenant_id: str) -> str | None:
    """The user's role in the tenant ("owner" for a superuser), or None when not a member."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return "owner"
    return Membership.objects.filter(user=user, tenant_id=tenant_id).values_list("role", flat=True).first()


def tenant_for_user(user: User, tenant_id: str | None) -> Tenant | None:
    """The tenant with ``tenant_id`` when the user belongs to it, else None (also for text no row can hold)."""
    if not tenant_id or not isinstance(tenant_id, str) or text_problem(tenant_id):
        return None
    return tenants_for_user(user).filter(pk=tenant_id).first()


def councils_for_tenant(tenant_id: str) -> QuerySet[Council]:
    return Council.objects.filter(tenant_id=tenant_id).order_by("-is_default", "name")


def roles_for_user(user: User) -> dict[str, str]:
    """``{tenant_id: role}`` for every tenant the user belongs to; a superuser owns them all."""
    from governance.choices import Role

    if not user.is_authenticated:
        return {}
    if user.is_superuser:
        return dict.fromkeys(Tenant.objects.values_list("id", flat=True), Role.OWNER.value)
    return dict(Membership.objects.filter(user=user).values_list("tenant_id", "role"))


def member_tenant_ids(user: User | AnonymousUser) -> QuerySet[Membership, Mapping[str, Any]]:
    """The user's tenant ids as a subquery (``tenant_id__in=``), so scoping costs no extra query (none
    for an anonymous user: the schema generator calls ``get_queryset`` without signing in)."""
    memberships = Membership.objects.none() if user.pk is None else Membership.objects.filter(user_id=user.pk)
    return memberships.values("tenant_id")


def caller_role_expression(user: User, tenant_field: str = "tenant_id") -> object:
    """An annotation with the user's role in each row's tenant (None when not a member)."""
    from django.db.models import OuterRef, Subquery, Value

    from governance.choices import Role

    if user.is_superuser:
        return Value(Role.OWNER.value)
    memberships = Membership.objects.filter(tenant_id=OuterRef(tenant_field), user_id=user.pk)
    return Subquery(memberships.values("role")[:1])
