"""Response envelopes of the rules API that carry executions (the OpenAPI schema; views build plain dicts)."""

from __future__ import annotations

from drf_spectacular.drainage import set_override
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from automations.api.schemas import RuleOverviewStats
from automations.api.serializers import AutomationRuleSerializer
from executions.api.serializers import ExecutionSerializer

RuleDetail = inline_serializer(
    "RuleDetail",
    {
        "automation": AutomationRuleSerializer(),
        "stats": RuleOverviewStats,
        "recent_executions": ExecutionSerializer(many=True),
    },
)
ExecutionList = inline_serializer(
    "ExecutionList",
    {
        "executions": ExecutionSerializer(many=True),
        "count": serializers.IntegerField(required=False, help_text="Paged by offset: every execution selected."),
        "limit": serializers.IntegerField(),
        "offset": serializers.IntegerField(required=False, help_text="Paged by offset."),
        "next_cursor": serializers.CharField(
            required=False, allow_null=True, help_text="Paged by cursor: the next page's cursor, null on the last."
        ),
    },
)
# The list action answers this envelope, not an array of them.
set_override(ExecutionList, "many", False)
ExecuteResult = inline_serializer(
    "ExecuteResult", {"execution": ExecutionSerializer(), "message": serializers.CharField()}
)

BacktestResultSchema = inline_serializer(
    "BacktestResult",
    {
        "days": serializers.IntegerField(),
        "window": inline_serializer(
            "BacktestWindow", {"from": serializers.DateTimeField(), "to": serializers.DateTimeField()}
        ),
        "triggers_seen": serializers.IntegerField(),
        "would_fire": serializers.IntegerField(),
        "by_day": inline_serializer(
            "BacktestDay", {"date": serializers.DateField(), "would_fire": serializers.IntegerField()}, many=True
        ),
        "conditions": inline_serializer(
            "BacktestCondition",
            {
                "condition": serializers.JSONField(),
                "passed": serializers.IntegerField(),
                "failed": serializers.IntegerField(),
                "missing": serializers.IntegerField(),
            },
            many=True,
        ),
        "governance": inline_serializer(
            "BacktestGovernance",
            {
                "auto_approved": serializers.IntegerField(),
                "needs_approval": serializers.IntegerField(),
                "held_by_cap": serializers.IntegerField(),
            },
        ),
        "per_day_estimate": serializers.FloatField(),
        "samples": inline_serializer(
            "BacktestSample",
            {
                "at": serializers.DateTimeField(),
                "trigger_data": serializers.DictField(),
                "why": serializers.CharField(),
            },
            many=True,
        ),
        "warnings": serializers.ListField(child=serializers.CharField()),
    },
)
