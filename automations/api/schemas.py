"""Response envelopes for the OpenAPI schema (the views build plain dicts of these shapes)."""

from __future__ import annotations

from drf_spectacular.drainage import set_override
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from automations.api.serializers import AutomationRuleSerializer
from automations.choices import RuleStateChangeKind

RuleEnvelope = inline_serializer(
    "RuleEnvelope", {"automation": AutomationRuleSerializer(), "message": serializers.CharField()}
)
RuleSaved = inline_serializer(
    "RuleSaved",
    {
        "automation": AutomationRuleSerializer(),
        "message": serializers.CharField(),
        "warnings": inline_serializer(
            "RuleWarning",
            {"code": serializers.CharField(), "message": serializers.CharField(), "field": serializers.CharField()},
            many=True,
        ),
    },
)
RuleDeleted = inline_serializer("RuleDeleted", {"id": serializers.CharField(), "message": serializers.CharField()})
RuleList = inline_serializer(
    "RuleList",
    {
        "automations": AutomationRuleSerializer(many=True),
        "count": serializers.IntegerField(),
        "enabled_count": serializers.IntegerField(),
        "disabled_count": serializers.IntegerField(),
        "limit": serializers.IntegerField(allow_null=True),
        "offset": serializers.IntegerField(),
    },
)
RuleOverviewStats = inline_serializer(
    "RuleOverviewStats",
    {
        "total_executions": serializers.IntegerField(),
        "success_rate": serializers.FloatField(allow_null=True),
        "recorded_only_count": serializers.IntegerField(),
        "avg_execution_time_ms": serializers.FloatField(allow_null=True),
        "last_24h_executions": serializers.IntegerField(),
    },
)
RuleStats = inline_serializer(
    "RuleStats",
    {
        "total_executions": serializers.IntegerField(),
        "success_count": serializers.IntegerField(),
        "failure_count": serializers.IntegerField(),
        "recorded_only_count": serializers.IntegerField(),
        "success_rate": serializers.FloatField(allow_null=True),
        "avg_execution_time_ms": serializers.FloatField(allow_null=True),
        "skipped_count": serializers.IntegerField(),
        "shadowed_count": serializers.IntegerField(),
        "throttled_count": serializers.IntegerField(help_text="Runs a contact cap or quiet hours skipped."),
        "deferred_count": serializers.IntegerField(help_text="Runs waiting, deferred by a contact cap."),
        "awaiting_approval_count": serializers.IntegerField(),
        "executions_by_day": inline_serializer(
            "ExecutionsOnDay",
            {
                "date": serializers.DateField(),
                "total": serializers.IntegerField(),
                "succeeded": serializers.IntegerField(),
                "failed": serializers.IntegerField(),
                "recorded_only": serializers.IntegerField(),
            },
            many=True,
        ),
        "failure_reasons": inline_serializer(
            "FailureReason", {"reason": serializers.CharField(), "count": serializers.IntegerField()}, many=True
        ),
    },
)
# List actions answer these envelopes, not arrays of them.
set_override(RuleList, "many", False)

ConditionResults = inline_serializer(
    "ConditionResult",
    many=True,
    fields={
        "condition": serializers.JSONField(),
        "passed": serializers.BooleanField(),
        "actual_value": serializers.JSONField(allow_null=True),
        "expected_value": serializers.JSONField(allow_null=True),
        "reason": serializers.CharField(allow_blank=True, allow_null=True),
    },
)
TestConditionsResult = inline_serializer(
    "TestConditionsResult",
    {
        "conditions_met": serializers.BooleanField(),
        "results": ConditionResults,
        "summary": serializers.CharField(),
        "would_execute": serializers.BooleanField(),
        "would_need_approval": serializers.BooleanField(),
        "approval_reason": serializers.CharField(),
        "approval_checks": inline_serializer(
            "ApprovalCheck",
            {"rule": serializers.CharField(), "passed": serializers.BooleanField(), "reason": serializers.CharField()},
            many=True,
        ),
    },
)
Summary = inline_serializer(
    "RuleSummary",
    {
        "summary": serializers.CharField(),
        "trigger_description": serializers.CharField(),
        "conditions_description": serializers.CharField(allow_blank=True),
        "action_description": serializers.CharField(),
        "governance_description": serializers.CharField(allow_blank=True),
    },
)
Recommendations = inline_serializer(
    "Recommendations",
    {
        "recommendations": inline_serializer(
            "Recommendation",
            {
                "name": serializers.CharField(),
                "description": serializers.CharField(allow_blank=True),
                "category": serializers.CharField(allow_blank=True),
                "relevance_score": serializers.FloatField(),
                "reasoning": serializers.CharField(allow_blank=True),
                "suggested_config": serializers.DictField(),
                "key": serializers.CharField(allow_blank=True),
                "summary": serializers.CharField(allow_blank=True),
                "backtest": inline_serializer(
                    "RecommendationBacktest",
                    {
                        "days": serializers.IntegerField(),
                        "would_fire": serializers.IntegerField(),
                        "triggers_seen": serializers.IntegerField(),
                    },
                    allow_null=True,
                ),
            },
            many=True,
        ),
        "count": serializers.IntegerField(),
    },
)
RuleVersions = inline_serializer(
    "RuleVersions",
    {
        "rule_id": serializers.CharField(),
        "current_version": serializers.IntegerField(),
        "versions": inline_serializer(
            "RuleVersion",
            {
                "version": serializers.IntegerField(),
                "change": serializers.ChoiceField(choices=["created", "edited", "restored"]),
                "restored_from": serializers.IntegerField(allow_null=True),
                "changed_by": serializers.CharField(allow_null=True),
                "changed_at": serializers.DateTimeField(),
                "current": serializers.BooleanField(),
                "changes": inline_serializer(
                    "RuleFieldChange",
                    {"field": serializers.CharField(), "was": serializers.JSONField(), "now": serializers.JSONField()},
                    many=True,
                ),
                "description": serializers.ListField(child=serializers.CharField()),
                "definition": serializers.DictField(),
            },
            many=True,
        ),
        "state_changes": inline_serializer(
            "RuleStateChange",
            {
                "kind": serializers.ChoiceField(choices=RuleStateChangeKind.values),
                "version": serializers.IntegerField(),
                "changed_by": serializers.CharField(allow_null=True),
                "changed_at": serializers.DateTimeField(),
            },
            many=True,
        ),
    },
)
