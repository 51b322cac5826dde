"""The one permission policy: who may do what in a tenant (docs/api.md "Roles", docs/security.md).

Every service that changes state, runs, tests or decides asks this module, so the API, the portal,
the admin and a shell call get the same answer. A caller passes the acting user (``actor``); ``None``
is the system itself (listeners, sweepers, seed commands, an operator's shell code that names no
user), which the policy does not restrict.

A capability about a rule is checked for every risk level involved: an edit needs it for the rule's
risk before *and* after the change, so lowering a high-risk rule to low is as much a high-risk edit
as raising one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied

from governance.choices import Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


class Capability(StrEnum):
    READ = "read"  # list, get, executions, stats, summaries, recommendations, the admin's lists
    TEST = "test"  # test conditions (saved or unsaved rules)
    WRITE = "write"  # create, edit, enable, disable
    RUN = "run"  # execute manually
    BYPASS_APPROVAL = "bypass_approval"  # execute with bypass_approval=true
    DELETE = "delete"  # archive
    APPROVE = "approve"  # approve or reject an execution awaiting approval; sit on a council
    INGEST = "ingest"  # post events and metric samples
    MANAGE_WEBHOOKS = "manage_webhooks"  # create, edit, rotate, redeliver webhook endpoints
    MANAGE_TENANT = "manage_tenant"  # tenant settings, memberships, councils, trusted users


ALL_RISKS = frozenset({"low", "medium", "high", "critical"})
LOW_AND_MEDIUM = frozenset({"low", "medium"})

# role -> capability -> the rule risk levels it covers (capabilities not about a rule use ALL_RISKS).
ROLE_MATRIX: dict[str, dict[str, frozenset[str]]] = {
    Role.OWNER: dict.fromkeys(Capability, ALL_RISKS),
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

# Roles whose members may sit on a council and decide approvals.
APPROVER_ROLES = frozenset(role for role, capabilities in ROLE_MATRIX.items() if Capability.APPROVE in capabilities)


def role_allows(role: str | None, capability: str, *risk_levels: str | None) -> bool:
    """Whether ``role`` has ``capability`` for every one of ``risk_levels`` (None: not about a rule)."""
    risks = ROLE_MATRIX.get(role or "", {}).get(capability)
    if risks is None:
        return False
    return all(risk is None or risk in risks for risk in risk_levels)


def risks_allowed(role: str | None, capability: str) -> frozenset[str]:
    """The rule risk levels for which ``role`` has ``capability`` (empty: none)."""
    return ROLE_MATRIX.get(role or "", {}).get(capability, frozenset())


def refusal(role: str | None, capability: str, *risk_levels: str | None) -> str | None:
    """Why ``role`` may not use ``capability`` for ``risk_levels``, or None when it may."""
    if role is None:
        return "You are not a member of this tenant."
    if role_allows(role, capability, *risk_levels):
        return None
    words = capability.replace("_", " ")
    covered = ROLE_MATRIX.get(role, {}).get(capability)
    if covered:
        risky = sorted({risk for risk in risk_levels if risk and risk not in covered})
        return f"Your role ({role}) does not allow {words} on a {' or '.join(risky)}-risk rule."
    return f"Your role ({role}) does not allow {words}."


def actor_role(actor: User, tenant_id: str) -> str | None:
    """The actor's role in the tenant right now ("owner" for a superuser), or None."""
    from governance.selectors import role_for_user

    return role_for_user(actor, tenant_id)


def allows(actor: User | AnonymousUser | None, tenant_id: str, capability: str, *risk_levels: str | None) -> bool:
    """Whether ``actor`` (None: the system) may use ``capability`` in the tenant for ``risk_levels``."""
    if actor is None:
        return True
    if not actor.is_authenticated or not actor.is_active:
        return False
    return role_allows(actor_role(actor, tenant_id), capability, *risk_levels)


def check(actor: User | AnonymousUser | None, tenant_id: str, capability: str, *risk_levels: str | None) -> None:
    """Raise PermissionDenied (with the reason) unless ``actor`` may use ``capability`` for ``risk_levels``.

    The role is read at the moment of the check, so a demotion takes effect on the next call.
    """
    if actor is None:
        return
    if not actor.is_authenticated or not actor.is_active:
        raise PermissionDenied("Sign in as an active user.")
    reason = refusal(actor_role(actor, tenant_id), capability, *risk_levels)
    if reason is not None:
        raise PermissionDenied(reason)


def check_role(role: str | None, capability: str, *risk_levels: str | None) -> None:
    """``check`` for a role the caller already read (the API reads it with the row, in one query)."""
    reason = refusal(role, capability, *risk_levels)
    if reason is not None:
        raise PermissionDenied(reason)


def tenant_ids_allowing(actor: User | AnonymousUser, capability: str) -> list[str]:
    """The tenants in which ``actor`` has ``capability`` (for some risk level)."""
    from governance.selectors import roles_for_user

    if not actor.is_authenticated or not actor.is_active:
        return []
    return sorted(tenant for tenant, role in roles_for_user(actor).items() if role_allows(role, capability))


# --- separation of duties ------------------------------------------------------------------------

RISK_ORDER = ("low", "medium", "high", "critical")


def requester_may_approve(setting: str, risk_level: str, requester_id: object, approver: User) -> bool:
    """The tenant's "the requester cannot approve" setting: ``setting`` is the lowest risk level it
    covers (``Tenant.requester_cannot_approve``; "never" turns it off). The requester is the user who
    triggered the execution (a manual run's caller, an event's poster); none for listeners and signals.
    """
    if requester_id in (None, "") or str(requester_id) != str(approver.pk):
        return True
    if setting not in RISK_ORDER or risk_level not in RISK_ORDER:
        return True
    return RISK_ORDER.index(risk_level) < RISK_ORDER.index(setting)
