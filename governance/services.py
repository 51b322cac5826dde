"""Writes for tenants, memberships, councils and API tokens."""

from __future__ import annotations

import datetime as dt
import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from governance.choices import Role
from governance.models import ApiToken, Council, CouncilMember, Membership, Tenant, api_token_digest

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


# New keys: a marker that secret scanners and people can recognise, then 256 random bits.
API_KEY_MARKER = "art_"


def api_token_create(user: AbstractBaseUser, name: str, expires_at: dt.datetime | None = None) -> tuple[ApiToken, str]:
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
