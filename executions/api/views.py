"""Executions of the caller's tenants, read-only (approvals are actions on them)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from automations.api import inputs, schemas
from config.api_views import ApiViewSet
from executions.api.serializers import AutomationExecutionSerializer
from executions.filters import AutomationExecutionFilterSet
from executions.models import AutomationExecution
from governance.api.permissions import Capability, require_role
from governance.selectors import caller_role_expression, member_tenant_ids

EXECUTIONS_DEFAULT_LIMIT = 50
EXECUTIONS_MAX_LIMIT = 200
MAX_ID = 2**63 - 1


@extend_schema_view(
    list=extend_schema(
        summary="List executions",
        parameters=[
            OpenApiParameter("limit", OpenApiTypes.INT, description="Default 50, at most 200."),
            OpenApiParameter("offset", OpenApiTypes.INT, description="Executions to skip."),
        ],
        responses={200: schemas.ExecutionList},
    ),
    retrieve=extend_schema(summary="Get an execution", responses={200: AutomationExecutionSerializer}),
)
class AutomationExecutionViewSet(ApiViewSet):
    queryset = AutomationExecution.objects.all()
    serializer_class = AutomationExecutionSerializer
    filterset_class = AutomationExecutionFilterSet
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[AutomationExecution]:
        user = self.request.user
        executions = AutomationExecution.objects.all()
        if not user.is_superuser:
            executions = executions.filter(tenant_id__in=member_tenant_ids(user))
        return executions.order_by("-triggered_at", "-id")

    def get_object(self) -> AutomationExecution:
        pk = int(self.kwargs["pk"])
        executions = AutomationExecution.objects.annotate(caller_role=caller_role_expression(self.request.user))
        execution = executions.filter(pk=pk, caller_role__isnull=False).first() if pk <= MAX_ID else None
        if execution is None:
            raise NotFound("No such execution in your tenants.")
        require_role(execution.caller_role, Capability.READ)
        return execution

    def list(self, request: Request) -> Response:
        executions = self.filter_queryset(self.get_queryset())
        limit, offset = inputs.read_limit_offset(request.query_params, EXECUTIONS_DEFAULT_LIMIT, EXECUTIONS_MAX_LIMIT)
        page = executions[offset : offset + limit]
        return Response(
            {
                "executions": AutomationExecutionSerializer(page, many=True).data,
                "count": executions.count(),
                "limit": limit,
                "offset": offset,
            }
        )

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(AutomationExecutionSerializer(self.get_object()).data)
