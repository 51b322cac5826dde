"""Admin for the pipeline: execution logs and events (read-only), approvals with approve/reject
actions scoped to the user's councils, notifications and metric samples. Decisions go through the
same services as the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.timezone import localtime

from executions.choices import ApprovalStatus
from executions.delivery import admin as delivery_admin  # noqa: F401  (registers endpoints and deliveries)
from executions.models import ApprovalRequest, AutomationExecution, Event, MetricSample, Notification
from executions.selectors import approvals_for_user
from executions.services import ExecutionConflict, execution_approve, execution_decision_refusal, execution_reject
from governance.admin import PolicyAdmin
from governance.common.storable import database_id
from governance.users import request_user

RULE_NAME_SHOWN = 60  # characters of a rule's name in the approvals list and messages
DECIDED = {"approve": "approved", "reject": "rejected"}


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


def minute(value: datetime | None) -> str:
    """A time as the portal shows it: local, to the minute (no seconds or microseconds); "—" for none."""
    return date_format(localtime(value), "Y-m-d H:i") if value is not None else "—"


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyAdmin):
    """Approvals of the councils the user sits on. The object page has Approve and Reject buttons, and
    "approve" and "reject" actions decide the selected ones; all of them call the services the API and
    the portal call (``execution_approve``, ``execution_reject``), which ask the policy again."""

    list_display = ["execution_link", "rule_name", "tenant_id", "council", "status", "requested", "decided"]
    list_display_links = ["execution_link"]
    list_filter = ["status"]
    list_select_related = ["execution", "execution__automation_rule", "tenant", "council", "decided_by"]
    actions = ["approve_selected", "reject_selected"]
    fields = [
        "execution_link",
        "rule_name",
        "tenant",
        "council",
        "status",
        "reason",
        "requested",
        "decided_by",
        "decided_at_minute",
        "decision_note",
        "policy_snapshot",
    ]
    readonly_fields = ["execution_link", "rule_name", "requested", "decided_at_minute"]
    change_form_template = "admin/executions/approvalrequest/change_form.html"

    class Media:
        css = {"all": ["css/admin.css"]}

    # The list shows only the approvals of councils the user sits on with a role that approves
    # (the same selector as the portal); deciding asks the policy again in the service.
    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return approvals_for_user(request_user(request), status=None)

    @admin.display(description="rule")
    def rule_name(self, request_row: ApprovalRequest) -> str:
        return Truncator(request_row.execution.automation_rule.name).chars(RULE_NAME_SHOWN)

    @admin.display(description="execution", ordering="execution_id")
    def execution_link(self, request_row: ApprovalRequest) -> str:
        return f"#{request_row.execution_id} ({request_row.execution.get_status_display().lower()})"

    @admin.display(description="requested", ordering="requested_at")
    def requested(self, request_row: ApprovalRequest) -> str:
        return minute(request_row.requested_at)

    @admin.display(description="decided", ordering="decided_at")
    def decided(self, request_row: ApprovalRequest) -> SafeString | str:
        if request_row.decided_at is None:
            return "—"
        by = request_row.decided_by.get_username() if request_row.decided_by else "—"
        return format_html("{}<br>{}", minute(request_row.decided_at), by)

    @admin.display(description="decided at")
    def decided_at_minute(self, request_row: ApprovalRequest) -> str:
        return minute(request_row.decided_at)

    # --- the object page's buttons ------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        decide = path(
            "<path:object_id>/decide/<str:decision>/",
            self.admin_site.admin_view(self.decide_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_decide",
        )
        return [decide, *super().get_urls()]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        approval = self.get_object(request, unquote(object_id))
        extra: dict[str, Any] = {}
        if approval is not None and approval.status == ApprovalStatus.PENDING:
            extra["decision"] = {
                "refusal": execution_decision_refusal(approval.execution, request_user(request)),
                "approve_url": self._decide_url(approval, "approve"),
                "reject_url": self._decide_url(approval, "reject"),
            }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def decide_view(self, request: HttpRequest, object_id: str, decision: str) -> HttpResponse:
        """POST: approve or reject one approval through the services; every refusal is a message."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if decision not in ("approve", "reject"):
            raise Http404("Approve or reject.")
        # Looked up among the rows of the user's tenants (not only their councils'), so a member who may
        # not decide hears why from the service instead of "not found".
        approval = (
            super()
            .get_queryset(request)
            .select_related("execution__automation_rule")
            .filter(pk=database_id(unquote(object_id)))
            .first()
        )
        if approval is None:
            self.message_user(request, f"No approval request {object_id} in your tenants.", messages.WARNING)
            return redirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist"))
        self._decide_one(request, approval, decision, request.POST.get("reason", ""))
        return redirect(
            reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[quote(approval.pk)])
        )

    def _decide_url(self, approval: ApprovalRequest, verb: str) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_decide", args=[quote(approval.pk), verb])

    def _decide_one(self, request: HttpRequest, approval: ApprovalRequest, verb: str, reason: str = "") -> bool:
        """Decide one approval as the signed-in user; a refusal becomes an error message, not a 500."""
        execution = approval.execution
        label = f"execution {execution.pk} of “{Truncator(execution.automation_rule.name).chars(RULE_NAME_SHOWN)}”"
        try:
            if verb == "approve":
                execution_approve(execution, request_user(request))
            else:
                execution_reject(execution, request_user(request), reason or "rejected in the admin")
        except (PermissionDenied, ExecutionConflict) as error:
            self.message_user(request, f"Not {DECIDED[verb]}, {label}: {error}", messages.ERROR)
            return False
        except ValidationError as error:
            problems = "; ".join(f"{field}: {' '.join(texts)}" for field, texts in error.message_dict.items())
            self.message_user(request, f"Not {DECIDED[verb]}, {label}: {problems}", messages.ERROR)
            return False
        self.message_user(request, f"{DECIDED[verb].capitalize()} {label}.", messages.SUCCESS)
        return True

    # --- the list's bulk actions ---------------------------------------------------------------------

    def _decide(self, request: HttpRequest, queryset: QuerySet, verb: str) -> None:
        pending = list(queryset.filter(status=ApprovalStatus.PENDING).select_related("execution__automation_rule"))
        for approval in pending:
            self._decide_one(request, approval, verb)
        if not pending:
            self.message_user(request, "Nothing pending was selected.", messages.WARNING)

    @admin.action(description="Approve selected executions")
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, queryset, "approve")

    @admin.action(description="Reject selected executions")
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, queryset, "reject")
