"""The API's side of the permission policy (governance/policy.py): the caller's roles, read once per
request, and the policy's refusals as DRF 403s."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request

from governance.policy import check_role
from governance.roles import Capability, role_allows
from governance.selectors import roles_for_user
from governance.users import request_user

__all__ = ["Capability", "request_roles", "request_tenant_ids", "require", "require_role", "resolve_tenant_id"]


def request_roles(request: Request) -> dict[str, str]:
    """The caller's ``{tenant_id: role}``, looked up once per request."""
    roles = getattr(request, "_tenant_roles", None)
    if roles is None:
        roles = roles_for_user(request_user(request))
        request._tenant_roles = roles  # type: ignore[attr-defined]  # cached on the request object
    return roles


def request_tenant_ids(request: Request) -> list[str]:
    return sorted(request_roles(request))


def require(request: Request, tenant_id: str, capability: str, *risk_levels: str | None) -> None:
    """Raise 403 unless the caller's role in ``tenant_id`` grants ``capability`` for ``risk_levels``."""
    require_role(request_roles(request).get(tenant_id), capability, *risk_levels)


def require_role(role: str | None, capability: str, *risk_levels: str | None) -> None:
    """Raise 403 unless ``role`` (None: not a member) grants ``capability`` for ``risk_levels``."""
    try:
        check_role(role, capability, *risk_levels)
    except DjangoPermissionDenied as error:
        raise PermissionDenied(str(error)) from error


def tenants_allowing(request: Request, capability: str) -> set[str]:
    return {tenant for tenant, role in request_roles(request).items() if role_allows(role, capability)}


def resolve_tenant_id(request: Request, data: Any) -> str:
    """The tenant a write is for: ``tenant_id`` from the body, or the caller's only tenant.

    Raises 403 for a tenant the caller is not in (whether or not it exists: no existence oracle).
    """
    tenant_id = data.get("tenant_id") if isinstance(data, dict) else None
    roles = request_roles(request)
    if tenant_id in (None, ""):
        if len(roles) == 1:
            return next(iter(roles))
        raise ValidationError({"tenant_id": ["This field is required (you belong to more than one tenant)."]})
    if not isinstance(tenant_id, str):
        raise ValidationError({"tenant_id": ["Must be a string."]})
    if tenant_id not in roles:
        raise PermissionDenied("You are not a member of this tenant.")
    return tenant_id
