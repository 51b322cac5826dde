"""Who may do what in a tenant: the role matrix of docs/api.md, in one table."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request

from governance.choices import Role
from governance.selectors import roles_for_user


class Capability:
    READ = "read"  # list, get, executions, stats, summaries, recommendations
    TEST = "test"  # test-conditions (including unsaved rules)
    WRITE = "write"  # create, edit, enable, disable
    RUN = "run"  # execute manually
    BYPASS_APPROVAL = "bypass_approval"  # execute with bypass_approval=true
    DELETE = "delete"  # archive
    APPROVE = "approve"  # approve or reject an execution awaiting approval
    INGEST = "ingest"  # post events and metric samples
    MANAGE_WEBHOOKS = "manage_webhooks"  # create, edit, rotate the secret of webhook endpoints


ALL_RISKS = frozenset({"low", "medium", "high", "critical"})
LOW_AND_MEDIUM = frozenset({"low", "medium"})

# role -> capability -> the rule risk levels it covers (capabilities not about a rule use ALL_RISKS).
ROLE_MATRIX: dict[str, dict[str, frozenset[str]]] = {
    Role.OWNER: {
        Capability.READ: ALL_RISKS,
        Capability.TEST: ALL_RISKS,
        Capability.WRITE: ALL_RISKS,
        Capability.RUN: ALL_RISKS,
        Capability.BYPASS_APPROVAL: ALL_RISKS,
        Capability.DELETE: ALL_RISKS,
        Capability.APPROVE: ALL_RISKS,
        Capability.INGEST: ALL_RISKS,
        Capability.MANAGE_WEBHOOKS: ALL_RISKS,
    },
    Role.COLLABORATOR: {
        Capability.READ: ALL_RISKS,
        Capability.TEST: LOW_AND_MEDIUM,
        Capability.WRITE: LOW_AND_MEDIUM,
        Capability.RUN: LOW_AND_MEDIUM,
        Capability.INGEST: ALL_RISKS,
    },
    Role.COUNCIL: {
        Capability.READ: ALL_RISKS,
        Capability.APPROVE: ALL_RISKS,
    },
    Role.VIEWER: {
        Capability.READ: ALL_RISKS,
    },
}


def role_allows(role: str | None, capability: str, risk_level: str | None = None) -> bool:
    """Whether ``role`` has ``capability`` (for a rule of ``risk_level`` when it is about one)."""
    risks = ROLE_MATRIX.get(role or "", {}).get(capability)
    if risks is None:
        return False
    return risk_level is None or risk_level in risks


def request_roles(request: Request) -> dict[str, str]:
    """The caller's ``{tenant_id: role}``, looked up once per request."""
    roles = getattr(request, "_tenant_roles", None)
    if roles is None:
        roles = roles_for_user(request.user)
        request._tenant_roles = roles
    return roles


def request_tenant_ids(request: Request) -> list[str]:
    return sorted(request_roles(request))


def require(request: Request, tenant_id: str, capability: str, risk_level: str | None = None) -> None:
    """Raise 403 unless the caller's role in ``tenant_id`` grants ``capability`` for ``risk_level``."""
    require_role(request_roles(request).get(tenant_id), capability, risk_level)


def require_role(role: str | None, capability: str, risk_level: str | None = None) -> None:
    """Raise 403 unless ``role`` (None: not a member) grants ``capability`` for ``risk_level``."""
    if role is None:
        raise PermissionDenied("You are not a member of this tenant.")
    if not role_allows(role, capability, risk_level):
        about = f" on a {risk_level}-risk rule" if risk_level and ROLE_MATRIX.get(role, {}).get(capability) else ""
        raise PermissionDenied(f"Your role ({role}) does not allow {capability.replace('_', ' ')}{about}.")


def resolve_tenant_id(request: Request, data: Any) -> str:
    """The tenant a write is for: ``tenant_id`` from the body, or the caller's only tenant.

    Raises 403 for a tenant the caller is not in (whether or not it exists: no existence oracle).
    """
    from rest_framework.exceptions import ValidationError

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
