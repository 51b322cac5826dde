"""The one permission policy: who may do what in a tenant (docs/api.md "Roles", docs/security.md).

The table itself is ``governance.roles`` (``ROLE_MATRIX``); this module applies it to an acting user.

Every service that changes state, runs, tests or decides asks this module, so the API, the portal,
the admin and a shell call get the same answer. A caller passes the acting user (``actor``); ``None``
is the system itself (listeners, sweepers, seed commands, an operator's shell code that names no
user), which the policy does not restrict.

A capability about a rule is checked for every risk level involved: an edit needs it for the rule's
risk before *and* after the change, so lowering a high-risk rule to low is as much a high-risk edit
as raising one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied

from governance.roles import refusal, role_allows
from governance.selectors import role_for_user, roles_for_user

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


def actor_role(actor: User, tenant_id: str) -> str | None:
    """The actor's role in the tenant right now ("owner" for a superuser), or None."""
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
