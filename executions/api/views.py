"""Staff-only endpoints of the pipeline: event ingestion and council decisions.

Tenant tokens and roles come with the REST API; until then every endpoint needs a staff user
(session or basic auth), and a staff user who is not a superuser reaches only their own tenants.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404
from rest_framework import status
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from executions.api.serializers import ApprovalRequestSerializer, ExecutionSerializer, RejectSerializer
from executions.models import AutomationExecution
from executions.selectors import approvals_decidable_by
from executions.services import ExecutionConflict, emit_events, execution_approve, execution_reject
from governance.selectors import tenant_ids_for_user


class StaffAPIView(APIView):
    authentication_classes = [SessionAuthentication, BasicAuthentication]
    permission_classes = [IsAdminUser]


def _error_body(error: ValidationError) -> dict[str, Any]:
    if hasattr(error, "error_dict"):
        return {"errors": error.message_dict}
    return {"errors": {"non_field_errors": error.messages}}


class EventIngestView(StaffAPIView):
    """POST /api/events: one event object or a list; 202 with each event's id, key and duplicate flag."""

    def post(self, request: Request) -> Response:
        data = request.data
        items = data if isinstance(data, list) else [data]
        allowed = None if request.user.is_superuser else set(tenant_ids_for_user(request.user))
        try:
            results = emit_events(items, allowed_tenant_ids=allowed)
        except ValidationError as error:
            return Response(_error_body(error), status=status.HTTP_400_BAD_REQUEST)
        return Response({"events": [result.as_dict() for result in results]}, status=status.HTTP_202_ACCEPTED)


class ApprovalListView(StaffAPIView):
    """GET /api/approvals: the pending approvals the caller's councils may decide."""

    def get(self, request: Request) -> Response:
        approvals = list(approvals_decidable_by(request.user))
        return Response({"approvals": ApprovalRequestSerializer(approvals, many=True).data, "count": len(approvals)})


class ExecutionDecisionView(StaffAPIView):
    decision = ""

    def _execution(self, request: Request, execution_id: int) -> AutomationExecution:
        executions = AutomationExecution.objects.select_related("automation_rule")
        if not request.user.is_superuser:
            executions = executions.filter(tenant_id__in=tenant_ids_for_user(request.user))
        return get_object_or_404(executions, pk=execution_id)

    def _answer(self, decide: Any, message: str) -> Response:
        try:
            execution = decide()
        except PermissionDenied as error:
            return Response({"detail": str(error)}, status=status.HTTP_403_FORBIDDEN)
        except ExecutionConflict as error:
            return Response({"detail": str(error)}, status=status.HTTP_409_CONFLICT)
        except ValidationError as error:
            return Response(_error_body(error), status=status.HTTP_400_BAD_REQUEST)
        return Response({"execution": ExecutionSerializer(execution).data, "message": message})


class ExecutionApproveView(ExecutionDecisionView):
    """POST /api/executions/<id>/approve: approve; the action runs on a worker."""

    def post(self, request: Request, execution_id: int) -> Response:
        execution = self._execution(request, execution_id)
        return self._answer(
            lambda: execution_approve(execution, request.user),
            f"Execution {execution.pk} approved; its action is queued",
        )


class ExecutionRejectView(ExecutionDecisionView):
    """POST /api/executions/<id>/reject with an optional {"reason"}: the execution ends as rejected."""

    def post(self, request: Request, execution_id: int) -> Response:
        execution = self._execution(request, execution_id)
        body = RejectSerializer(data=request.data if isinstance(request.data, dict) else {})
        if not body.is_valid():
            return Response({"errors": body.errors}, status=status.HTTP_400_BAD_REQUEST)
        reason = body.validated_data.get("reason", "")
        return self._answer(
            lambda: execution_reject(execution, request.user, reason), f"Execution {execution.pk} rejected"
        )
