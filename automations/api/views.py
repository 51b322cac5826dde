"""The rules API: thin actions that check the caller's role, then call selectors and services."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from automations.api import inputs, schemas
from automations.api.serializers import (
    AutomationRuleSerializer,
    ContextRequestSerializer,
    DraftTestConditionsRequestSerializer,
    ExecuteRequestSerializer,
    RecommendRequestSerializer,
    RuleCreateRequestSerializer,
    RuleDraftRequestSerializer,
    RuleUpdateRequestSerializer,
)
from automations.filters import AutomationRuleFilterSet
from automations.models import AutomationRule
from automations.recommendations import recommend
from automations.rule_history import rule_state_changes, rule_version_history, state_change_as_dict
from automations.selectors import (
    rule_counts,
    rule_for_user,
    rule_without_tenant_for_user,
    rules_for_user,
)
from automations.services import (
    UnknownVersion,
    rule_archive,
    rule_create,
    rule_draft,
    rule_restore_version,
    rule_set_enabled,
    rule_test_conditions,
    rule_update,
)
from automations.summaries import summarize_rule
from automations.warnings import rule_warnings
from governance.api.permissions import Capability, require, require_role, resolve_tenant_id
from governance.common.api_errors import django_validation_detail
from governance.common.api_views import ApiViewSet
from governance.models import Tenant
from governance.users import request_user

LIST_MAX_LIMIT = 10_000

RULE_ID = OpenApiParameter("id", OpenApiTypes.STR, OpenApiParameter.PATH, description="automation_<hex>")


def call_service(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a write service, turning its Django ValidationError into a 400."""
    try:
        return function(*args, **kwargs)
    except DjangoValidationError as error:
        raise ValidationError(django_validation_detail(error)) from error


def _risk_of(definition: dict[str, Any]) -> str | None:
    risk = definition.get("risk_level")
    return risk if isinstance(risk, str) else None


def draft_rule_from_request(request: Request, data: Any) -> AutomationRule:
    """An unsaved rule from a body, validated, in a tenant the caller may test in."""
    body = inputs.require_object(data)
    tenant_id = resolve_tenant_id(request, body)
    require(request, tenant_id, Capability.TEST)
    fields = inputs.rule_fields_from_body(body)
    definition = inputs.create_definition({"name": "Unsaved rule", **fields})
    inputs.validate_rule_body(definition)
    require(request, tenant_id, Capability.TEST, _risk_of(definition))
    return rule_draft(Tenant.objects.get(pk=tenant_id), definition)


@extend_schema_view(
    list=extend_schema(
        summary="List automations",
        parameters=[
            OpenApiParameter("limit", OpenApiTypes.INT, description="Page size (all rules when absent)."),
            OpenApiParameter("offset", OpenApiTypes.INT, description="Rules to skip."),
        ],
        responses={200: schemas.RuleList},
    ),
    create=extend_schema(
        summary="Create an automation", request=RuleCreateRequestSerializer, responses={201: schemas.RuleSaved}
    ),
    partial_update=extend_schema(
        summary="Update an automation", request=RuleUpdateRequestSerializer, responses={200: schemas.RuleSaved}
    ),
    destroy=extend_schema(summary="Delete (archive) an automation", responses={200: schemas.RuleDeleted}),
)
class AutomationRuleViewSet(ApiViewSet):
    """Automation rules of the caller's tenants: their definitions, tests and summaries.

    What concerns their executions (a rule with its recent runs, its history and stats, manual runs) is
    added on the executions side (``executions.api.rules.AutomationViewSet``, the class the router serves),
    as imports point executions -> automations.
    """

    queryset = AutomationRule.objects.all()
    serializer_class = AutomationRuleSerializer
    filterset_class = AutomationRuleFilterSet
    lookup_value_regex = r"[^/]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[AutomationRule]:
        return rules_for_user(request_user(self.request)).order_by("-created_at", "id")

    def get_serializer_class(self) -> type:
        return {
            "create": RuleCreateRequestSerializer,
            "partial_update": RuleUpdateRequestSerializer,
            "test_conditions": ContextRequestSerializer,
            "test_conditions_draft": DraftTestConditionsRequestSerializer,
            "summary_draft": RuleDraftRequestSerializer,
            "execute": ExecuteRequestSerializer,
            "recommend": RecommendRequestSerializer,
        }.get(self.action, AutomationRuleSerializer)

    def get_object(self, with_tenant: bool = True) -> AutomationRule:
        # No list filters on a single rule: ?enabled=false must not turn GET /<id> into a 404.
        find = rule_for_user if with_tenant else rule_without_tenant_for_user
        rule = find(request_user(self.request), self.kwargs["pk"])
        if rule is None:
            raise NotFound("No such automation in your tenants.")
        return rule

    def rule(self, capability: str, risk_level: str | None = None, with_tenant: bool = True) -> AutomationRule:
        """The addressed rule (404 outside the caller's tenants), after the role check (403)."""
        rule = self.get_object(with_tenant)
        # caller_role: annotated (or the SQL's alias) by the selectors, which return a plain AutomationRule type.
        require_role(rule.caller_role, capability, risk_level or rule.risk_level)  # type: ignore[attr-defined]
        return rule

    @staticmethod
    def envelope(rule: AutomationRule, message: str) -> dict[str, Any]:
        return {"automation": AutomationRuleSerializer(rule).data, "message": message}

    @classmethod
    def saved(cls, rule: AutomationRule, message: str) -> dict[str, Any]:
        """The envelope of a create or an edit, with the rule's warnings (docs/warnings.md)."""
        return {**cls.envelope(rule, message), "warnings": [warning.as_dict() for warning in rule_warnings(rule)]}

    # --- the resource --------------------------------------------------------------------------

    def list(self, request: Request) -> Response:
        rules = self.filter_queryset(self.get_queryset())
        limit, offset = inputs.read_limit_offset(request.query_params, None, LIST_MAX_LIMIT)
        page = rules[offset : offset + limit] if limit is not None else rules[offset:]
        return Response(
            {
                "automations": AutomationRuleSerializer(page, many=True).data,
                **rule_counts(rules),
                "limit": limit,
                "offset": offset,
            }
        )

    def create(self, request: Request) -> Response:
        body = inputs.require_object(request.data)
        tenant_id = resolve_tenant_id(request, body)
        require(request, tenant_id, Capability.WRITE)
        fields = inputs.rule_fields_from_body(body)
        # The service validates the rule (once) and checks the role for its risk level.
        tenant = Tenant.objects.get(pk=tenant_id)
        rule = call_service(rule_create, tenant, fields, request_user(request))
        return Response(self.saved(rule, "Automation rule created successfully"), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        rule = self.rule(Capability.WRITE)
        body = inputs.require_object(request.data)
        if "tenant_id" in body and body["tenant_id"] != rule.tenant_id:
            raise ValidationError({"tenant_id": ["A rule cannot move to another tenant."]})
        fields = inputs.rule_fields_from_body(body)
        rule = call_service(rule_update, rule, fields, request_user(request))
        return Response(self.saved(rule, "Automation rule updated successfully"))

    def destroy(self, request: Request, pk: str) -> Response:
        rule = self.rule(Capability.DELETE)
        rule_archive(rule, request_user(request))
        return Response({"id": rule.pk, "message": "Automation rule deleted successfully"})

    @extend_schema(summary="Enable an automation", request=None, responses={200: schemas.RuleEnvelope})
    @action(detail=True, methods=["post"])
    def enable(self, request: Request, pk: str) -> Response:
        rule = rule_set_enabled(self.rule(Capability.WRITE), True, request_user(request))
        return Response(self.envelope(rule, "Automation rule enabled"))

    @extend_schema(summary="Disable an automation", request=None, responses={200: schemas.RuleEnvelope})
    @action(detail=True, methods=["post"])
    def disable(self, request: Request, pk: str) -> Response:
        rule = rule_set_enabled(self.rule(Capability.WRITE), False, request_user(request))
        return Response(self.envelope(rule, "Automation rule disabled"))

    # --- conditions, summaries, runs ----------------------------------------------------------------

    @extend_schema(
        summary="Test a rule's conditions",
        request=ContextRequestSerializer,
        responses={200: schemas.TestConditionsResult},
    )
    @action(detail=True, methods=["post"], url_path="test-conditions", filterset_class=None)
    def test_conditions(self, request: Request, pk: str) -> Response:
        rule = self.rule(Capability.TEST)
        context = inputs.read_context(request.data)
        return Response(rule_test_conditions(rule, context, request_user(request)).as_dict())

    @extend_schema(
        summary="Test an unsaved rule's conditions",
        operation_id="automations_test_conditions_draft",
        request=DraftTestConditionsRequestSerializer,
        responses={200: schemas.TestConditionsResult},
    )
    @action(detail=False, methods=["post"], url_path="test-conditions", filterset_class=None)
    def test_conditions_draft(self, request: Request) -> Response:
        body = inputs.require_object(request.data)
        rule = draft_rule_from_request(request, body.get("rule", {}))
        return Response(rule_test_conditions(rule, inputs.read_context(body), request_user(request)).as_dict())

    @extend_schema(summary="Plain English summary", responses={200: schemas.Summary})
    @action(detail=True, methods=["get"], filterset_class=None)
    def summary(self, request: Request, pk: str) -> Response:
        rule = self.rule(Capability.READ)
        council = rule.assigned_council.name if rule.assigned_council is not None else None
        return Response(summarize_rule(rule, council_name=council).as_dict())

    @extend_schema(
        summary="Plain English summary of an unsaved rule",
        operation_id="automations_summary_draft",
        request=RuleDraftRequestSerializer,
        responses={200: schemas.Summary},
    )
    @action(detail=False, methods=["post"], url_path="summary", filterset_class=None)
    def summary_draft(self, request: Request) -> Response:
        body = inputs.require_object(request.data)
        tenant_id = resolve_tenant_id(request, body)
        require(request, tenant_id, Capability.READ)
        fields = inputs.rule_fields_from_body(body)
        definition = inputs.create_definition({"name": "Unsaved rule", **fields})
        inputs.validate_rule_body(definition)
        definition.pop("assigned_council_id", None)
        return Response(summarize_rule(definition).as_dict())

    @extend_schema(
        summary="Recommend automations", request=RecommendRequestSerializer, responses={200: schemas.Recommendations}
    )
    @action(detail=False, methods=["post"], filterset_class=None)
    def recommend(self, request: Request) -> Response:
        body = inputs.require_object(request.data or {})
        tenant_id = resolve_tenant_id(request, body)
        require(request, tenant_id, Capability.READ)
        context = inputs.read_context(body)
        recommendations = [item.as_dict() for item in recommend(Tenant.objects.get(pk=tenant_id), context)]
        return Response({"recommendations": recommendations, "count": len(recommendations)})

    # --- history and undo ------------------------------------------------------------------------

    @extend_schema(
        summary="A rule's versions, what each changed, and when it was turned on or off",
        responses={200: schemas.RuleVersions},
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def versions(self, request: Request, pk: str) -> Response:
        rule = self.rule(Capability.READ)
        return Response(
            {
                "rule_id": rule.pk,
                "current_version": rule.version,
                "versions": [entry.as_dict() for entry in rule_version_history(rule)],
                "state_changes": [state_change_as_dict(change) for change in rule_state_changes(rule)],
            }
        )

    @extend_schema(
        summary="Restore an earlier version (as a new version)",
        request=None,
        parameters=[OpenApiParameter("number", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={200: schemas.RuleEnvelope},
    )
    @action(detail=True, methods=["post"], url_path=r"versions/(?P<number>[0-9]{1,9})/restore", filterset_class=None)
    def restore_version(self, request: Request, pk: str, number: str) -> Response:
        # The role check for the current risk level here, for the restored one in the service.
        rule = self.rule(Capability.WRITE)
        try:
            rule = call_service(rule_restore_version, rule, int(number), request_user(request))
        except UnknownVersion:
            raise NotFound(f"This automation has no version {int(number)}.") from None
        return Response(self.envelope(rule, f"Version {int(number)} restored as version {rule.version}"))
