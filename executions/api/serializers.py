"""Read serializers for executions and approval requests (the spec's JSON keys)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from executions.choices import FAILURE_STATUSES, FailureKind
from executions.failures import action_result_deliveries, failure_explanation
from executions.models import ApprovalRequest, AutomationExecution, Notification
from governance.common.api_representation import boolean, choice, integer, iso_datetime, number, text


class FailureSerializer(serializers.Serializer):
    """Why an execution failed, in plain English (docs/failures.md); null when it did not fail."""

    kind = serializers.CharField(help_text="The failure kind, as failure_kind (a classified old row included).")
    # The metaclass takes declared fields off the class; the stubs see it shadow Field.label.
    label = serializers.CharField()  # type: ignore[assignment]
    cause = serializers.CharField(help_text="What happened, naming the endpoint and its answer where known.")
    next_step = serializers.CharField(help_text="What to do next.")


class HoldSerializer(serializers.Serializer):
    """What held a run's action back (docs/contact-pressure.md); null when nothing did."""

    kind = serializers.CharField(help_text="contact_cap or quiet_hours (execution_quota: a tenant's quota).")
    reason = serializers.CharField(help_text="Why, in plain English.")
    until = serializers.DateTimeField(help_text="When the hold ends (a deferred run tries again then).")
    deferred = serializers.BooleanField(help_text="true: the run waits until then; false: it was skipped.")
    shadow = serializers.BooleanField(required=False, help_text="A shadow rule's run: what would have held it.")


class ExecutionSerializer(serializers.ModelSerializer):
    """An execution log entry with the spec's fields, plus its status and attempts."""

    automation_rule_id = serializers.CharField(read_only=True)
    tenant_id = serializers.CharField(read_only=True)
    event_id = serializers.IntegerField(read_only=True, allow_null=True)
    rule_version = serializers.SerializerMethodField()
    triggered_by_user_id = serializers.SerializerMethodField()
    outcome = serializers.CharField(read_only=True)
    # Declared: a generated read-only field loses allow_blank, and "" (did not fail) is a value it takes.
    failure_kind = serializers.ChoiceField(
        choices=FailureKind.choices,
        allow_blank=True,
        read_only=True,
        help_text='Why it failed, by kind (docs/failures.md); "" when it did not fail.',
    )
    failure = serializers.SerializerMethodField()
    customer_id = serializers.CharField(
        read_only=True, help_text="The customer the run is about (its event's or behaviour's); \"\" for none."
    )
    hold = serializers.SerializerMethodField()

    class Meta:
        model = AutomationExecution
        fields = [
            "id",
            "automation_rule_id",
            "tenant_id",
            "status",
            "outcome",
            "triggered_at",
            "trigger_source",
            "trigger_data",
            "triggered_by_user_id",
            "event_id",
            "occurrence_key",
            "rule_version",
            "conditions_met",
            "condition_results",
            "required_approval",
            "governance_decision",
            "approved_by_user_id",
            "approved_at",
            "action_started_at",
            "action_completed_at",
            "action_result",
            "action_attempts",
            "next_attempt_at",
            "success",
            "error_message",
            "failure_kind",
            "failure",
            "execution_time_ms",
            "customer_id",
            "hold",
        ]
        read_only_fields = fields

    def get_rule_version(self, execution: AutomationExecution) -> int | None:
        return execution_rule_version(execution)

    def get_triggered_by_user_id(self, execution: AutomationExecution) -> str | None:
        """The authenticated user who caused the run (manual caller, API event poster); null for none."""
        return text(execution.triggered_by_id)

    @extend_schema_field(HoldSerializer(allow_null=True))
    def get_hold(self, execution: AutomationExecution) -> dict[str, Any] | None:
        return execution.hold

    @extend_schema_field(FailureSerializer(allow_null=True))
    def get_failure(self, execution: AutomationExecution) -> dict[str, str] | None:
        return execution_failure(execution)

    def to_representation(self, execution: AutomationExecution) -> dict[str, Any]:
        return execution_representation(execution)


def execution_failure(execution: AutomationExecution) -> dict[str, str] | None:
    """The execution's failure in plain English, or None. Lists attach it for a page at once, naming the
    endpoints (``executions.selectors.attach_failure_explanations``); otherwise it is built from the row,
    with the answers ``action_result`` recorded."""
    if hasattr(execution, "failure_explained"):
        explained = execution.failure_explained
    elif execution.status in FAILURE_STATUSES:
        deliveries = action_result_deliveries(execution.action_result)
        explained = failure_explanation(execution.failure_kind, execution.status, execution.error_message, deliveries)
    else:
        explained = None
    return explained.as_dict() if explained is not None else None


def execution_rule_version(execution: AutomationExecution) -> int | None:
    """The version number of the rule the execution ran; a ``rule_version_number`` annotation saves the join."""
    if not execution.rule_version_id:
        return None
    number_read = getattr(execution, "rule_version_number", None)
    if number_read is not None:
        return number_read
    version = execution.rule_version
    return version.version if version is not None else None


def execution_representation(execution: AutomationExecution) -> dict[str, Any]:
    """What ``ExecutionSerializer`` shows for ``execution``, built directly (as rule_representation for
    rules: DRF's per-field work costs more than the query; tests/automations/test_api_representations.py
    compares both)."""
    return {
        "id": integer(execution.id),
        "automation_rule_id": text(execution.automation_rule_id),
        "tenant_id": text(execution.tenant_id),
        "status": choice(execution.status),
        "outcome": text(execution.outcome),
        "triggered_at": iso_datetime(execution.triggered_at),
        "trigger_source": choice(execution.trigger_source),
        "trigger_data": execution.trigger_data,
        "triggered_by_user_id": text(execution.triggered_by_id),
        "event_id": integer(execution.event_id),
        "occurrence_key": text(execution.occurrence_key),
        "rule_version": execution_rule_version(execution),
        "conditions_met": boolean(execution.conditions_met),
        "condition_results": execution.condition_results,
        "required_approval": boolean(execution.required_approval),
        "governance_decision": execution.governance_decision,
        "approved_by_user_id": text(execution.approved_by_user_id),
        "approved_at": iso_datetime(execution.approved_at),
        "action_started_at": iso_datetime(execution.action_started_at),
        "action_completed_at": iso_datetime(execution.action_completed_at),
        "action_result": execution.action_result,
        "action_attempts": integer(execution.action_attempts),
        "next_attempt_at": iso_datetime(execution.next_attempt_at),
        "success": boolean(execution.success),
        "error_message": text(execution.error_message),
        "failure_kind": choice(execution.failure_kind),
        "failure": execution_failure(execution),
        "execution_time_ms": number(execution.execution_time_ms),
        "customer_id": text(execution.customer_id),
        "hold": execution.hold,
    }


class ApprovalRequestSerializer(serializers.ModelSerializer):
    """A pending (or decided) approval with what an approver needs to decide."""

    execution_id = serializers.IntegerField(read_only=True)
    tenant_id = serializers.CharField(read_only=True)
    council_id = serializers.CharField(read_only=True, allow_null=True)
    council_name = serializers.SerializerMethodField()
    automation_rule_id = serializers.SerializerMethodField()
    rule_name = serializers.SerializerMethodField()
    action_type = serializers.SerializerMethodField()
    risk_level = serializers.SerializerMethodField()
    decided_by_user_id = serializers.SerializerMethodField()
    execution = serializers.SerializerMethodField()

    class Meta:
        model = ApprovalRequest
        fields = [
            "id",
            "execution_id",
            "tenant_id",
            "council_id",
            "council_name",
            "automation_rule_id",
            "rule_name",
            "action_type",
            "risk_level",
            "status",
            "reason",
            "requested_at",
            "decided_by_user_id",
            "decided_at",
            "decision_note",
            "execution",
        ]
        read_only_fields = fields

    def get_council_name(self, request: ApprovalRequest) -> str:
        return request.policy_snapshot.get("council_name", "") if isinstance(request.policy_snapshot, dict) else ""

    def get_automation_rule_id(self, request: ApprovalRequest) -> str:
        return request.execution.automation_rule_id

    def get_rule_name(self, request: ApprovalRequest) -> str:
        return request.execution.automation_rule.name

    def get_action_type(self, request: ApprovalRequest) -> str:
        return request.execution.automation_rule.action_type

    def get_risk_level(self, request: ApprovalRequest) -> str:
        return request.execution.automation_rule.risk_level

    def get_decided_by_user_id(self, request: ApprovalRequest) -> str | None:
        return str(request.decided_by_id) if request.decided_by_id else None

    def get_execution(self, request: ApprovalRequest) -> dict[str, Any]:
        return ExecutionSerializer(request.execution).data


class RejectSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class NotificationSerializer(serializers.ModelSerializer):
    """An in-app notification of the caller."""

    tenant_id = serializers.CharField(read_only=True)
    execution_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "tenant_id",
            "kind",
            "title",
            "body",
            "execution_id",
            "occurrences",
            "created_at",
            "last_occurred_at",
            "read_at",
        ]
        read_only_fields = fields
