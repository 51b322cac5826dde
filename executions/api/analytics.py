"""GET /api/analytics: one tenant's dashboard figures (``executions.services.analytics``, docs/analytics.md)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from automations.choices import Category
from executions.models import ExecutionDailyRollup
from executions.services.analytics import (
    ALLOWED_DAYS,
    DEFAULT_DAYS,
    STACKED_OUTCOMES,
    analytics_query,
    tenant_analytics,
)
from governance.api.permissions import Capability, require, resolve_tenant_id
from governance.common.api_errors import django_validation_detail
from governance.common.api_views import ApiViewSet
from governance.models import Tenant

# The answer's shape, for the OpenAPI schema only: the view returns ``Analytics.as_dict()``.


def outcome_counts(name: str, help_text: str = "") -> serializers.Serializer:
    """``{outcome: count}`` for every outcome of the executions chart's stack."""
    fields: dict[str, serializers.Field] = {str(outcome): serializers.IntegerField() for outcome in STACKED_OUTCOMES}
    return inline_serializer(name, fields, help_text=help_text)


class DayExecutionsSchema(serializers.Serializer):
    date = serializers.DateField()
    counts = outcome_counts("DayOutcomeCounts", "Ended executions triggered that day, by outcome (the chart's stack).")
    success_rate = serializers.FloatField(allow_null=True)


class ExecutionTotalsSchema(serializers.Serializer):
    executions = serializers.IntegerField(help_text="Whose action ran: succeeded (recorded only included) or failed.")
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    recorded_only = serializers.IntegerField()
    success_rate = serializers.FloatField(allow_null=True)
    avg_execution_time_ms = serializers.FloatField(allow_null=True)
    by_outcome = outcome_counts("OutcomeCounts")


class FailingRuleSchema(serializers.Serializer):
    rule_id = serializers.CharField()
    name = serializers.CharField()
    archived = serializers.BooleanField()
    failed = serializers.IntegerField()
    executions = serializers.IntegerField()
    success_rate = serializers.FloatField(allow_null=True)
    main_failure_kind = serializers.CharField(help_text="A failure kind (docs/failures.md); empty if unclassified.")
    main_failure_kind_label = serializers.CharField()
    main_failure_kind_count = serializers.IntegerField()


class ApprovalFiguresSchema(serializers.Serializer):
    waiting = serializers.IntegerField(help_text="Pending now.")
    decided = serializers.IntegerField(help_text="Requested in the period and approved or rejected.")
    median_minutes_to_decision = serializers.FloatField(allow_null=True)


class ActionTypeFiguresSchema(serializers.Serializer):
    action_type = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field named label, not Field.label
    executions = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    recorded_only = serializers.IntegerField()


class EndpointFiguresSchema(serializers.Serializer):
    endpoint_id = serializers.IntegerField()
    url = serializers.CharField()
    enabled = serializers.BooleanField()
    action_type = serializers.CharField(help_text="Empty: every action type.")
    deliveries = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    success_rate = serializers.FloatField(allow_null=True)
    attempts = serializers.IntegerField()
    p95_latency_ms = serializers.FloatField(allow_null=True)
    failing = serializers.BooleanField()


class TimeSavedLineSchema(serializers.Serializer):
    action_type = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field named label, not Field.label
    runs = serializers.IntegerField()
    minutes_per_run = serializers.FloatField()
    tenant_setting = serializers.BooleanField()
    minutes = serializers.FloatField()


class TimeSavedSchema(serializers.Serializer):
    minutes = serializers.FloatField()
    hours = serializers.FloatField()
    by_action_type = TimeSavedLineSchema(many=True)


class ActiveRuleSchema(serializers.Serializer):
    rule_id = serializers.CharField()
    name = serializers.CharField()
    archived = serializers.BooleanField()
    runs = serializers.IntegerField()
    by_day = serializers.ListField(child=serializers.IntegerField())


class QuotaFiguresSchema(serializers.Serializer):
    events_this_minute = serializers.IntegerField(help_text="Events counted in the current minute (UTC).")
    events_per_minute_quota = serializers.IntegerField()
    executions_this_hour = serializers.IntegerField(help_text="Actions started in the current hour (UTC).")
    executions_per_hour_quota = serializers.IntegerField()
    events_refused_today = serializers.IntegerField(help_text="Refused by the events quota today (UTC day).")
    executions_deferred_today = serializers.IntegerField(
        help_text="Deferrals by the executions quota today (UTC day); an execution deferred twice counts twice."
    )
    executions_held = serializers.IntegerField(help_text="Executions deferred by the quota, waiting now.")


# One object, though the viewset's action is ``list`` (drf-spectacular would describe an array otherwise).
@extend_schema_serializer(many=False)
class AnalyticsSchema(serializers.Serializer):
    tenant_id = serializers.CharField()
    time_zone = serializers.CharField()
    days = serializers.IntegerField()
    category = serializers.CharField()
    first_day = serializers.DateField()
    last_day = serializers.DateField()
    totals = ExecutionTotalsSchema()
    executions_by_day = DayExecutionsSchema(many=True)
    top_failing_rules = FailingRuleSchema(many=True)
    approvals = ApprovalFiguresSchema()
    actions_by_type = ActionTypeFiguresSchema(many=True)
    deliveries_by_endpoint = EndpointFiguresSchema(many=True)
    time_saved = TimeSavedSchema()
    most_active_rules = ActiveRuleSchema(many=True)
    quotas = QuotaFiguresSchema(help_text="The tenant's quotas now (docs/governance.md, Tenant quotas).")
    healthy_success_rate = serializers.FloatField()


class AnalyticsViewSet(ApiViewSet):
    """GET /api/analytics: any role in the tenant reads it."""

    queryset = ExecutionDailyRollup.objects.none()  # the schema generator asks for a model; list() reads the service
    serializer_class = AnalyticsSchema

    @extend_schema(
        summary="A tenant's analytics",
        description="Executions by day and status, success rate, top failing rules, approvals, actions, "
        "webhook deliveries by endpoint, time saved and the most active rules, over the last 7, 30 or 90 days "
        "in the tenant's time zone (docs/analytics.md).",
        parameters=[
            OpenApiParameter("days", OpenApiTypes.INT, enum=list(ALLOWED_DAYS), description=f"Default {DEFAULT_DAYS}."),
            OpenApiParameter(
                "category", OpenApiTypes.STR, enum=Category.values, description="Only rules of this category."
            ),
            OpenApiParameter(
                "tenant_id", OpenApiTypes.STR, description="Optional when you belong to exactly one tenant."
            ),
        ],
        responses={200: AnalyticsSchema},
    )
    def list(self, request: Request) -> Response:
        tenant_id = resolve_tenant_id(request, request.query_params)
        require(request, tenant_id, Capability.READ)
        try:
            query = analytics_query(request.query_params)
        except DjangoValidationError as error:
            raise ValidationError(django_validation_detail(error)) from error
        tenant = Tenant.objects.get(pk=tenant_id)
        return Response(tenant_analytics(tenant, query).as_dict())
