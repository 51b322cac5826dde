"""Writes for tenants, memberships, councils, trusted users and API tokens.

Services a person can call take the acting ``user`` and ask the permission policy first
(governance/policy.py); ``user=None`` is the system (seeding, the ``api_token`` command).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from governance import policy
from governance.choices import Role
from governance.models import ApiToken, Council, CouncilMember, Membership, Tenant, TrustedUser, api_token_digest
from governance.roles import APPROVER_ROLES, Capability
from governance.signals import tenant_zone_changed

DEFAULT_COUNCIL_NAME = "Default Council"

# Roles whose members sit on the tenant's default council.
DEFAULT_COUNCIL_ROLES = frozenset({Role.OWNER, Role.COUNCIL})
# What an owner may change on a tenant (its id, the primary key, never changes).
TENANT_EDITABLE_FIELDS = (
    "name",
    "timezone",
    "business_hours_start",
    "business_hours_end",
    "business_days",
    "requester_cannot_approve",
    "failure_messages",
    "minutes_saved_per_action",
    "contact_policy",
    "execution_retention_days",
    "rule_breaker_failures",
    "events_per_minute_quota",
    "executions_per_hour_quota",
)


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


@transaction.atomic
def tenant_update(tenant: Tenant, changes: dict[str, Any], user: User | None = None) -> Tenant:
    """Change a tenant's settings (never its id); a new time zone reschedules its rules.

    PermissionDenied unless ``user`` may manage the tenant; ValidationError naming each field.
    """
    policy.check(user, tenant.pk, Capability.MANAGE_TENANT)
    unknown = sorted(set(changes) - set(TENANT_EDITABLE_FIELDS))
    if unknown:
        raise ValidationError({key: "not a field you can set on a tenant" for key in unknown})
    stored = Tenant.objects.select_for_update().get(pk=tenant.pk)
    zone_before = stored.timezone
    for key, value in changes.items():
        setattr(stored, key, value)
    stored.full_clean()
    stored.save(update_fields=[*changes])
    if stored.timezone != zone_before:
        tenant_zone_changed.send(sender=Tenant, tenant=stored)
    return stored


def council_ensure_default(tenant: Tenant) -> Council:
    """The tenant's default council, created on first use with every owner in it."""
    council, _ = Council.objects.get_or_create(tenant=tenant, is_default=True, defaults={"name": DEFAULT_COUNCIL_NAME})
    owner_ids = Membership.objects.filter(tenant=tenant, role=Role.OWNER).values_list("user_id", flat=True)
    # One insert for all owners; the (council, user) unique constraint skips those already on it.
    CouncilMember.objects.bulk_create(
        [CouncilMember(council=council, user_id=user_id) for user_id in owner_ids], ignore_conflicts=True
    )
    return council


def _refuse_losing_last_owner(tenant: Tenant, member: User, new_role: str | None, user: User | None) -> None:
    """A person cannot demote or remove a tenant's last owner: nobody could manage it (or approve its
    critical rules) afterwards. The system (``user=None``, e.g. the ``api_token`` command) may."""
    if new_role == Role.OWNER or user is None:
        return
    owners = Membership.objects.filter(tenant=tenant, role=Role.OWNER)
    if owners.filter(user=member).exists() and owners.count() == 1:
        raise ValidationError({"role": "A tenant needs at least one owner: make someone else owner first."})


def _drop_seats_without_role(tenant: Tenant, member: User, role: str | None) -> None:
    """Council seats follow the role: a member whose role no longer approves leaves the tenant's councils."""
    if role not in APPROVER_ROLES:
        CouncilMember.objects.filter(council__tenant=tenant, user=member).delete()


@transaction.atomic
def membership_set(tenant: Tenant, member: User, role: str, user: User | None = None) -> Membership:
    """Give ``member`` the ``role`` in ``tenant``; owners and council members join the default council,
    and a member whose new role does not approve leaves every council of the tenant.

    PermissionDenied unless ``user`` may manage the tenant.
    """
    policy.check(user, tenant.pk, Capability.MANAGE_TENANT)
    if role not in Role.values:
        raise ValidationError({"role": f"Choose one of {', '.join(Role.values)}."})
    _refuse_losing_last_owner(tenant, member, role, user)
    membership, _ = Membership.objects.update_or_create(tenant=tenant, user=member, defaults={"role": role})
    council = council_ensure_default(tenant)
    if role in DEFAULT_COUNCIL_ROLES:
        CouncilMember.objects.get_or_create(council=council, user=member)
    _drop_seats_without_role(tenant, member, role)
    return membership


@transaction.atomic
def membership_remove(membership: Membership, user: User | None = None) -> None:
    """Remove a member from a tenant with their council seats and trust there."""
    tenant, member = membership.tenant, membership.user
    policy.check(user, tenant.pk, Capability.MANAGE_TENANT)
    _refuse_losing_last_owner(tenant, member, None, user)
    _drop_seats_without_role(tenant, member, None)
    TrustedUser.objects.filter(tenant=tenant, user=member).delete()
    membership.delete()


def council_save(council: Council, user: User | None = None) -> Council:
    """Create or rename a council of the tenant."""
    policy.check(user, council.tenant_id, Capability.MANAGE_TENANT)
    council.full_clean()
    council.save()
    return council


def council_delete(council: Council, user: User | None = None) -> None:
    policy.check(user, council.tenant_id, Capability.MANAGE_TENANT)
    if council.is_default:
        raise ValidationError({"is_default": "The default council cannot be deleted."})
    council.delete()


def council_member_add(council: Council, member: User, user: User | None = None) -> CouncilMember:
    """Seat ``member`` on ``council``; only members whose role approves may sit (CouncilMember.clean)."""
    policy.check(user, council.tenant_id, Capability.MANAGE_TENANT)
    seat = CouncilMember(council=council, user=member)
    seat.full_clean()
    seat.save()
    return seat


def council_member_remove(seat: CouncilMember, user: User | None = None) -> None:
    policy.check(user, seat.council.tenant_id, Capability.MANAGE_TENANT)
    seat.delete()


def trusted_user_add(tenant: Tenant, member: User, user: User | None = None) -> TrustedUser:
    """Trust ``member`` for ``trusted_users_only`` auto-approval; only members of the tenant can be trusted."""
    policy.check(user, tenant.pk, Capability.MANAGE_TENANT)
    trusted = TrustedUser(tenant=tenant, user=member)
    trusted.full_clean()
    trusted.save()
    return trusted


def trusted_user_remove(trusted: TrustedUser, user: User | None = None) -> None:
    policy.check(user, trusted.tenant_id, Capability.MANAGE_TENANT)
    trusted.delete()


# New keys: a marker that secret scanners and people can recognise, then 256 random bits.
API_KEY_MARKER = "art_"


def api_token_create(user: User, name: str, expires_at: dt.datetime | None = None) -> tuple[ApiToken, str]:
    """Make a new API key for ``user``; return its row and the key, which is never stored nor shown again."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "An expiry must be in the future."})
    key = API_KEY_MARKER + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user, name=name, digest=api_token_digest(key), prefix=key[: ApiToken.PREFIX_LENGTH], expires_at=expires_at
    )
    token.full_clean()
    token.save()
    return token, key


def api_token_revoke(tokens: QuerySet[ApiToken]) -> int:
    """Revoke the tokens in ``tokens`` that are not revoked yet; return how many were."""
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
