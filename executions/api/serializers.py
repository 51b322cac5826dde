"""Executions as the API shows them."""

from __future__ import annotations

from rest_framework import serializers

from executions.models import AutomationExecution


class AutomationExecutionSerializer(serializers.ModelSerializer):
    """Every spec column plus status."""

    automation_rule_id = serializers.CharField(read_only=True)
    tenant_id = serializers.CharField(read_only=True)
    trigger_data = serializers.JSONField(read_only=True)
    condition_results = serializers.JSONField(read_only=True)
    action_result = serializers.JSONField(read_only=True, allow_null=True)

    class Meta:
        model = AutomationExecution
        fields = [
            "id",
            "automation_rule_id",
            "tenant_id",
            "status",
            "triggered_at",
            "trigger_source",
            "trigger_data",
            "conditions_met",
            "condition_results",
            "action_started_at",
            "action_completed_at",
            "action_result",
            "success",
            "error_message",
            "execution_time_ms",
            "required_approval",
            "approved_by_user_id",
            "approved_at",
        ]
        read_only_fields = fields
