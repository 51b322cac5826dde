"""Council approvals: open a request, and take its one decision (approve or reject) exactly once."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from executions import task_names
from executions.choices import ApprovalStatus, ExecutionStatus, NotificationKind
from executions.dispatch import publish_on_commit
from executions.models import ApprovalRequest, AutomationExecution
from executions.notifications.notices import notices_mark_done, notify_users_on_commit
from executions.rollups import rollups_add_executions
from executions.selectors import user_may_decide
from executions.transitions import ExecutionConflict, notify_owners, transition, transition_loaded
from governance import policy
from governance.common.prometheus import count_executions_ended
from governance.common.storable import text_problem
from governance.roles import Capability

if TYPE_CHECKING:
    from automations.models import AutomationRule

logger = logging.getLogger(__name__)

QUORUM = 1


def approval_request_open(
    execution: AutomationExecution, rule: AutomationRule, decision: dict[str, Any]
) -> ApprovalRequest | None:
    """Open the approval request of an execution now awaiting approval and tell the council's members.

    The council is the rule's assigned council, else the tenant's default council; it and its
    members are snapshotted on the request. With no council at all the execution is blocked.
    Call inside the transaction that moved the execution to awaiting_approval.
    """
    from governance.models import Council, CouncilMember
    from governance.selectors import default_council

    council = None
    if rule.assigned_council_id:
        council = Council.objects.filter(pk=rule.assigned_council_id, tenant_id=rule.tenant_id).first()
    if council is None:
        council = default_council(rule.tenant_id)
    if council is None:
        # In memory too: the caller counts the execution as ended (blocked) in its batch.
        transition_loaded(
            execution,
            [ExecutionStatus.AWAITING_APPROVAL],
            ExecutionStatus.BLOCKED,
            error_message="this execution needs council approval, but the tenant has no council",
        )
        return None
    member_ids = sorted(CouncilMember.objects.filter(council=council).values_list("user_id", flat=True))
    request = ApprovalRequest.objects.create(
        execution=execution,
        tenant_id=execution.tenant_id,
        automation_rule_id=execution.automation_rule_id,
        council=council,
        reason=str(decision.get("reason", "")),
        policy_snapshot={
            "council_id": council.pk,
            "council_name": council.name,
            "member_ids": member_ids,
            "quorum": QUORUM,
            "rule_version": execution.rule_version.version if execution.rule_version else rule.version,
            "risk_level": rule.risk_level,
            "decision": decision,
        },
    )
    notify_users_on_commit(
        member_ids,
        execution.tenant_id,
        NotificationKind.APPROVAL_REQUESTED,
        f'Approval needed: "{rule.name}"',
        f"{rule.action_type} needs a decision from {council.name}: {request.reason}",
        execution.pk,
    )
    return request


def execution_requester_id(execution: AutomationExecution) -> str | None:
    """Who asked for this execution: its authenticated actor (``triggered_by``: a manual run's caller,
    the token user who posted its event); None for listeners and signals."""
    return str(execution.triggered_by_id) if execution.triggered_by_id is not None else None


def _request_for_decision(execution: AutomationExecution, user: User) -> ApprovalRequest:
    """The pending request ``user`` may decide now, checked at decision time, in this order:

    1. the policy: the user's role in the tenant *now* allows approving (a demoted or removed member
       is refused even if a council seat was left behind);
    2. a seat on the council the approval was requested from;
    3. the rule is not archived (409: archiving cancelled the request);
    4. the tenant's "the requester cannot approve" setting for the rule's risk level;
    5. the request is still pending (409 otherwise).
    """
    policy.check(user, execution.tenant_id, Capability.APPROVE)
    request = (
        ApprovalRequest.objects.select_related("council", "tenant", "execution__automation_rule")
        .filter(execution_id=execution.pk)
        .first()
    )
    if request is None:
        raise ExecutionConflict(f"execution {execution.pk} has no approval request (status: {execution.status})")
    if not user_may_decide(request.council_id, user):
        raise PermissionDenied("only a member of the council this approval was requested from may decide it")
    rule = request.execution.automation_rule
    if rule.deleted_at is not None:
        raise ExecutionConflict(f"execution {execution.pk} belongs to an archived rule; its approval was cancelled")
    risk_level = str((request.policy_snapshot or {}).get("risk_level") or rule.risk_level)
    requester_id = execution_requester_id(request.execution)
    if not policy.requester_may_approve(request.tenant.requester_cannot_approve, risk_level, requester_id, user):
        raise PermissionDenied(
            f"you triggered this {risk_level}-risk execution, so another council member must decide it "
            '(the tenant\'s "requester cannot approve" setting)'
        )
    if request.status != ApprovalStatus.PENDING:
        raise ExecutionConflict(f"execution {execution.pk} was already {request.status}")
    return request


def execution_decision_refusal(execution: AutomationExecution, user: User) -> str | None:
    """Why ``user`` may not decide the execution's approval now, or None when they may: the checks of
    ``execution_approve`` and ``execution_reject``, asked before offering their buttons (the admin)."""
    try:
        _request_for_decision(execution, user)
    except (PermissionDenied, ExecutionConflict) as error:
        return str(error)
    return None


def _claim_decision(request: ApprovalRequest, status: str, user: User, now: Any, note: str) -> None:
    # TRICKY: the conditional update is the decision. Of two members clicking at once, one updates a
    # row and the other updates none and is told it was already decided.
    won = ApprovalRequest.objects.filter(pk=request.pk, status=ApprovalStatus.PENDING).update(
        status=status, decided_by=user, decided_at=now, decision_note=note
    )
    if won != 1:
        current = ApprovalRequest.objects.values_list("status", flat=True).get(pk=request.pk)
        raise ExecutionConflict(f"execution {request.execution_id} was already {current}")


def execution_approve(execution: AutomationExecution, user: User) -> AutomationExecution:
    """Approve an execution awaiting approval; it continues at the action step on a worker.

    Raises PermissionDenied when ``user`` is not on the council, ExecutionConflict when the
    execution was already decided (or is not awaiting approval).
    """
    request = _request_for_decision(execution, user)
    now = timezone.now()
    with transaction.atomic():
        _claim_decision(request, ApprovalStatus.APPROVED, user, now, "")
        moved = transition(
            execution.pk,
            [ExecutionStatus.AWAITING_APPROVAL],
            ExecutionStatus.APPROVED,
            approved_by_user_id=str(user.pk),
            approved_at=now,
        )
        if not moved:
            raise ExecutionConflict(f"execution {execution.pk} is no longer awaiting approval")
        notices_mark_done(execution.pk, NotificationKind.APPROVAL_REQUESTED)
        publish_on_commit(task_names.RUN_ACTION, execution.pk)
    logger.info("execution %s approved by user %s", execution.pk, user.pk, extra=execution.log_fields)
    execution.refresh_from_db()
    return execution


def execution_reject(execution: AutomationExecution, user: User, reason: str = "") -> AutomationExecution:
    """Reject an execution awaiting approval: it ends as rejected and the tenant's owners are told."""
    if not isinstance(reason, str):
        raise ValidationError({"reason": ["must be a string"]})
    problem = text_problem(reason)
    if problem:
        raise ValidationError({"reason": [problem]})
    reason = reason.strip()[:2000]
    request = _request_for_decision(execution, user)
    now = timezone.now()
    message = f"rejected by {user.get_username()}" + (f": {reason}" if reason else "")
    with transaction.atomic():
        _claim_decision(request, ApprovalStatus.REJECTED, user, now, reason)
        moved = transition_loaded(
            execution, [ExecutionStatus.AWAITING_APPROVAL], ExecutionStatus.REJECTED, error_message=message
        )
        if not moved:
            raise ExecutionConflict(f"execution {execution.pk} is no longer awaiting approval")
        rollups_add_executions([execution])
        count_executions_ended([(ExecutionStatus.REJECTED.value, str(execution.trigger_source), None)])
        notices_mark_done(execution.pk, NotificationKind.APPROVAL_REQUESTED)
        rule_name = execution.automation_rule.name
        notify_owners(execution, NotificationKind.EXECUTION_REJECTED, f'Automation "{rule_name}" was rejected', message)
    logger.info("execution %s rejected by user %s", execution.pk, user.pk, extra=execution.log_fields)
    execution.refresh_from_db()
    return execution


def approvals_cancel_for_rule(rule: AutomationRule) -> int:
    """Cancel the pending approval requests of an archived rule's executions; returns how many.

    Each execution awaiting approval ends as cancelled, so a decision taken later answers 409 and
    the archived rule's action never runs. Call inside the archiving transaction.
    """
    now = timezone.now()
    pending = list(
        ApprovalRequest.objects.filter(
            execution__automation_rule_id=rule.pk, status=ApprovalStatus.PENDING
        ).values_list("pk", "execution_id", "execution__trigger_source")
    )
    cancelled = 0
    ended: list[int] = []
    for request_id, execution_id, trigger_source in pending:
        won = ApprovalRequest.objects.filter(pk=request_id, status=ApprovalStatus.PENDING).update(
            status=ApprovalStatus.CANCELLED, decided_at=now, decision_note="the rule was archived"
        )
        if won:
            if transition(
                execution_id,
                [ExecutionStatus.AWAITING_APPROVAL],
                ExecutionStatus.CANCELLED,
                error_message="cancelled: the rule was archived while this execution awaited approval",
            ):
                count_executions_ended([(ExecutionStatus.CANCELLED.value, trigger_source, None)])
                ended.append(execution_id)
            notices_mark_done(execution_id, NotificationKind.APPROVAL_REQUESTED)
            cancelled += 1
    rollups_add_executions(
        AutomationExecution.objects.select_related("automation_rule__tenant", "rule_version").filter(pk__in=ended)
    )
    if cancelled:
        logger.info("rule %s archived: %s pending approval(s) cancelled", rule.pk, cancelled, extra=rule.log_fields)
    return cancelled
