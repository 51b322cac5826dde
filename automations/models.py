"""What a rule is: its definition, its versions and its running totals."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from automations.choices import Category, RiskLevel, TriggerType
from automations.conditions import ConditionResult, compiled_conditions_for_rule
from automations.kinds.actions import action_kind_choices, get_action_kind
from automations.kinds.triggers import get_trigger_kind, trigger_kind_choices
from automations.schedule_times import ScheduleError, next_slot_after
from automations.validators import (
    errors_by_field,
    validate_action_config,
    validate_auto_approval_rules,
    validate_conditions,
    validate_trigger_config,
)

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from governance.decisions import ApprovalDecision, GovernanceFacts

# The fields that make up a rule's definition: editing any of them makes a new version.
DEFINITION_FIELDS = (
    "name",
    "description",
    "category",
    "trigger_type",
    "trigger_config",
    "conditions",
    "action_type",
    "action_config",
    "risk_level",
    "requires_approval",
    "assigned_council_id",
    "auto_approval_rules",
)


def new_rule_id() -> str:
    return f"automation_{uuid.uuid4().hex}"


def empty_list() -> list[Any]:
    return []


def empty_dict() -> dict[str, Any]:
    return {}


class LiveRuleManager(models.Manager["AutomationRule"]):
    """Rules that have not been archived (deleted)."""

    def get_queryset(self) -> models.QuerySet[AutomationRule]:
        return super().get_queryset().filter(deleted_at__isnull=True)


class AutomationRule(models.Model):
    """trigger -> conditions -> governance -> action, owned by one tenant."""

    # Core
    id = models.CharField(primary_key=True, max_length=64, default=new_rule_id, editable=False)
    tenant = models.ForeignKey("governance.Tenant", on_delete=models.PROTECT, related_name="automation_rules")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    category = models.CharField(max_length=100, choices=Category.choices, blank=True, default="")
    enabled = models.BooleanField(default=True)

    # Trigger
    # Any registered trigger kind (automations.kinds): no database check lists them, see docs/extending.md.
    trigger_type = models.CharField(max_length=20, choices=trigger_kind_choices)
    trigger_config = models.JSONField(default=empty_dict)
    # Denormalised from trigger_config for the event matcher's indexed lookup; "" for other triggers.
    event_type = models.CharField(max_length=100, blank=True, default="", editable=False)

    # Schedule triggers only: the next slot's instant (UTC), kept in sync by the rule services and advanced
    # by the schedule tick; null for other triggers, disabled or archived rules, and schedules that never fire.
    next_run_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Conditions
    conditions = models.JSONField(default=empty_list, blank=True)

    # Action
    # Any registered action kind (automations.kinds): no database check lists them, see docs/extending.md.
    action_type = models.CharField(max_length=40, choices=action_kind_choices)
    action_config = models.JSONField(default=empty_dict)

    # Governance
    risk_level = models.CharField(max_length=20, choices=RiskLevel.choices, default=RiskLevel.LOW)
    requires_approval = models.BooleanField(default=False)
    assigned_council = models.ForeignKey(
        "governance.Council", null=True, blank=True, on_delete=models.SET_NULL, related_name="automation_rules"
    )
    auto_approval_rules = models.JSONField(default=empty_dict, blank=True)

    # Execution tracking
    last_triggered_at = models.DateTimeField(null=True, blank=True)
    last_executed_at = models.DateTimeField(null=True, blank=True)
    execution_count = models.PositiveIntegerField(default=0)
    success_count = models.PositiveIntegerField(default=0)
    failure_count = models.PositiveIntegerField(default=0)
    average_execution_time_ms = models.FloatField(default=0.0)

    # Bookkeeping
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    all_objects = models.Manager()
    objects = LiveRuleManager()

    class Meta:
        db_table = "automation_rules"
        ordering = ["-created_at", "id"]
        base_manager_name = "all_objects"
        default_manager_name = "objects"
        indexes = [
            models.Index(
                fields=["tenant", "event_type"],
                condition=models.Q(enabled=True, deleted_at__isnull=True, trigger_type="event"),
                name="rule_enabled_event_lookup",
            ),
            models.Index(
                fields=["trigger_type", "tenant"],
                condition=models.Q(enabled=True, deleted_at__isnull=True),
                name="rule_enabled_by_trigger",
            ),
            models.Index(fields=["tenant", "category", "created_at"], name="rule_tenant_list"),
            # The schedule tick reads only due rules through this index, so its cost follows the due rules.
            models.Index(
                fields=["next_run_at"],
                condition=models.Q(
                    enabled=True, deleted_at__isnull=True, trigger_type=TriggerType.SCHEDULE, next_run_at__isnull=False
                ),
                name="rule_schedule_due",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(risk_level__in=RiskLevel.values), name="rule_risk_level_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.event_type = self.derived_event_type()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "trigger_config" in update_fields:
            kwargs["update_fields"] = {*update_fields, "event_type"}
        super().save(*args, **kwargs)

    @property
    def log_fields(self) -> dict[str, object]:
        """The ids a log line about this rule carries (``extra=``; JSON logs show them)."""
        return {"tenant_id": self.tenant_id, "rule_id": self.pk}

    # --- validation ------------------------------------------------------------------------------

    def clean(self) -> None:
        """Validate every JSON field with its one validator; errors name the field path."""
        errors = {}
        if get_trigger_kind(self.trigger_type) is not None:
            errors.update(validate_trigger_config(self.trigger_type, self.trigger_config))
        errors.update(validate_conditions(self.conditions))
        if get_action_kind(self.action_type) is not None:
            errors.update(validate_action_config(self.action_type, self.action_config))
        errors.update(validate_auto_approval_rules(self.auto_approval_rules))
        if not (self.name or "").strip():
            errors.setdefault("name", []).append("this field is required")
        grouped = errors_by_field(errors)
        council = self.assigned_council if self.assigned_council_id else None
        if council is not None and self.tenant_id and council.tenant_id != self.tenant_id:
            grouped.setdefault("assigned_council", []).append("the council belongs to another tenant")
        if grouped:
            raise ValidationError(grouped)

    def derived_event_type(self) -> str:
        if self.trigger_type != TriggerType.EVENT or not isinstance(self.trigger_config, dict):
            return ""
        value = self.trigger_config.get("event_type")
        return value if isinstance(value, str) else ""

    def compute_next_run_at(self, after: dt.datetime) -> dt.datetime | None:
        """The first schedule slot strictly after ``after``, or None unless this is a live, enabled schedule."""
        if self.trigger_type != TriggerType.SCHEDULE or not self.enabled or self.deleted_at is not None:
            return None
        try:
            slot = next_slot_after(self.trigger_config, self.tenant.timezone, after)
        except ScheduleError as error:
            # An old bad row logs and never fires; it never crashes a save or a tick.
            logger.warning("rule %s: schedule cannot be computed: %s", self.pk, error)
            return None
        return slot.utc if slot is not None else None

    def definition(self) -> dict[str, Any]:
        """The versioned part of the rule, as plain JSON."""
        return {field: getattr(self, field) for field in DEFINITION_FIELDS}

    @property
    def is_archived(self) -> bool:
        return self.deleted_at is not None

    @property
    def success_rate(self) -> float | None:
        if not self.execution_count:
            return None
        return self.success_count / self.execution_count

    # --- the spec's methods: each delegates ------------------------------------------------------

    def evaluate_conditions(self, context: dict[str, Any]) -> bool:
        """True when every condition holds for ``context`` (an empty list always holds)."""
        return compiled_conditions_for_rule(self).matches(context)

    def evaluate_conditions_detailed(self, context: dict[str, Any]) -> list[ConditionResult]:
        """One result per top-level condition: condition, passed, actual and expected value, reason."""
        return compiled_conditions_for_rule(self).explain(context)

    def approval_decision(
        self, context: dict[str, Any] | None = None, facts: GovernanceFacts | None = None
    ) -> ApprovalDecision:
        """The governance decision for running this rule's action now, with reasons.

        Governance reads no fact from ``context`` (the spec's argument; a payload or a caller's context
        is data anyone may forge): ``facts`` come from trusted sources, by default the server clock, no
        actor, the rule's own budget and our own execution counts (docs/governance.md).
        """
        from automations.governance import rule_approval_decision

        return rule_approval_decision(self, facts)

    def should_auto_approve(self, context: dict[str, Any] | None = None, facts: GovernanceFacts | None = None) -> bool:
        return self.approval_decision(context, facts).auto_approved

    def record_execution(self, success: bool, execution_time_ms: float) -> None:
        """Add one execution to the running totals with a single database-side update."""
        from automations.services import rule_record_execution

        rule_record_execution(self, success, execution_time_ms)


class RuleVersion(models.Model):
    """A snapshot of a rule's definition at one version; executions point at the one they ran."""

    rule = models.ForeignKey(AutomationRule, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    definition = models.JSONField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "automation_rule_versions"
        ordering = ["rule_id", "-version"]
        constraints = [models.UniqueConstraint(fields=["rule", "version"], name="rule_version_unique")]

    def __str__(self) -> str:
        return f"{self.rule_id} v{self.version}"
