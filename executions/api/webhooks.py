"""Webhook endpoints of the caller's tenants: owners manage them; the secret is shown only on create and rotate."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.drainage import set_override
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from automations.api import inputs
from automations.api.fields import KindChoiceField
from automations.kinds.actions import action_kind_choices, action_kind_keys, get_action_kind
from executions.delivery.models import WebhookEndpoint
from executions.delivery.services.endpoints import (
    ENDPOINT_EDITABLE_FIELDS,
    endpoint_create,
    endpoint_rotate_secret,
    endpoint_update,
)
from executions.filters import WebhookEndpointFilterSet
from governance.api.permissions import Capability, require, require_role, resolve_tenant_id
from governance.common.api_errors import django_validation_detail
from governance.common.api_views import ApiViewSet
from governance.models import Tenant
from governance.selectors import caller_role_expression, member_tenant_ids
from governance.users import request_user

MAX_ID = 2**63 - 1
ENDPOINTS_MAX_LIMIT = 1_000


class WebhookEndpointSerializer(serializers.ModelSerializer):
    """An endpoint without its secrets."""

    tenant_id = serializers.CharField(read_only=True)
    action_type = KindChoiceField(action_kind_choices, read_only=True, allow_null=True)
    healthy = serializers.BooleanField(
        read_only=True, help_text="False while marked unhealthy (unhealthy_since): its deliveries back off."
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "tenant_id",
            "url",
            "enabled",
            "action_type",
            "description",
            "include_trigger_payload",
            "disabled_reason",
            "disabled_at",
            "healthy",
            "consecutive_failures",
            "unhealthy_since",
            "secret_rotated_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WebhookEndpointWriteSerializer(serializers.Serializer):
    tenant_id = serializers.CharField(required=False, help_text="Optional when you belong to exactly one tenant.")
    url = serializers.CharField(max_length=2048)
    enabled = serializers.BooleanField(required=False)
    action_type = KindChoiceField(action_kind_choices, required=False, allow_null=True)
    description = serializers.CharField(required=False, allow_blank=True, max_length=255)
    include_trigger_payload = serializers.BooleanField(
        required=False,
        help_text="Send the triggering event's payload in each command's trigger (default true; docs/webhooks.md).",
    )


class WebhookEndpointUpdateSerializer(WebhookEndpointWriteSerializer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


EndpointEnvelope = inline_serializer(
    "WebhookEndpointEnvelope", {"webhook_endpoint": WebhookEndpointSerializer(), "message": serializers.CharField()}
)
EndpointWithSecret = inline_serializer(
    "WebhookEndpointWithSecret",
    {
        "webhook_endpoint": WebhookEndpointSerializer(),
        "secret": serializers.CharField(help_text="Shown only now: store it to verify signatures."),
        "message": serializers.CharField(),
    },
)
EndpointList = inline_serializer(
    "WebhookEndpointList",
    {
        "webhook_endpoints": WebhookEndpointSerializer(many=True),
        "count": serializers.IntegerField(help_text="All the endpoints that match, not only this page."),
        "limit": serializers.IntegerField(allow_null=True),
        "offset": serializers.IntegerField(),
    },
)
EndpointSingle = inline_serializer("WebhookEndpointSingle", {"webhook_endpoint": WebhookEndpointSerializer()})
set_override(EndpointList, "many", False)


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    """The editable fields of a body, type-checked; unknown keys are a 400 naming each."""
    unknown = sorted(set(body) - set(ENDPOINT_EDITABLE_FIELDS) - {"tenant_id", "id"})
    if unknown:
        raise ValidationError({key: ["Not a field you can set on a webhook endpoint."] for key in unknown})
    fields = {key: body[key] for key in ENDPOINT_EDITABLE_FIELDS if key in body}
    errors: dict[str, list[str]] = {}
    if "url" in fields and not isinstance(fields["url"], str):
        errors["url"] = ["Must be a string."]
    for flag in ("enabled", "include_trigger_payload"):
        if flag in fields and not isinstance(fields[flag], bool):
            errors[flag] = ["Must be true or false."]
    if "description" in fields and (not isinstance(fields["description"], str) or len(fields["description"]) > 255):
        errors["description"] = ["Must be a string of at most 255 characters."]
    action_type = fields.get("action_type")
    if action_type not in (None, "") and get_action_kind(action_type) is None:
        errors["action_type"] = [f"Must be null or one of {', '.join(action_kind_keys())}."]
    if errors:
        raise ValidationError(errors)
    return fields


def _saved(function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, **kwargs)
    except DjangoValidationError as error:
        raise ValidationError(django_validation_detail(error)) from error


@extend_schema_view(
    list=extend_schema(
        summary="List webhook endpoints",
        parameters=[
            OpenApiParameter("limit", OpenApiTypes.INT, description="Page size (all endpoints when absent)."),
            OpenApiParameter("offset", OpenApiTypes.INT, description="Endpoints to skip."),
        ],
        responses={200: EndpointList},
    ),
    create=extend_schema(
        summary="Create a webhook endpoint", request=WebhookEndpointWriteSerializer, responses={201: EndpointWithSecret}
    ),
    retrieve=extend_schema(summary="Get a webhook endpoint", responses={200: EndpointSingle}),
    partial_update=extend_schema(
        summary="Update a webhook endpoint", request=WebhookEndpointUpdateSerializer, responses={200: EndpointEnvelope}
    ),
)
class WebhookEndpointViewSet(ApiViewSet):
    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointSerializer
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "patch", "head", "options"]
    filterset_class = WebhookEndpointFilterSet

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        user = self.request.user
        endpoints = WebhookEndpoint.objects.order_by("tenant_id", "id")
        return endpoints if user.is_superuser else endpoints.filter(tenant_id__in=member_tenant_ids(user))

    def endpoint(self, capability: str) -> WebhookEndpoint:
        pk = int(self.kwargs["pk"])
        endpoints = WebhookEndpoint.objects.annotate(caller_role=caller_role_expression(request_user(self.request)))
        endpoint = endpoints.filter(pk=pk, caller_role__isnull=False).first() if pk <= MAX_ID else None
        if endpoint is None:
            raise NotFound("No such webhook endpoint in your tenants.")
        require_role(endpoint.caller_role, capability)
        return endpoint

    def list(self, request: Request) -> Response:
        limit, offset = inputs.read_limit_offset(request.query_params, None, ENDPOINTS_MAX_LIMIT)
        endpoints = self.filter_queryset(self.get_queryset())
        page = endpoints[offset : offset + limit] if limit is not None else endpoints[offset:]
        return Response(
            {
                "webhook_endpoints": WebhookEndpointSerializer(page, many=True).data,
                "count": endpoints.count(),
                "limit": limit,
                "offset": offset,
            }
        )

    def create(self, request: Request) -> Response:
        body = inputs.require_object(request.data)
        tenant_id = resolve_tenant_id(request, body)
        require(request, tenant_id, Capability.MANAGE_WEBHOOKS)
        fields = _fields(body)
        if "url" not in fields:
            raise ValidationError({"url": ["This field is required."]})
        created = _saved(
            endpoint_create,
            Tenant.objects.get(pk=tenant_id),
            fields["url"],
            action_type=fields.get("action_type") or None,
            description=fields.get("description", ""),
            enabled=fields.get("enabled", True),
            include_trigger_payload=fields.get("include_trigger_payload", True),
            user=request_user(request),
        )
        return Response(
            {
                "webhook_endpoint": WebhookEndpointSerializer(created.endpoint).data,
                "secret": created.secret,
                "message": "Webhook endpoint created; store the secret now, it is not shown again",
            },
            status=status.HTTP_201_CREATED,
        )

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response({"webhook_endpoint": WebhookEndpointSerializer(self.endpoint(Capability.READ)).data})

    def partial_update(self, request: Request, pk: str) -> Response:
        endpoint = self.endpoint(Capability.MANAGE_WEBHOOKS)
        body = inputs.require_object(request.data)
        if "tenant_id" in body and body["tenant_id"] != endpoint.tenant_id:
            raise ValidationError({"tenant_id": ["An endpoint cannot move to another tenant."]})
        endpoint = _saved(endpoint_update, endpoint, _fields(body), user=request_user(request))
        return Response(
            {"webhook_endpoint": WebhookEndpointSerializer(endpoint).data, "message": "Webhook endpoint updated"}
        )

    @extend_schema(summary="Rotate a webhook endpoint's secret", request=None, responses={200: EndpointWithSecret})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        endpoint = self.endpoint(Capability.MANAGE_WEBHOOKS)
        secret = endpoint_rotate_secret(endpoint, user=request_user(request))
        return Response(
            {
                "webhook_endpoint": WebhookEndpointSerializer(endpoint).data,
                "secret": secret,
                "message": "Secret rotated; the previous one keeps signing during the grace period",
            }
        )
