"""Executions, events, approvals and notifications of the caller's tenants.

Reads need any role in the execution's tenant; posting events needs owner or collaborator; approving
and rejecting need owner or council and, in the service, a seat on the rule's council.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.drainage import set_override
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from automations.api import inputs
from executions.api.schemas import ExecutionList
from executions.api.serializers import (
    ApprovalRequestSerializer,
    ExecutionSerializer,
    NotificationSerializer,
    RejectSerializer,
)
from executions.export import EXPORT_FORMATS, export_csv, export_json
from executions.filters import AutomationExecutionFilterSet
from executions.models import ApprovalRequest, AutomationExecution, Notification
from executions.selectors import activity_page, attach_failure_explanations, cursor_text, read_cursor
from governance.api.permissions import (
    Capability,
    require,
    require_role,
    resolve_tenant_id,
    tenants_allowing,
)
from governance.common.api_errors import django_validation_detail
from governance.common.api_views import ApiViewSet
from governance.selectors import caller_role_expression, member_tenant_ids
from governance.users import request_user

EXECUTIONS_DEFAULT_LIMIT = 50
EXECUTIONS_MAX_LIMIT = 200


def execution_page(request: Request, executions: QuerySet[AutomationExecution]) -> dict[str, Any]:
    """One page of executions (newest first: ``-triggered_at, -id``) in the list envelope: by ``limit`` and
    ``offset`` (default 50, at most 200) with the count of all, or by ``cursor`` (keyset, no count)."""
    if "cursor" in request.query_params:
        return _execution_keyset_page(request, executions)
    limit, offset = inputs.read_limit_offset(request.query_params, EXECUTIONS_DEFAULT_LIMIT, EXECUTIONS_MAX_LIMIT)
    page = attach_failure_explanations(executions[offset : offset + limit])
    return {
        "executions": ExecutionSerializer(page, many=True).data,
        "count": executions.count(),
        "limit": limit,
        "offset": offset,
    }


def _execution_keyset_page(request: Request, executions: QuerySet[AutomationExecution]) -> dict[str, Any]:
    """``cursor`` empty: the first page; else the page after the cursor a previous page gave as ``next_cursor``
    (null on the last page). A deep page costs what the first does, and no total is counted (issue 17: at
    10,000,000 executions the offset list's count alone takes half a second)."""
    if "offset" in request.query_params:
        raise ValidationError({"offset": ["Give either offset or cursor, not both."]})
    limit, _ = inputs.read_limit_offset(request.query_params, EXECUTIONS_DEFAULT_LIMIT, EXECUTIONS_MAX_LIMIT)
    raw = request.query_params["cursor"]
    try:
        after = read_cursor(raw) if raw else None
    except ValueError as error:
        message = "Not a cursor this list gave: give the next_cursor of a page, or an empty cursor for the first."
        raise ValidationError({"cursor": [message]}) from error
    rows, next_cursor = activity_page(executions, after, limit)
    return {
        "executions": ExecutionSerializer(attach_failure_explanations(rows), many=True).data,
        "limit": limit,
        "next_cursor": cursor_text(next_cursor) if next_cursor is not None else None,
    }


APPROVALS_MAX_LIMIT = 1_000
MAX_ID = 2**63 - 1


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The execution is not in a state that allows this."
    default_code = "conflict"


def _service(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a pipeline service: ValidationError -> 400, PermissionDenied -> 403, ExecutionConflict -> 409."""
    from executions.services import ExecutionConflict

    try:
        return function(*args, **kwargs)
    except DjangoValidationError as error:
        raise ValidationError(django_validation_detail(error)) from error
    except ExecutionConflict as error:
        raise Conflict(str(error) or None) from error


class ExportNegotiation(DefaultContentNegotiation):
    """The export's ``format`` parameter names its file format (csv, json), not a DRF renderer: errors are JSON."""

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


EXPORT_MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


CURSOR_PARAMETER = OpenApiParameter(
    "cursor",
    OpenApiTypes.STR,
    description=(
        "Keyset paging instead of offset: empty for the first page, then the previous page's next_cursor; the "
        "answer has next_cursor (null on the last page) and no count or offset. Not with offset."
    ),
)

ExecutionDecision = inline_serializer(
    "ExecutionDecision", {"execution": ExecutionSerializer(), "message": serializers.CharField()}
)


@extend_schema_view(
    list=extend_schema(
        summary="List executions",
        parameters=[
            OpenApiParameter("limit", OpenApiTypes.INT, description="Default 50, at most 200."),
            OpenApiParameter("offset", OpenApiTypes.INT, description="Executions to skip."),
            CURSOR_PARAMETER,
        ],
        responses={200: ExecutionList},
    ),
    retrieve=extend_schema(summary="Get an execution", responses={200: ExecutionSerializer}),
)
class AutomationExecutionViewSet(ApiViewSet):
    queryset = AutomationExecution.objects.all()
    serializer_class = ExecutionSerializer
    filterset_class = AutomationExecutionFilterSet
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[AutomationExecution]:
        user = self.request.user
        executions = AutomationExecution.objects.select_related("rule_version")
        if not user.is_superuser:
            executions = executions.filter(tenant_id__in=member_tenant_ids(user))
        return executions.order_by("-triggered_at", "-id")

    def get_serializer_class(self) -> type:
        return RejectSerializer if self.action == "reject" else ExecutionSerializer

    def execution(self, capability: str) -> AutomationExecution:
        """The addressed execution (404 outside the caller's tenants), after the role check (403)."""
        pk = int(self.kwargs["pk"])
        executions = AutomationExecution.objects.select_related("rule_version", "automation_rule").annotate(
            caller_role=caller_role_expression(request_user(self.request))
        )
        execution = executions.filter(pk=pk, caller_role__isnull=False).first() if pk <= MAX_ID else None
        if execution is None:
            raise NotFound("No such execution in your tenants.")
        require_role(execution.caller_role, capability)
        return execution

    def list(self, request: Request) -> Response:
        return Response(execution_page(request, self.filter_queryset(self.get_queryset())))

    def retrieve(self, request: Request, pk: str) -> Response:
        (execution,) = attach_failure_explanations([self.execution(Capability.READ)])
        return Response(ExecutionSerializer(execution).data)

    @extend_schema(
        summary="Export executions (CSV or JSON, streamed)",
        description=(
            "Every execution the list's filters select (not paged), newest first, streamed as a CSV file or "
            "one JSON array; the same scope, filters and role as the list (docs/api.md)."
        ),
        parameters=[
            OpenApiParameter("format", OpenApiTypes.STR, enum=[*EXPORT_FORMATS], description="Default csv."),
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/json"): OpenApiTypes.ANY,
        },
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="export",
        renderer_classes=[JSONRenderer],
        content_negotiation_class=ExportNegotiation,
    )
    def export(self, request: Request) -> StreamingHttpResponse:
        kind = request.query_params.get("format", "csv")
        if kind not in EXPORT_FORMATS:
            raise ValidationError({"format": [f"Must be one of {', '.join(EXPORT_FORMATS)}."]})
        executions = self.filter_queryset(self.get_queryset())
        stream = export_csv(executions) if kind == "csv" else export_json(executions)
        response = StreamingHttpResponse(stream, content_type=EXPORT_MEDIA_TYPES[kind])
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="executions-{stamp}.{kind}"'
        return response

    @extend_schema(summary="Approve an execution awaiting approval", request=None, responses={200: ExecutionDecision})
    @action(detail=True, methods=["post"], filterset_class=None)
    def approve(self, request: Request, pk: str) -> Response:
        from executions.services import execution_approve

        execution = _service(execution_approve, self.execution(Capability.APPROVE), request_user(request))
        return Response(
            {
                "execution": ExecutionSerializer(execution).data,
                "message": f"Execution {execution.pk} approved; its action is queued",
            }
        )

    @extend_schema(
        summary="Reject an execution awaiting approval", request=RejectSerializer, responses={200: ExecutionDecision}
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def reject(self, request: Request, pk: str) -> Response:
        from executions.services import execution_reject

        execution = self.execution(Capability.APPROVE)
        body = inputs.require_object(request.data or {})
        reason = body.get("reason", "")
        if not isinstance(reason, str) or len(reason) > 2000:
            raise ValidationError({"reason": ["Must be a string of at most 2000 characters."]})
        execution = _service(execution_reject, execution, request_user(request), reason)
        return Response(
            {"execution": ExecutionSerializer(execution).data, "message": f"Execution {execution.pk} rejected"}
        )


class EventRequestSerializer(serializers.Serializer):
    tenant_id = serializers.CharField(required=False, help_text="Optional when you belong to exactly one tenant.")
    event_type = serializers.CharField(max_length=100)
    # The metaclass takes declared fields off the class; the stubs see it shadow Field.source.
    source = serializers.CharField(required=False, allow_blank=True)  # type: ignore[assignment]
    payload = serializers.DictField(required=False)
    idempotency_key = serializers.CharField(required=False, help_text="A repeated key returns the original event.")
    customer_id = serializers.CharField(required=False, allow_blank=True)
    occurred_at = serializers.DateTimeField(required=False)


EmittedEvents = inline_serializer(
    "EmittedEvents",
    {
        "events": inline_serializer(
            "EmittedEvent",
            {
                "id": serializers.IntegerField(),
                "idempotency_key": serializers.CharField(),
                "duplicate": serializers.BooleanField(),
            },
            many=True,
        )
    },
)
set_override(EmittedEvents, "many", False)


class EventViewSet(ApiViewSet):
    """POST /api/events: one event object or a list, into the caller's tenants."""

    serializer_class = EventRequestSerializer

    @extend_schema(
        summary="Post events",
        description="One event object or a list; all are stored or none. 202: matching runs on a worker. "
        "429: over the tenant's events_per_minute_quota (docs/governance.md, Tenant quotas) or the token's "
        "rate; nothing was stored, send the same request again after the Retry-After header's seconds.",
        request=EventRequestSerializer(many=True),
        responses={
            202: EmittedEvents,
            429: OpenApiResponse(
                inline_serializer("TooManyRequests", {"detail": serializers.CharField()}),
                description="Over the tenant's events quota or the token's rate: nothing stored; see Retry-After.",
            ),
        },
    )
    def create(self, request: Request) -> Response:
        from executions.services import emit_events

        data = request.data
        items: list[Any] = data if isinstance(data, list) else [data]
        checked = []
        for item in items:
            if isinstance(item, dict):
                tenant_id = resolve_tenant_id(request, item)
                require(request, tenant_id, Capability.INGEST)
                item = {**item, "tenant_id": tenant_id}
            checked.append(item)
        results = _service(
            emit_events,
            checked,
            allowed_tenant_ids=tenants_allowing(request, Capability.INGEST),
            actor_id=request.user.pk,
        )
        return Response({"events": [result.as_dict() for result in results]}, status=status.HTTP_202_ACCEPTED)


ApprovalList = inline_serializer(
    "ApprovalList",
    {
        "approvals": ApprovalRequestSerializer(many=True),
        "count": serializers.IntegerField(help_text="All the pending approvals you may decide, not only this page."),
        "limit": serializers.IntegerField(allow_null=True),
        "offset": serializers.IntegerField(),
    },
)
set_override(ApprovalList, "many", False)


class ApprovalViewSet(ApiViewSet):
    """GET /api/approvals: the pending approvals the caller's councils may decide."""

    queryset = ApprovalRequest.objects.none()
    serializer_class = ApprovalRequestSerializer

    @extend_schema(
        summary="Pending approvals you may decide",
        parameters=[
            OpenApiParameter("limit", OpenApiTypes.INT, description="Page size (all when absent)."),
            OpenApiParameter("offset", OpenApiTypes.INT, description="Approvals to skip."),
        ],
        responses={200: ApprovalList},
    )
    def list(self, request: Request) -> Response:
        from executions.selectors import approvals_decidable_by

        limit, offset = inputs.read_limit_offset(request.query_params, None, APPROVALS_MAX_LIMIT)
        approvals = approvals_decidable_by(request_user(request))
        if not request.user.is_superuser:
            approvals = approvals.filter(tenant_id__in=member_tenant_ids(request_user(request)))
        page = approvals[offset : offset + limit] if limit is not None else approvals[offset:]
        return Response(
            {
                "approvals": ApprovalRequestSerializer(page, many=True).data,
                "count": approvals.count(),
                "limit": limit,
                "offset": offset,
            }
        )


NotificationList = inline_serializer(
    "NotificationList",
    {
        "notifications": NotificationSerializer(many=True),
        "count": serializers.IntegerField(),
        "unread_count": serializers.IntegerField(),
    },
)
set_override(NotificationList, "many", False)
NotificationEnvelope = inline_serializer(
    "NotificationEnvelope", {"notification": NotificationSerializer(), "message": serializers.CharField()}
)


class NotificationViewSet(ApiViewSet):
    """The caller's own in-app notifications, in the tenants they still belong to."""

    serializer_class = NotificationSerializer
    lookup_value_regex = r"[0-9]+"
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[Notification]:
        user = self.request.user
        if user.pk is None:  # anonymous: the schema generator asks for the model
            return Notification.objects.none()
        notifications = Notification.objects.filter(user_id=user.pk)
        if not user.is_superuser:
            notifications = notifications.filter(tenant_id__in=member_tenant_ids(user))
        return notifications.order_by("-created_at", "-id")

    @extend_schema(
        summary="Your notifications",
        parameters=[
            OpenApiParameter("unread", OpenApiTypes.BOOL, description="true: only unread ones."),
            OpenApiParameter("limit", OpenApiTypes.INT, description="Default 50, at most 200."),
            OpenApiParameter("offset", OpenApiTypes.INT),
        ],
        responses={200: NotificationList},
    )
    def list(self, request: Request) -> Response:
        notifications = self.get_queryset()
        unread = request.query_params.get("unread")
        if unread not in (None, "", "true", "false"):
            raise ValidationError({"unread": ["Must be true or false."]})
        unread_count = notifications.filter(read_at__isnull=True).count()
        if unread == "true":
            notifications = notifications.filter(read_at__isnull=True)
        elif unread == "false":
            notifications = notifications.filter(read_at__isnull=False)
        limit, offset = inputs.read_limit_offset(request.query_params, EXECUTIONS_DEFAULT_LIMIT, EXECUTIONS_MAX_LIMIT)
        page = notifications[offset : offset + limit]
        return Response(
            {
                "notifications": NotificationSerializer(page, many=True).data,
                "count": notifications.count(),
                "unread_count": unread_count,
            }
        )

    @extend_schema(
        summary="Mark all your notifications read",
        request=inline_serializer(
            "ReadAllRequest",
            {"tenant_id": serializers.CharField(required=False, help_text="Only this tenant's; all when absent.")},
        ),
        responses={
            200: inline_serializer(
                "ReadAllResult", {"marked_read": serializers.IntegerField(), "message": serializers.CharField()}
            )
        },
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        from executions.services import notifications_mark_all_read

        body = inputs.require_object(request.data or {})
        user = request_user(request)
        if body.get("tenant_id") in (None, ""):
            marked = notifications_mark_all_read(user, member_tenant_ids(user))
        else:  # 403 for a tenant you are not in
            marked = notifications_mark_all_read(user, [resolve_tenant_id(request, body)])
        return Response({"marked_read": marked, "message": f"Marked {marked} notification(s) read"})

    @extend_schema(summary="Mark a notification read", request=None, responses={200: NotificationEnvelope})
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str) -> Response:
        from executions.services import notification_mark_read

        number = int(pk)
        notification = self.get_queryset().filter(pk=number).first() if number <= MAX_ID else None
        if notification is None:
            raise NotFound("No such notification of yours.")
        notification = notification_mark_read(notification)
        return Response({"notification": NotificationSerializer(notification).data, "message": "Marked read"})
