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
    event = models.ForeignKey(
        "executions.Event", null=True, blank=True, on_delete=models.PROTECT, related_name="executions"
    )
    # What this execution is the one run for: "event:<id>", "schedule:<utc slot>", "threshold:<crossing>",
    # "behavior:<customer>:<occurrence>". Unique per rule, so a redelivered trigger never runs twice.
    occurrence_key = models.CharField(max_length=255, null=True, blank=True)
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
            models.UniqueConstraint(
                fields=["automation_rule", "occurrence_key"],
                condition=models.Q(occurrence_key__isnull=False),
                name="execution_one_per_rule_occurrence",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ExecutionStatus.values), name="execution_status_valid"
            ),
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


class Event(models.Model):
    """Something that happened in a tenant's shop; the row is also the dispatch outbox."""

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("governance.Tenant", on_delete=models.CASCADE, related_name="events")
    event_type = models.CharField(max_length=100)
    source = models.CharField(max_length=100, blank=True, default="")
    payload = models.JSONField(default=empty_dict, blank=True)
    customer_id = models.CharField(max_length=100, blank=True, default="")
    idempotency_key = models.CharField(max_length=200)
    occurred_at = models.DateTimeField(default=timezone.now)
    received_at = models.DateTimeField(default=timezone.now)
    # 0 for events from outside; an event caused by an action carries its cause's depth + 1.
    causation_depth = models.PositiveSmallIntegerField(default=0)
    caused_by_execution = models.ForeignKey(
        AutomationExecution, null=True, blank=True, on_delete=models.SET_NULL, related_name="caused_events"
    )
    # Set once the event has been matched against rules; null rows are the outbox the sweeper re-queues.
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "automation_events"
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "idempotency_key"], name="event_unique_idempotency_key"),
        ]
        indexes = [
            models.Index(
                fields=["received_at"], condition=models.Q(dispatched_at__isnull=True), name="event_undispatched"
            ),
            models.Index(fields=["tenant", "event_type", "-occurred_at"], name="event_tenant_type_recent"),
            models.Index(
                fields=["tenant", "customer_id", "event_type", "occurred_at"],
                condition=~models.Q(customer_id=""),
                name="event_customer_activity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.pk} ({self.tenant_id})"


class MetricSample(models.Model):
    """One observed value of a tenant's metric or attribute (product_count = 2, store_status = active)."""

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("governance.Tenant", on_delete=models.CASCADE, related_name="metric_samples")
    metric = models.CharField(max_length=100)
    value_number = models.FloatField(null=True, blank=True)
    value_text = models.CharField(max_length=255, null=True, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "automation_metric_samples"
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["tenant", "metric", "-recorded_at"], name="metric_latest")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(value_number__isnull=True) | models.Q(value_text__isnull=True),
                name="metric_one_value_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric}={self.value} ({self.tenant_id})"

    @property
    def value(self) -> float | int | str | None:
        """The sample's value: a number (whole numbers as int) or a text."""
        if self.value_number is not None:
            number = self.value_number
            return int(number) if number.is_integer() else number
        return self.value_text


# Webhook delivery models live beside their services; importing them here makes them executions models.
from executions.delivery.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint  # noqa: E402

__all__ = [
    "AutomationExecution",
    "DeliveryAttempt",
    "Event",
    "MetricSample",
    "WebhookDelivery",
    "WebhookEndpoint",
]
