"""What the rules API reads and writes. Writes are validated by automations.validators and the services;
the request serializers here describe the bodies (for the schema and the browsable API)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from automations.api.fields import KindChoiceField
from automations.choices import Category, ContactCap, RiskLevel, RuleMode, WhenCapped
from automations.kinds.actions import action_kind_choices
from automations.kinds.triggers import trigger_kind_choices
from automations.models import AutomationRule
from governance.common.api_representation import boolean, choice, integer, iso_datetime, number, text


class AutomationRuleSerializer(serializers.ModelSerializer):
    """A rule as the API shows it: every spec column plus version and bookkeeping."""

    tenant_id = serializers.CharField(read_only=True)
    category = serializers.ChoiceField(choices=Category.choices, allow_blank=True, read_only=True)
    assigned_council_id = serializers.CharField(read_only=True, allow_null=True)
    created_by_id = serializers.IntegerField(read_only=True, allow_null=True)
    trigger_type = KindChoiceField(trigger_kind_choices, read_only=True)
    trigger_config = serializers.JSONField(read_only=True)
    action_type = KindChoiceField(action_kind_choices, read_only=True)
    conditions = serializers.JSONField(read_only=True)
    action_config = serializers.JSONField(read_only=True)
    auto_approval_rules = serializers.JSONField(read_only=True)
    paused_by_breaker = serializers.BooleanField(
        read_only=True,
        help_text="The circuit breaker turned the rule off (paused_reason says why); enable it to resume.",
    )
    paused_reason = serializers.CharField(read_only=True, allow_blank=True)

    class Meta:
        model = AutomationRule
        fields = [
            "id",
            "tenant_id",
            "name",
            "description",
            "category",
            "enabled",
            "trigger_type",
            "trigger_config",
            "conditions",
            "action_type",
            "action_config",
            "risk_level",
            "requires_approval",
            "assigned_council_id",
            "auto_approval_rules",
            "mode",
            "contact_cap",
            "when_capped",
            "last_triggered_at",
            "last_executed_at",
            "next_run_at",
            "execution_count",
            "success_count",
            "failure_count",
            "recorded_only_count",
            "average_execution_time_ms",
            "consecutive_failures",
            "paused_by_breaker",
            "paused_at",
            "paused_reason",
            "version",
            "created_at",
            "updated_at",
            "created_by_id",
        ]
        read_only_fields = fields

    def to_representation(self, rule: AutomationRule) -> dict[str, Any]:
        return rule_representation(rule)


def rule_representation(rule: AutomationRule) -> dict[str, Any]:
    """What ``AutomationRuleSerializer`` shows for ``rule``, built directly.

    TRICKY: every rule the API returns goes through here (get, list of up to 10,000, envelopes). DRF
    builds a ModelSerializer's fields per instance and calls each field's to_representation, over ten times
    the cost of this dict. Same keys, order and values as the declared fields (a None stays None, as
    DRF skips fields whose value is None); tests/automations/test_api_representations.py compares
    both on rules with and without optional values.
    """
    return {
        "id": text(rule.id),
        "tenant_id": text(rule.tenant_id),
        "name": text(rule.name),
        "description": text(rule.description),
        "category": choice(rule.category),
        "enabled": boolean(rule.enabled),
        "trigger_type": choice(rule.trigger_type),
        "trigger_config": rule.trigger_config,
        "conditions": rule.conditions,
        "action_type": choice(rule.action_type),
        "action_config": rule.action_config,
        "risk_level": choice(rule.risk_level),
        "requires_approval": boolean(rule.requires_approval),
        "assigned_council_id": text(rule.assigned_council_id),
        "auto_approval_rules": rule.auto_approval_rules,
        "mode": choice(rule.mode),
        "contact_cap": choice(rule.contact_cap),
        "when_capped": choice(rule.when_capped),
        "last_triggered_at": iso_datetime(rule.last_triggered_at),
        "last_executed_at": iso_datetime(rule.last_executed_at),
        "next_run_at": iso_datetime(rule.next_run_at),
        "execution_count": integer(rule.execution_count),
        "success_count": integer(rule.success_count),
        "failure_count": integer(rule.failure_count),
        "recorded_only_count": integer(rule.recorded_only_count),
        "average_execution_time_ms": number(rule.average_execution_time_ms),
        "consecutive_failures": integer(rule.consecutive_failures),
        "paused_by_breaker": boolean(rule.paused_by_breaker),
        "paused_at": iso_datetime(rule.paused_at),
        "paused_reason": text(rule.paused_reason),
        "version": integer(rule.version),
        "created_at": iso_datetime(rule.created_at),
        "updated_at": iso_datetime(rule.updated_at),
        "created_by_id": integer(rule.created_by_id),
    }


class RuleDefinitionFields(serializers.Serializer):
    """The fields of a rule definition as a client sends them."""

    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True)
    category = serializers.ChoiceField(choices=Category.choices, required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)
    trigger_type = KindChoiceField(trigger_kind_choices)
    trigger_config = serializers.DictField(help_text="Trigger-type specific; see docs/api.md.")
    conditions = serializers.ListField(child=serializers.DictField(), required=False)
    action_type = KindChoiceField(action_kind_choices)
    action_config = serializers.DictField(help_text="Action-type specific; see docs/actions.md.")
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices, required=False)
    requires_approval = serializers.BooleanField(required=False)
    assigned_council_id = serializers.CharField(required=False, allow_null=True)
    auto_approval_rules = serializers.DictField(required=False)
    mode = serializers.ChoiceField(
        choices=RuleMode.choices, required=False, help_text="live (default) or shadow: docs/shadow.md."
    )
    contact_cap = serializers.ChoiceField(
        choices=ContactCap.choices,
        required=False,
        help_text="obey (default): the tenant's contact caps and quiet hours hold this rule's customer-facing "
        "actions; exempt: transactional, never held (docs/contact-pressure.md).",
    )
    when_capped = serializers.ChoiceField(
        choices=WhenCapped.choices,
        required=False,
        help_text="skip (default): a held action ends throttled; defer: it waits (deferred) until the window "
        "or the quiet hours end, then runs once.",
    )


class RuleCreateRequestSerializer(RuleDefinitionFields):
    tenant_id = serializers.CharField(required=False, help_text="Optional when you belong to exactly one tenant.")


class RuleUpdateRequestSerializer(RuleDefinitionFields):
    """Every field optional: a partial rule."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class RuleDraftRequestSerializer(RuleCreateRequestSerializer):
    """An unsaved rule, for the summary and test-conditions previews."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.required = name in {"trigger_type", "action_type"}


class ContextRequestSerializer(serializers.Serializer):
    # The metaclass takes declared fields off the class; the stubs see it shadow Field.context.
    context = serializers.DictField(  # type: ignore[assignment]
        required=False, help_text="The trigger context, e.g. {'product_count': 2}."
    )


class DraftTestConditionsRequestSerializer(ContextRequestSerializer):
    rule = RuleDraftRequestSerializer(help_text="The unsaved rule to test.")


class ExecuteRequestSerializer(ContextRequestSerializer):
    trigger_source = serializers.ChoiceField(
        choices=["manual"],
        required=False,
        default="manual",
        help_text="Always manual: a run a caller starts is never labelled event or scheduler.",
    )
    bypass_approval = serializers.BooleanField(required=False, default=False)


class RecommendRequestSerializer(ContextRequestSerializer):
    tenant_id = serializers.CharField(required=False, help_text="Optional when you belong to exactly one tenant.")
