"""Running rules: one AutomationExecution per trigger of a rule, the audit trail of what happened."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from executions.choices import (
    ENDED_STATUSES,
    OPEN_STATUSES,
    UNSUCCESSFUL_ENDED_STATUSES,
    ExecutionStatus,
    TriggerSource,
    success_for_status,
)


def empty_dict() -> dict:
    return {}


def empty_list() -> list:
    return []


class AutomationExecution(models.Model):
    id = models.BigAutoField(primary_key=True)
    automation_rule = models.ForeignKey(
        "automations.AutomationRule", on_delete=models.PROTECT, related_name="executions"
    )
    tenant = models.ForeignKey("governance.Tenant", on_delete=models.PROTECT, related_name="executions")
    rule_version = models.ForeignKey(
        "automations.RuleVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="executions"
    )
    status = models.CharField(max_length=20, choices=ExecutionStatus.choices, default=ExecutionStatus.PENDING)

    triggered_at = models.DateTimeField(default=timezone.now)
    trigger_source = models.CharField(max_length=20, choices=TriggerSource.choices)
    trigger_data = models.JSONField(default=empty_dict, blank=True)

    conditions_met = models.BooleanField(null=True, blank=True)
    condition_results = models.JSONField(default=empty_list, blank=True)

    action_started_at = models.DateTimeField(null=True, blank=True)
    action_completed_at = models.DateTimeField(null=True, blank=True)
    action_result = models.JSONField(null=True, blank=True)

    success = models.BooleanField(null=True, blank=True)
    error_message = models.TextField(blank=True, default="")
    execution_time_ms = models.FloatField(null=True, blank=True)

    required_approval = models.BooleanField(default=False)
    approved_by_user_id = models.CharField(max_length=150, blank=True, default="")
    approved_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "automation_executions"
        ordering = ["-triggered_at", "-id"]
        indexes = [
            models.Index(fields=["automation_rule", "-triggered_at"], name="execution_rule_recent"),
            models.Index(fields=["tenant", "-triggered_at"], name="execution_tenant_recent"),
            models.Index(fields=["automation_rule", "status", "triggered_at"], name="execution_rule_status"),
            models.Index(
                fields=["status", "updated_at"],
                condition=models.Q(status__in=sorted(OPEN_STATUSES)),
                name="execution_open_by_status",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=ExecutionStatus.values), name="execution_status_valid"),
            models.CheckConstraint(
                condition=models.Q(trigger_source__in=TriggerSource.values), name="execution_trigger_source_valid"
            ),
            # success is true only for succeeded, false for every other ended status, null while open.
            models.CheckConstraint(
                condition=(
                    models.Q(status=ExecutionStatus.SUCCEEDED, success=True)
                    | models.Q(status__in=sorted(UNSUCCESSFUL_ENDED_STATUSES), success=False)
                    | models.Q(status__in=sorted(OPEN_STATUSES), success__isnull=True)
                ),
                name="execution_success_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return f"execution {self.pk} of {self.automation_rule_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status not in ENDED_STATUSES

    def set_status(self, status: str) -> None:
        """Set status and the success flag that goes with it."""
        self.status = status
        self.success = success_for_status(status)
