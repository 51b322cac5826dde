"""Step 4b, holds: right before an action would run, may it run now? (docs/contact-pressure.md)

A hold keeps a cleared action back: the tenant's contact policy (a customer's cap per channel and window,
quiet hours), then the tenant's executions-per-hour quota. It is checked after conditions
and approval, at the last moment before the action's first attempt is claimed, whichever way the run got
there: a pending execution cleared by governance, an approved one, a deferred one whose time has come.
A retry of an action that already started is never held (it counted when it started).

The interface is small:

- ``decide_holds(items)`` (inside the write transaction that records or claims them): the ``Hold`` of
  each held execution by id, from every check in ``HOLD_CHECKS`` (each ``(items, shadow) -> {id: Hold}``;
  a second check, such as an execution quota, is one more entry). ``contact_holds`` takes each (tenant,
  customer)'s lock first (PostgreSQL: a transaction
  advisory lock; SQLite: the transaction already holds the database's write lock), so two workers deciding
  for one customer at once take turns, and the second counts the first's action;
- ``hold_evaluation(evaluation, hold)``: a cleared evaluation becomes throttled or deferred before it is
  recorded;
- ``hold_waiting(executions, holds)``: approved or deferred executions that are held are moved with a
  guarded update (throttled, or deferred again); the rest are returned, for ``claim_attempts``.

A hold is skipped (``throttled``, ended) or deferred (``deferred``, open, ``next_attempt_at`` = when the
hold ends), as the rule's ``when_capped`` says; ``governance_decision["hold"]`` keeps ``kind``, ``reason``
(plain English) and ``until``. A shadow rule's run is never held: the hold it would have met is recorded
in its ``governance_decision["hold"]`` with ``"shadow": true``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Q

from automations import approval_facts
from automations.choices import ContactCap, WhenCapped
from automations.models import AutomationRule
from executions.choices import ACTION_ALLOWED_STATUSES, ExecutionStatus
from executions.models import AutomationExecution
from executions.monitoring import count_ended
from executions.rollups import rollups_add_executions
from executions.transitions import transition_loaded
from governance import quotas
from governance.contact_policy import ContactHold, decide_contact_hold, effective_policy, zone_or

# The event payload key that may carry the customer's own IANA time zone (quiet hours are read there).
CUSTOMER_TIMEZONE_KEY = "customer_timezone"
# Statuses a hold may move (besides a pending execution's evaluation): what waits for its first attempt.
HOLDABLE_WAITING = (ExecutionStatus.APPROVED, ExecutionStatus.DEFERRED)


@dataclass(frozen=True)
class Hold:
    """Why an action may not run now: ``kind`` (contact_cap, quiet_hours, execution_quota), the reason
    in plain English, when it ends (UTC), and whether the run waits (``defer``) or ends throttled."""

    kind: str
    reason: str
    until: dt.datetime
    defer: bool

    @property
    def status(self) -> str:
        return ExecutionStatus.DEFERRED if self.defer else ExecutionStatus.THROTTLED

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "reason": self.reason, "until": self.until.isoformat(), "deferred": self.defer}

    @property
    def message(self) -> str:
        """The execution's ``error_message``: what held it and what happens next."""
        if self.defer:
            return f"Deferred until {self.until:%Y-%m-%d %H:%M} UTC: {self.reason}"
        return f"Throttled (skipped): {self.reason}"


def hold_now() -> dt.datetime:
    """The clock holds are decided by: governance's server clock (frozen in tests through ``server_now``)."""
    return approval_facts.server_now()


def channels_of(execution: AutomationExecution) -> frozenset[str]:
    """The channels stored on the execution (``contact_channels``: ",email,any,")."""
    return frozenset(part for part in (execution.contact_channels or "").split(",") if part)


def _customer_zone(execution: AutomationExecution, rule: AutomationRule) -> Any:
    """The customer's time zone when the event carries a valid one, else the tenant's."""
    tenant_zone = execution.automation_rule.tenant.zone  # the live rule's, read along (a version's is not)
    event = execution.event if execution.event_id else None
    payload = event.payload if event is not None and isinstance(event.payload, dict) else {}
    return zone_or(payload.get(CUSTOMER_TIMEZONE_KEY), tenant_zone)


def _lock_key(tenant_id: str, customer_id: str) -> int:
    digest = hashlib.blake2b(f"contact:{tenant_id}:{customer_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_customers(keys: list[tuple[str, str]]) -> None:
    """Take each (tenant, customer)'s lock until the transaction ends, in a fixed order (no deadlock).

    PostgreSQL: a transaction advisory lock (waits at most ``DATABASE_LOCK_TIMEOUT``, as every lock).
    SQLite: nothing to take; the transaction's ``BEGIN IMMEDIATE`` holds the one write lock already.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for key in sorted({_lock_key(*pair) for pair in keys}):
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _recent_actions(tenant_id: str, customer_id: str, since: dt.datetime) -> list[tuple[dt.datetime, frozenset[str]]]:
    """When the customer's customer-facing actions since ``since`` started, with their channels (one indexed
    query: ``execution_customer_contact``). Only actions allowed to run count, deferred ones once they ran."""
    rows = (
        AutomationExecution.objects.filter(
            tenant_id=tenant_id,
            customer_id=customer_id,
            action_started_at__gt=since,
            status__in=sorted(ACTION_ALLOWED_STATUSES),
        )
        .exclude(contact_channels="")
        .order_by()  # no sort: the decision sorts the few rows itself
        .values_list("action_started_at", "contact_channels")
    )
    return [
        (started, frozenset(part for part in channels.split(",") if part))
        for started, channels in rows
        if started is not None
    ]


HoldItems = list[tuple[AutomationExecution, AutomationRule]]


def decide_holds(items: HoldItems, shadow: bool = False) -> dict[int, Hold]:
    """The hold of each held item, by execution id (call inside the write transaction that records them).

    ``items``: executions about to claim their first attempt, each with the rule as of its version, in the
    order they would run. ``shadow``: only say what would hold (no lock, nothing counted). Every check in
    ``HOLD_CHECKS`` is asked; where two hold one run, the one that ends later wins (the run would otherwise
    be held again when the first ends).
    """
    holds: dict[int, Hold] = {}
    for check in HOLD_CHECKS:
        # A run one check holds is not asked of the next (a quota counts only a start it allows); when the
        # first hold ends, every check is asked again.
        for execution_id, hold in check([item for item in items if item[0].pk not in holds], shadow).items():
            holds[execution_id] = hold
    return holds


def contact_holds(items: HoldItems, shadow: bool = False) -> dict[int, Hold]:
    """The tenant's contact policy: a customer's cap per channel and window, and quiet hours.

    An item allowed here counts against the next item for the same customer (the batch's own tally).
    """
    now = hold_now()
    capped = [
        (execution, rule)
        for execution, rule in items
        if execution.customer_id and channels_of(execution) and rule.contact_cap != ContactCap.EXEMPT
    ]
    if not capped:
        return {}
    if not shadow:
        lock_customers([(execution.tenant_id, execution.customer_id) for execution, _rule in capped])
    policies: dict[str, Any] = {}
    recent: dict[tuple[str, str], list[tuple[dt.datetime, frozenset[str]]]] = {}
    holds: dict[int, Hold] = {}
    for execution, rule in capped:
        tenant = execution.automation_rule.tenant
        if tenant.pk not in policies:
            policies[tenant.pk] = effective_policy(tenant.contact_policy)
        policy = policies[tenant.pk]
        key = (execution.tenant_id, execution.customer_id)
        if key not in recent:
            windows = [setting.window for setting in policy.values() if setting.window is not None]
            longest = max(windows, default=dt.timedelta(0))
            recent[key] = _recent_actions(*key, now - longest) if windows else []
        by_channel: dict[str, list[dt.datetime]] = defaultdict(list)
        for started, channels in recent[key]:
            for channel in channels:
                by_channel[channel].append(started)
        channels = channels_of(execution)
        decided: ContactHold | None = decide_contact_hold(
            channels, policy, now, _customer_zone(execution, rule), by_channel
        )
        if decided is None:
            if not shadow:
                recent[key].append((now, channels))  # allowed: counts against the batch's next run for them
            continue
        holds[execution.pk] = Hold(decided.kind, decided.reason, decided.until, rule.when_capped == WhenCapped.DEFER)
    return holds


def hold_evaluation(evaluation: Any, hold: Hold) -> None:
    """Turn a cleared (``running``) evaluation into a throttled or deferred one, before it is recorded."""
    fields = {
        key: value for key, value in evaluation.fields.items() if key not in ("action_started_at", "lease_expires_at")
    }
    governance = {**(evaluation.governance or fields.get("governance_decision") or {}), "hold": hold.as_dict()}
    fields.update(
        governance_decision=governance, error_message=hold.message, next_attempt_at=hold.until if hold.defer else None
    )
    evaluation.status = hold.status
    evaluation.fields = fields
    evaluation.governance = governance


def note_shadow_hold(evaluation: Any, hold: Hold) -> None:
    """A shadow run is never held: record the hold it would have met."""
    governance = {**(evaluation.governance or {}), "hold": {**hold.as_dict(), "shadow": True}}
    evaluation.fields = {**evaluation.fields, "governance_decision": governance}
    evaluation.governance = governance


def block_inactive_deferred(executions: list[AutomationExecution]) -> list[AutomationExecution]:
    """A deferred run whose rule was disabled or archived while it waited ends ``blocked`` (as a pending run
    of such a rule does) instead of acting; the others are returned."""
    remaining: list[AutomationExecution] = []
    blocked: list[AutomationExecution] = []
    for execution in executions:
        rule = execution.automation_rule
        if execution.status != ExecutionStatus.DEFERRED or (rule.enabled and not rule.is_archived):
            remaining.append(execution)
            continue
        if transition_loaded(
            execution,
            [ExecutionStatus.DEFERRED],
            ExecutionStatus.BLOCKED,
            extra_filter=Q(action_attempts=execution.action_attempts),
            next_attempt_at=None,
            error_message="the rule was disabled or archived before this execution ran",
        ):
            blocked.append(execution)
    rollups_add_executions(blocked)
    count_ended(blocked)
    return remaining


def waiting_due(executions: list[AutomationExecution], now: dt.datetime) -> list[AutomationExecution]:
    """The approved or deferred executions that may go on now: a deferred one whose time has not come (an
    early or repeated message) is left alone, neither asked of the holds (nor counted in a quota) nor
    claimed."""
    return [
        execution
        for execution in executions
        if execution.status != ExecutionStatus.DEFERRED
        or (execution.next_attempt_at is not None and execution.next_attempt_at <= now)
    ]


def hold_waiting(executions: list[AutomationExecution], holds: dict[int, Hold]) -> list[AutomationExecution]:
    """Move the held approved or deferred executions (guarded: only the one caller that finds them as read
    moves them); return the others, to be claimed. ``executions``: those ``waiting_due`` let through."""
    to_claim: list[AutomationExecution] = []
    ended: list[AutomationExecution] = []
    for execution in executions:
        hold = holds.get(execution.pk)
        if hold is None:
            to_claim.append(execution)
            continue
        governance = {**(execution.governance_decision or {}), "hold": hold.as_dict()}
        guard = Q(action_attempts=execution.action_attempts, next_attempt_at=execution.next_attempt_at)
        if execution.next_attempt_at is None:
            guard = Q(action_attempts=execution.action_attempts, next_attempt_at__isnull=True)
        moved = transition_loaded(
            execution,
            [execution.status],
            hold.status,
            extra_filter=guard,
            governance_decision=governance,
            error_message=hold.message,
            next_attempt_at=hold.until if hold.defer else None,
        )
        if moved and not hold.defer:
            ended.append(execution)
    rollups_add_executions(ended)
    count_ended(ended)
    return to_claim


def quota_holds(items: HoldItems, shadow: bool = False) -> dict[int, Hold]:
    """The tenant's executions-per-hour quota (governance/quotas.py, docs/governance.md "Tenant quotas"):
    each run let through is counted as one action start (``quota_counted_at`` notes when, so a caller that
    loses the run to another worker gives it back); one over the quota waits (deferred, whatever the rule's
    ``when_capped``) until the quota's next hour. A shadow run is never counted."""
    if shadow:
        return {}
    holds: dict[int, Hold] = {}
    for execution, _rule in items:
        counted_at = quotas.clock()
        held = quotas.execution_quota_hold(execution.automation_rule.tenant, counted_at)
        if held is None:
            execution.quota_counted_at = counted_at
        else:
            holds[execution.pk] = Hold(held.kind, held.reason, held.until, defer=True)
    return holds


# The checks a cleared action passes before it runs, in order: each ``(items, shadow) -> {execution id: Hold}``.
# The contact policy first: a run it holds is not counted in the quota.
HOLD_CHECKS: tuple[Callable[[HoldItems, bool], dict[int, Hold]], ...] = (contact_holds, quota_holds)
