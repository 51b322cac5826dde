"""Writes for tenants, memberships and councils."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from governance.choices import Role
from governance.models import Council, CouncilMember, Membership, Tenant

DEFAULT_COUNCIL_NAME = "Default Council"

# Roles whose members sit on the tenant's default council.
DEFAULT_COUNCIL_ROLES = frozenset({Role.OWNER, Role.COUNCIL})


@transaction.atomic
def tenant_get_or_create(tenant_id: str, name: str | None = None, timezone: str = "UTC") -> Tenant:
    """Return the tenant, creating it (validated) with its default council when missing."""
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        tenant = Tenant(id=tenant_id, name=name or tenant_id, timezone=timezone)
        tenant.full_clean()
        tenant.save()
    council_ensure_default(tenant)
    return tenant


def council_ensure_default(tenant: Tenant) -> Council:
    """The tenant's default council, created on first use with every owner in it."""
    council, _ = Council.objects.get_or_create(tenant=tenant, is_default=True, defaults={"name": DEFAULT_COUNCIL_NAME})
    owner_ids = Membership.objects.filter(tenant=tenant, role=Role.OWNER).values_list("user_id", flat=True)
    # One insert for all owners; the (council, user) unique constraint skips those already on it.
    CouncilMember.objects.bulk_create(
        [CouncilMember(council=council, user_id=user_id) for user_id in owner_ids], ignore_conflicts=True
    )
    return council


@transaction.atomic
def membership_set(tenant: Tenant, user: AbstractBaseUser, role: str) -> Membership:
    """Give ``user`` the ``role`` in ``tenant``; owners and council members join the default council."""
    membership, _ = Membership.objects.update_or_create(tenant=tenant, user=user, defaults={"role": role})
    council = council_ensure_default(tenant)
    if role in DEFAULT_COUNCIL_ROLES:
        CouncilMember.objects.get_or_create(council=council, user=user)
    return membership
