"""Admin for the pipeline: execution logs and events (read-only), approvals with approve/reject
actions scoped to the user's councils, notifications and metric samples. Decisions go through the
same services as the API."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest

from executions.choices import ApprovalStatus
from executions.delivery import admin as delivery_admin  # noqa: F401  (registers endpoints and deliveries)
from executions.models import ApprovalRequest, AutomationExecution, Event, MetricSample, Notification
from executions.selectors import approvals_for_user
from executions.services import ExecutionConflict, execution_approve, execution_reject
from governance.admin import PolicyAdmin
from governance.users import request_user


class ReadOnlyAdmin(PolicyAdmin):
    """Rows written only by the pipeline: viewable by the tenant's members, never edited by hand
    (PolicyAdmin grants no change, add or delete capability unless a subclass names one)."""


@admin.register(AutomationExecution)
class AutomationExecutionAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "automation_rule",
        "tenant",
        "status",
        "trigger_source",
        "triggered_at",
        "conditions_met",
        "success",
        "recorded_only",
        "action_attempts",
        "execution_time_ms",
    ]
    list_filter = ["status", "recorded_only", "trigger_source", "success", "required_approval"]
    search_fields = ["id", "automation_rule__id", "automation_rule__name", "occurrence_key", "tenant__id"]
    list_select_related = ["automation_rule", "tenant"]
    date_hierarchy = "triggered_at"


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["id", "event_type", "source", "tenant", "customer_id", "received_at", "dispatched_at"]
    list_filter = ["event_type", "source"]
    search_fields = ["id", "event_type", "idempotency_key", "customer_id", "tenant__id"]
    list_select_related = ["tenant"]


@admin.register(MetricSample)
class MetricSampleAdmin(ReadOnlyAdmin):
    list_display = ["metric", "tenant", "value_number", "value_text", "recorded_at"]
    list_filter = ["metric"]
    search_fields = ["metric", "tenant__id"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["id", "user", "kind", "title", "execution", "created_at", "read_at"]
    list_filter = ["kind"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(user_id=request.user.pk)


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyAdmin):
    """Approvals of the councils the user sits on; "approve" and "reject" decide the selected ones."""

    list_display = ["id", "execution", "rule_name", "tenant", "council", "status", "requested_at", "decided_by"]
    list_filter = ["status"]
    list_select_related = ["execution", "execution__automation_rule", "tenant", "council", "decided_by"]
    actions = ["approve_selected", "reject_selected"]

    # The list shows only the approvals of councils the user sits on with a role that approves
    # (the same selector as the portal); deciding asks the policy again in the service.
    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return approvals_for_user(request_user(request), status=None)

    @admin.display(description="rule")
    def rule_name(self, request_row: ApprovalRequest) -> str:
        return request_row.execution.automation_rule.name

    def _decide(self, request: HttpRequest, queryset: QuerySet, verb: str) -> None:
        done, refused = 0, []
        for approval in queryset.filter(status=ApprovalStatus.PENDING).select_related("execution"):
            try:
                if verb == "approve":
                    execution_approve(approval.execution, request_user(request))
                else:
                    execution_reject(approval.execution, request_user(request), "rejected in the admin")
                done += 1
            except (PermissionDenied, ExecutionConflict) as error:
                refused.append(f"execution {approval.execution_id}: {error}")
        if done:
            self.message_user(request, f"{verb.capitalize()}d {done} execution(s).", messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, messages.ERROR)
        if not done and not refused:
            self.message_user(request, "Nothing pending was selected.", messages.WARNING)

    @admin.action(description="Approve selected executions")
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, queryset, "approve")

    @admin.action(description="Reject selected executions")
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, queryset, "reject")
