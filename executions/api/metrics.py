"""POST /api/metrics: push metric samples (one object or a list) into the caller's tenants."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.drainage import set_override
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from executions.listeners.metrics import record_metric_samples
from governance.api.permissions import Capability, require, resolve_tenant_id
from governance.common.api_errors import django_validation_detail
from governance.common.api_views import ApiViewSet


class MetricSampleRequestSerializer(serializers.Serializer):
    tenant_id = serializers.CharField(required=False, help_text="Optional when you belong to exactly one tenant.")
    metric = serializers.CharField(max_length=100, help_text="Letters, digits and underscores: product_count.")
    value = serializers.JSONField(help_text="A number or a text such as active.")


class MetricSampleSerializer(serializers.Serializer):
    tenant_id = serializers.CharField()
    metric = serializers.CharField()
    value = serializers.JSONField()
    recorded_at = serializers.DateTimeField()


RecordedSamples = inline_serializer(
    "RecordedSamples",
    {
        "samples": MetricSampleSerializer(many=True),
        "count": serializers.IntegerField(),
        "message": serializers.CharField(),
    },
)
set_override(RecordedSamples, "many", False)


class MetricSampleViewSet(ApiViewSet):
    serializer_class = MetricSampleRequestSerializer

    @extend_schema(
        summary="Push metric samples",
        description="One sample object or a list of them (at most 1000); all are stored or none. "
        "Each is checked against threshold rules within seconds.",
        request=MetricSampleRequestSerializer(many=True),
        responses={201: RecordedSamples},
    )
    def create(self, request: Request) -> Response:
        data = request.data
        items: list[Any] = data if isinstance(data, list) else [data]
        if not items or not all(isinstance(item, dict) for item in items):
            raise ValidationError({"non_field_errors": ["Send one sample object or a non-empty list of them."]})
        samples = []
        for item in items:
            tenant_id = resolve_tenant_id(request, item)
            require(request, tenant_id, Capability.INGEST)
            samples.append({**item, "tenant_id": tenant_id})
        try:
            rows = record_metric_samples(samples if isinstance(data, list) else samples[0])
        except DjangoValidationError as error:
            raise ValidationError(django_validation_detail(error)) from error
        return Response(
            {
                "samples": [
                    {
                        "tenant_id": row.tenant_id,
                        "metric": row.metric,
                        "value": row.value,
                        "recorded_at": row.recorded_at,
                    }
                    for row in rows
                ],
                "count": len(rows),
                "message": f"{len(rows)} sample(s) recorded",
            },
            status=status.HTTP_201_CREATED,
        )
