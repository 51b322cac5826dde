"""Steps 3 and 4, conditions and governance: evaluate pending executions, then record what was decided.

``evaluate`` runs outside every write transaction (a rule's conditions, governance and fact providers may
read much and take long) and changes nothing; ``record_evaluations`` writes the decisions with one guarded
``pending -> ...`` UPDATE for the whole batch (``rows.update_rows``) and opens an approval request for
each winner that needs one. Only the caller whose update moved a row goes on with it.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import DatabaseError
from django.utils import timezone

from automations.approval_facts import trusted_facts
from automations.choices import RuleMode
from automations.conf import app_settings
from automations.models import DEFINITION_FIELDS, AutomationRule
from executions import rows
from executions.approvals import approval_request_open
from executions.choices import ENDED_STATUSES, ExecutionStatus, TriggerSource, success_for_status
from executions.context import build_context, json_safe, tenant_facts
from executions.failures import failure_kind_for
from executions.models import AutomationExecution
from executions.monitoring import count_ended
from executions.pipeline.batch import apply_row
from executions.pipeline.shadow import shadow_action
from executions.rollups import rollups_add_executions, rule_read_at_version
from governance import quotas

logger = logging.getLogger(__name__)


def lease_seconds() -> int:
    return int(app_settings.EXECUTION_LEASE_SECONDS)


def rule_as_of(execution: AutomationExecution) -> AutomationRule:
    """The rule as it was defined at the version the execution was created with.

    An approver approves what the rule was when it fired; an edit afterwards does not change what runs.
    """
    if rule_read_at_version(execution):
        return execution.automation_rule  # logged just now from this rule object (a batch): nothing to read
    rule = execution.automation_rule
    version = execution.rule_version
    if version is None or version.version == rule.version or not isinstance(version.definition, dict):
        return rule
    snapshot = copy.copy(rule)
    # TRICKY: a shallow copy shares _state (and its related-object cache) with the live rule.
    snapshot._state = copy.copy(rule._state)
    snapshot._state.fields_cache = {}
    for field in DEFINITION_FIELDS:
        if field in version.definition:
            setattr(snapshot, field, version.definition[field])
    snapshot.version = version.version
    return snapshot


@dataclass
class Evaluation:
    """What conditions and governance decided for a pending execution, before it is recorded.

    ``status``: blocked (rule disabled or archived), failed (conditions could not be evaluated),
    skipped, awaiting_approval or running (cleared: its first action attempt is claimed with the
    same update). ``fields``: the plain values that update writes. ``rule``: the rule as of the
    execution's version (what runs).
    """

    status: str
    fields: dict[str, Any]
    rule: AutomationRule
    governance: dict[str, Any] | None = None

    def fields_at(self, now: dt.datetime) -> dict[str, Any]:
        """The values to record at ``now``: a claimed attempt's lease starts when it is recorded, not
        when the (possibly slow) evaluation began."""
        if self.status != ExecutionStatus.RUNNING:
            return self.fields
        lease = dt.timedelta(seconds=lease_seconds())
        return {**self.fields, "action_started_at": now, "lease_expires_at": now + lease}


def evaluate_pending(
    execution: AutomationExecution,
    bypass_user: User | None = None,
    facts: dict[str, Any] | None = None,
    allowed_unrecorded: int = 0,
) -> Evaluation:
    """Conditions, then governance, for a pending execution; changes nothing (see ``record_evaluations``).

    ``facts``: the tenant's latest facts when the caller has them (``evaluate`` reads them once per tenant).
    ``allowed_unrecorded``: runs of the same rule the caller's batch allowed before this one and has not
    recorded yet (``max_frequency_per_day`` counts them as it counts recorded ones).
    Raises DatabaseError on a transient database fault (the execution stays pending for the sweeper).
    """
    started = time.monotonic()
    live_rule = execution.automation_rule
    rule = rule_as_of(execution)

    def elapsed_ms() -> float:
        return (time.monotonic() - started) * 1000

    if execution.trigger_source != TriggerSource.MANUAL and (live_rule.is_archived or not live_rule.enabled):
        return Evaluation(
            ExecutionStatus.BLOCKED,
            {
                "error_message": "the rule was disabled or archived before this execution ran",
                "execution_time_ms": elapsed_ms(),
            },
            rule,
        )
    context = build_context(rule, execution.trigger_data, facts=facts)
    try:
        results = rule.run_checks(context)  # the checks Test Conditions shows, threshold first
        conditions_met = all(result.passed for result in results)
        condition_results = json_safe([result.as_dict() for result in results])
    except DatabaseError:
        raise  # transient: the task fails, the sweeper re-queues the still-pending execution
    except Exception as error:  # a stored definition that no longer evaluates: fail this run, never loop
        logger.exception(
            "rule %s: conditions could not be evaluated for execution %s",
            rule.pk,
            execution.pk,
            extra=execution.log_fields,
        )
        return Evaluation(
            ExecutionStatus.FAILED,
            {
                "trigger_data": context,
                "error_message": f"the rule's conditions could not be evaluated: {type(error).__name__}: {error}",
                "execution_time_ms": elapsed_ms(),
            },
            rule,
        )
    evaluated = {"trigger_data": context, "conditions_met": conditions_met, "condition_results": condition_results}
    if not conditions_met:
        return Evaluation(ExecutionStatus.SKIPPED, {"execution_time_ms": elapsed_ms(), **evaluated}, rule)

    try:
        # Trusted facts only, never the context: the run's authenticated actor and the server clock now.
        facts_now = trusted_facts(rule, actor_id=execution.triggered_by_id, allowed_unrecorded=allowed_unrecorded)
        decision = rule.approval_decision(context, facts_now)
    except DatabaseError:
        raise
    except Exception as error:  # a policy that no longer evaluates: fail this run, never hold up a batch
        logger.exception(
            "rule %s: governance could not decide for execution %s", rule.pk, execution.pk, extra=execution.log_fields
        )
        return Evaluation(
            ExecutionStatus.FAILED,
            {
                "error_message": f"the rule's governance could not decide: {type(error).__name__}: {error}",
                "execution_time_ms": elapsed_ms(),
                **evaluated,
            },
            rule,
        )
    governance = decision.as_dict()
    now = timezone.now()
    if rule.mode == RuleMode.SHADOW:
        # Decided like a live run, logged with the action it would have taken; nothing is acted on.
        return Evaluation(
            ExecutionStatus.SHADOWED,
            {
                "required_approval": not decision.auto_approved,
                "governance_decision": governance,
                "action_result": shadow_action(execution, rule, decision.auto_approved),
                "action_completed_at": now,
                "execution_time_ms": elapsed_ms(),
                **evaluated,
            },
            rule,
            governance,
        )
    if bypass_user is not None:
        governance["bypassed_by_user_id"] = str(bypass_user.pk)
        approval = {"approved_by_user_id": str(bypass_user.pk), "approved_at": now}
    elif decision.auto_approved:
        approval = {}
    else:
        return Evaluation(
            ExecutionStatus.AWAITING_APPROVAL,
            {
                "required_approval": True,
                "governance_decision": governance,
                "execution_time_ms": elapsed_ms(),
                **evaluated,
            },
            rule,
            governance,
        )
    return Evaluation(
        ExecutionStatus.RUNNING,
        {
            "required_approval": not decision.auto_approved,
            "governance_decision": governance,
            "execution_time_ms": elapsed_ms(),
            "action_started_at": now,
            "lease_expires_at": now + dt.timedelta(seconds=lease_seconds()),
            **approval,
            **evaluated,
        },
        rule,
        governance,
    )


def evaluate(
    executions: list[AutomationExecution], bypass_user: User | None = None
) -> list[tuple[AutomationExecution, Evaluation]]:
    """``evaluate_pending`` for pending executions, each tenant's facts read once; changes nothing.

    Call outside any transaction: a rule's conditions, governance and fact providers may read much and
    take long, and must not hold a write lock meanwhile (on SQLite the only one).
    """
    facts_by_tenant: dict[str, dict[str, Any]] = {}
    allowed_by_rule: dict[str, int] = {}  # runs this batch let run their action, not recorded yet
    evaluated: list[tuple[AutomationExecution, Evaluation]] = []
    for execution in executions:
        tenant = execution.automation_rule.tenant
        if tenant.pk not in facts_by_tenant:
            facts_by_tenant[tenant.pk] = tenant_facts(tenant)
        rule_id = execution.automation_rule_id
        evaluation = evaluate_pending(
            execution, bypass_user, facts_by_tenant[tenant.pk], allowed_unrecorded=allowed_by_rule.get(rule_id, 0)
        )
        if evaluation.status == ExecutionStatus.RUNNING:
            allowed_by_rule[rule_id] = allowed_by_rule.get(rule_id, 0) + 1
        evaluated.append((execution, evaluation))
    return evaluated


def record_evaluations(pairs: list[tuple[AutomationExecution, Evaluation]]) -> set[int]:
    """Record evaluations with one guarded ``pending -> ...`` update (call inside a transaction); the ids won.

    Running claims the first action attempt in the same update: a pending row's ``action_attempts`` never
    changes (no step leads back to pending), so the winner knows the new value without reading it. Awaiting
    approval opens the council's approval request. A field one evaluation sets and another does not keeps
    the other's current value. The winners in memory are left as the update left them.
    """
    if not pairs:
        return set()
    now = timezone.now()
    names = sorted({name for _execution, evaluation in pairs for name in evaluation.fields})
    written = []
    for execution, evaluation in pairs:
        fields = evaluation.fields_at(now)
        row = {name: fields.get(name, getattr(execution, name)) for name in names}
        row.update(
            id=execution.pk,
            status=evaluation.status,
            success=success_for_status(evaluation.status),
            updated_at=now,
            action_attempts=execution.action_attempts + (evaluation.status == ExecutionStatus.RUNNING),
            failure_kind=failure_kind_for(evaluation.status, str(row.get("error_message") or "")),
        )
        written.append(row)
    won = rows.update_rows(AutomationExecution, written, where={"status": [ExecutionStatus.PENDING]})
    for (execution, evaluation), row in zip(pairs, written, strict=True):
        if execution.pk not in won:
            if execution.quota_counted_at is not None:  # another worker recorded (and counted) this run
                quotas.execution_quota_release(execution.tenant_id, execution.quota_counted_at)
            continue
        apply_row(execution, row)
        if evaluation.status == ExecutionStatus.AWAITING_APPROVAL:
            approval_request_open(execution, evaluation.rule, evaluation.governance or {})
    # Ended here: skipped, blocked, failed, shadowed, and blocked by approval_request_open (no council).
    ended = [
        execution for execution, _evaluation in pairs if execution.pk in won and execution.status in ENDED_STATUSES
    ]
    rollups_add_executions(ended)
    count_ended(ended)
    return won
