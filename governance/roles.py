"""The role matrix: which role may use which capability, for which rule risk levels.

Pure data and functions, no database: ``governance.policy`` applies it to an acting user (reading the
user's role at the moment of the check), and models import it without importing the policy's lookups.
docs/api.md "Roles" shows the same table.
"""

from __future__ import annotations

from enum import StrEnum

from governance.choices import Role


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
