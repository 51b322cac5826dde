"""Everything that changes a rule: create, update (a new version), enable, archive, record runs.

Each service that a person can call takes the acting ``user`` and asks the permission policy
(governance/policy.py) before it changes anything; ``user=None`` is the system.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from automations.approval_facts import trusted_facts
from automations.choices import RuleMode, RuleStateChangeKind, TriggerType
from automations.models import DEFINITION_FIELDS, EDITABLE_FIELDS, AutomationRule, RuleStateChange, RuleVersion
from automations.selectors import ConditionReport, rule_condition_report
from automations.signals import rule_archived
from governance import policy
from governance.models import Tenant
from governance.roles import Capability

# Fields a caller may set on create or update (EDITABLE_FIELDS); tracking and bookkeeping are the system's.
# TRICKY: an update saves only these, never the running totals, which record_execution changes
# concurrently with database-side updates that a full save() would overwrite with stale values.
UPDATE_SAVE_FIELDS = [
    *("assigned_council" if field == "assigned_council_id" else field for field in EDITABLE_FIELDS),
    "event_type",
    "version",
    "updated_at",
]

CREATE_DEFAULTS: dict[str, Any] = {
    "description": "",
    "category": "",
    "conditions": [],
    "enabled": True,
    "risk_level": "low",
    "requires_approval": False,
    "auto_approval_rules": {},
    "mode": "live",
    "contact_cap": "obey",
    "when_capped": "skip",
}


def _user_or_none(user: User | None) -> User | None:
    return user if user is not None and user.is_authenticated else None


def _refuse_unknown_fields(data: dict[str, Any]) -> None:
    unknown = sorted(set(data) - set(EDITABLE_FIELDS) - {"assigned_council"})
    if unknown:
        raise ValidationError({key: "not a field you can set on a rule" for key in unknown})


def _apply(rule: AutomationRule, data: dict[str, Any]) -> None:
    for key, value in data.items():
        setattr(rule, key, value)


def _validate(
    rule: AutomationRule, absent: frozenset[str] = frozenset(), validated_as: AutomationRule | None = None
) -> None:
    """The rule's one validation (``AutomationRule.definition_errors``): raises ``RuleValidationError``
    with the messages keyed by field path; the save that follows does not validate the same state again.
    ``validated_as``: a copy the caller already validated (the admin's form did), trusted only for exactly
    the same tenant and values. The service versions its own edits (with the editor), so ``save()`` does not."""
    if validated_as is not None:
        rule.adopt_validated_state(validated_as)
    rule.check_definition(absent)
    rule._versions_handled = True  # type: ignore[attr-defined]


def _snapshot(rule: AutomationRule, user: User | None, restored_from: int | None = None) -> RuleVersion:
    return RuleVersion.objects.create(
        rule=rule,
        version=rule.version,
        definition=rule.definition(),
        changed_by=_user_or_none(user),
        restored_from=restored_from,
    )


def _record_state_change(rule: AutomationRule, kind: RuleStateChangeKind, user: User | None) -> None:
    RuleStateChange.objects.create(rule=rule, kind=kind, version=rule.version, changed_by=_user_or_none(user))


@transaction.atomic
def rule_create(
    tenant: Tenant, data: dict[str, Any], user: User | None = None, *, validated_as: AutomationRule | None = None
) -> AutomationRule:
    """Validate and store a new rule at version 1; raises ValidationError naming each field path.

    PermissionDenied unless ``user`` may write rules of the new rule's risk level in ``tenant``.
    ``validated_as``: see ``_validate``.
    """
    policy.check(user, tenant.pk, Capability.WRITE)
    _refuse_unknown_fields(data)
    rule = AutomationRule(tenant=tenant, created_by=_user_or_none(user))
    _apply(rule, {**CREATE_DEFAULTS, **data})
    _validate(rule, frozenset({"trigger_config", "action_config"}) - set(data), validated_as)
    policy.check(user, tenant.pk, Capability.WRITE, rule.risk_level)
    rule.next_run_at = rule.compute_next_run_at(timezone.now())
    rule.save()
    _snapshot(rule, user)
    return rule


@transaction.atomic
def rule_update(
    rule: AutomationRule,
    changes: dict[str, Any],
    user: User | None = None,
    *,
    validated_as: AutomationRule | None = None,
    restored_from: int | None = None,
) -> AutomationRule:
    """Apply a partial update; a change to the definition bumps the version and snapshots it.

    PermissionDenied unless ``user`` may write rules of the risk level before and after the change.
    ``validated_as``: see ``_validate``. ``restored_from``: the version whose definition this is
    (``rule_restore_version``). A change of ``enabled`` is recorded as a ``RuleStateChange``.
    """
    was_enabled = rule.enabled
    risk_before = rule.risk_level
    policy.check(user, rule.tenant_id, Capability.WRITE, risk_before)
    _refuse_unknown_fields(changes)
    before = rule.definition()
    schedule_before = _schedule_inputs(rule)
    _apply(rule, changes)
    _validate(rule, validated_as=validated_as)
    policy.check(user, rule.tenant_id, Capability.WRITE, risk_before, rule.risk_level)
    definition_changed = rule.definition() != before
    save_fields = list(UPDATE_SAVE_FIELDS)
    if rule.enabled and not was_enabled:
        save_fields += _breaker_reset(rule)
    if _schedule_inputs(rule) != schedule_before:
        # The next slot is computed from now: an edit or re-enable never fires a slot already past.
        # TRICKY: saved only when recomputed, so an edit never writes back a next_run_at the tick has moved.
        rule.next_run_at = rule.compute_next_run_at(timezone.now())
        save_fields.append("next_run_at")
    if definition_changed:
        # TRICKY: the version is bumped in the database so two concurrent edits get two versions.
        AutomationRule.all_objects.filter(pk=rule.pk).update(version=F("version") + 1)
        rule.version = AutomationRule.all_objects.values_list("version", flat=True).get(pk=rule.pk)
    rule.save(update_fields=save_fields)
    if definition_changed:
        _snapshot(rule, user, restored_from)
    if rule.enabled != was_enabled:
        _record_state_change(rule, RuleStateChangeKind.ENABLED if rule.enabled else RuleStateChangeKind.DISABLED, user)
    return rule


def version_definition(version: RuleVersion) -> dict[str, Any]:
    """A version's stored definition, with what versions made before a field existed meant (``mode``: live,
    ``contact_cap``: obey, ``when_capped``: skip)."""
    definition = version.definition if isinstance(version.definition, dict) else {}
    return {"mode": "live", "contact_cap": "obey", "when_capped": "skip", **definition}


class UnknownVersion(LookupError):
    """The rule has no version of that number."""


@transaction.atomic
def rule_restore_version(rule: AutomationRule, number: int, user: User | None = None) -> AutomationRule:
    """Make version ``number``'s definition the rule's current one, as a new version that says so.

    An edit like any other (``rule_update``): validated again (a council deleted since is refused, naming
    the field), and PermissionDenied unless ``user`` may write rules of both the current and the restored
    risk level. Restoring the definition the rule already has changes nothing. Raises UnknownVersion.
    """
    version = RuleVersion.objects.filter(rule=rule, version=number).first()
    if version is None:
        raise UnknownVersion(f"{rule.pk} has no version {number}")
    definition = version_definition(version)
    changes = {field: definition[field] for field in DEFINITION_FIELDS if field in definition}
    return rule_update(rule, changes, user, restored_from=number)


def _schedule_inputs(rule: AutomationRule) -> tuple[Any, ...]:
    """What next_run_at depends on (besides the tenant's time zone)."""
    return (rule.trigger_type, rule.trigger_config, rule.enabled, rule.deleted_at)


@transaction.atomic
def rule_set_enabled(rule: AutomationRule, enabled: bool, user: User | None = None) -> AutomationRule:
    """Turn a rule on or off; not a definition change, so the version stays (a ``RuleStateChange`` records it).

    Enabling a schedule rule computes its next slot from now, so slots that passed while it was off
    never fire; disabling clears it. PermissionDenied unless ``user`` may write the rule.
    """
    policy.check(user, rule.tenant_id, Capability.WRITE, rule.risk_level)
    was_enabled = rule.enabled
    rule.enabled = enabled
    fields = ["enabled", "updated_at"]
    if not enabled or not was_enabled or rule.next_run_at is None:
        rule.next_run_at = rule.compute_next_run_at(timezone.now())
        fields.append("next_run_at")
    if enabled and not was_enabled:
        fields += _breaker_reset(rule)
    rule.save(update_fields=fields)
    if enabled != was_enabled:
        _record_state_change(rule, RuleStateChangeKind.ENABLED if enabled else RuleStateChangeKind.DISABLED, user)
    return rule


def _breaker_reset(rule: AutomationRule) -> list[str]:
    """Enabling a rule resumes it: its failures in a row start from 0 and a breaker's pause is forgotten.
    Returns the fields to save (always: the row's count may be ahead of this instance's)."""
    rule.consecutive_failures, rule.paused_at, rule.paused_reason = 0, None, ""
    return ["consecutive_failures", "paused_at", "paused_reason"]


def rules_breaker_due(rule_ids: set[str]) -> list[AutomationRule]:
    """The live, enabled rules among ``rule_ids`` whose failures in a row reached their tenant's
    ``rule_breaker_failures`` (0: the breaker is off); one query."""
    if not rule_ids:
        return []
    return list(
        AutomationRule.objects.filter(
            pk__in=rule_ids,
            enabled=True,
            mode=RuleMode.LIVE,
            tenant__rule_breaker_failures__gt=0,
            consecutive_failures__gte=F("tenant__rule_breaker_failures"),
        )
        .select_related("tenant")
        .order_by("pk")
    )


def rule_pause(rule: AutomationRule, reason: str, now: dt.datetime | None = None) -> bool:
    """The circuit breaker turns a rule off, as ``rule_set_enabled(rule, False)`` does, saying why; the system
    acts (no user). Call in the transaction that counted the failure that tripped it.

    One guarded UPDATE (``enabled`` still on) decides, so of any number of workers ending its runs at once
    exactly one pauses it and gets True: that one records the ``paused`` state change (the rule's history) and
    tells the owner. Enabling the rule again (``rule_set_enabled``, ``rule_update``) resumes it and resets
    the count.
    """
    now = now or timezone.now()
    won = AutomationRule.objects.filter(pk=rule.pk, enabled=True).update(
        enabled=False, next_run_at=None, paused_at=now, paused_reason=reason, updated_at=now
    )
    if not won:
        return False
    rule.enabled, rule.next_run_at, rule.paused_at, rule.paused_reason = False, None, now, reason
    _record_state_change(rule, RuleStateChangeKind.PAUSED, None)
    return True


def rules_reschedule(tenant: Tenant | None = None, now: dt.datetime | None = None) -> int:
    """Recompute next_run_at from now for the live schedule rules (of ``tenant``); returns how many changed.

    Call after a tenant's time zone changes: rules without their own ``timezone`` follow the tenant's.
    """
    now = now or timezone.now()
    rules = AutomationRule.objects.filter(trigger_type=TriggerType.SCHEDULE).select_related("tenant")
    if tenant is not None:
        rules = rules.filter(tenant=tenant)
    changed = 0
    for rule in rules.iterator(chunk_size=500):
        next_run_at = rule.compute_next_run_at(now)
        if next_run_at != rule.next_run_at:
            AutomationRule.all_objects.filter(pk=rule.pk).update(next_run_at=next_run_at)
            changed += 1
    return changed


@transaction.atomic
def rule_archive(rule: AutomationRule, user: User | None = None) -> AutomationRule:
    """Archive ("delete") a rule: it leaves every list and stops firing; executions stay for audit.

    Its executions still awaiting approval are cancelled (receivers of ``rule_archived``), so no
    decision can run an archived rule's action. PermissionDenied unless ``user`` may delete it.
    """
    policy.check(user, rule.tenant_id, Capability.DELETE, rule.risk_level)
    rule.deleted_at = timezone.now()
    rule.enabled = False
    rule.next_run_at = None
    rule.save(update_fields=["deleted_at", "enabled", "next_run_at", "updated_at"])
    _record_state_change(rule, RuleStateChangeKind.ARCHIVED, user)
    rule_archived.send(sender=AutomationRule, rule=rule, user=_user_or_none(user))
    return rule


def rule_draft(tenant: Tenant, definition: dict[str, Any]) -> AutomationRule:
    """An unsaved rule of ``tenant`` from a validated definition: what previews and tests run on."""
    settable = set(EDITABLE_FIELDS) - {"assigned_council_id"}
    return AutomationRule(tenant=tenant, **{key: value for key, value in definition.items() if key in settable})


def rule_test_conditions(rule: AutomationRule, context: dict[str, Any], user: User | None = None) -> ConditionReport:
    """Test Conditions for a saved or unsaved rule: what would happen with ``context`` (no side effects).

    PermissionDenied unless ``user`` may test rules of the rule's risk level in its tenant.
    """
    policy.check(user, rule.tenant_id, Capability.TEST, rule.risk_level)
    return rule_condition_report(rule, context, trusted_facts(rule, actor_id=user.pk if user is not None else None))


@dataclass
class RuleTotals:
    """Runs to add to rules' totals, summed per rule (a batch writes them with one update per rule)."""

    # rule id -> [count, succeeded, failed, ms, recorded only]
    runs: dict[str, list[float]] = field(default_factory=dict)
    # rule id -> (a success came, failures after the last success): the breaker's streak (``add_runs``)
    streaks: dict[str, tuple[bool, int]] = field(default_factory=dict)

    def add(self, rule_id: str, success: bool, execution_time_ms: float, recorded_only: bool = False) -> None:
        sums = self.runs.setdefault(rule_id, [0, 0, 0, 0.0, 0])
        sums[0] += 1
        sums[4 if success and recorded_only else 1 if success else 2] += 1
        sums[3] += float(execution_time_ms)
        reset, failures = self.streaks.get(rule_id, (False, 0))
        self.streaks[rule_id] = (True, 0) if success else (reset, failures + 1)

    def record(self) -> set[str]:
        """Write every rule's sums (call inside the transaction that recorded the runs), then forget them.

        Returns the rules whose failures in a row grew (what the circuit breaker looks at)."""
        failing = set()
        for rule_id, (count, succeeded, failed, total_ms, recorded) in sorted(self.runs.items()):
            streak = self.streaks.get(rule_id, (False, 0))
            AutomationRule.add_runs(
                rule_id, int(count), int(succeeded), int(failed), total_ms, int(recorded), streak=streak
            )
            if streak[1]:
                failing.add(rule_id)
        self.runs.clear()
        self.streaks.clear()
        return failing
