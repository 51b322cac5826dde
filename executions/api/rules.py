"""The rules API with what concerns their executions: a rule with its recent runs, its execution history
and stats, and manual runs. It extends the rules viewset of ``automations.api.views`` from the executions
side (imports point executions -> automations); the router serves this class at ``/api/automations``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from automations.api import inputs
from automations.api.schemas import RuleStats
from automations.api.serializers import AutomationRuleSerializer, ExecuteRequestSerializer
from automations.api.views import AutomationRuleViewSet, call_service, draft_rule_from_request
from automations.models import AutomationRule
from executions.api.schemas import BacktestResultSchema, ExecuteResult, ExecutionList, RuleDetail
from executions.api.serializers import ExecutionSerializer
from executions.api.views import CURSOR_PARAMETER, execution_page
from executions.backtest import DEFAULT_DAYS, BacktestUnavailable, rule_backtest
from executions.choices import OUTCOME_CHOICES, ExecutionStatus, TriggerSource, execution_sentence
from executions.filters import AutomationExecutionFilterSet
from executions.pipeline import execute_rule_manually
from executions.selectors import (
    attach_failure_explanations,
    rule_execution_stats,
    rule_overview_and_recent_executions,
)
from governance.api.permissions import Capability, require
from governance.users import request_user


class AutomationViewSet(AutomationRuleViewSet):
    """Automation rules of the caller's tenants."""

    @extend_schema(summary="Get an automation", responses={200: RuleDetail})
    def retrieve(self, request: Request, pk: str) -> Response:
        rule = self.rule(Capability.READ, with_tenant=False)
        overview, recent_executions = rule_overview_and_recent_executions(rule)
        return Response(
            {
                "automation": AutomationRuleSerializer(rule).data,
                "stats": overview,
                "recent_executions": ExecutionSerializer(
                    attach_failure_explanations(recent_executions), many=True
                ).data,
            }
        )

    @extend_schema(
        summary="Execution history",
        parameters=[
            OpenApiParameter("limit", OpenApiTypes.INT, description="Default 50, at most 200."),
            OpenApiParameter("offset", OpenApiTypes.INT, description="Executions to skip."),
            CURSOR_PARAMETER,
            OpenApiParameter("success", OpenApiTypes.BOOL, description="true or false"),
            OpenApiParameter("status", OpenApiTypes.STR, enum=ExecutionStatus.values),
            OpenApiParameter(
                "outcome",
                OpenApiTypes.STR,
                enum=[value for value, _label in OUTCOME_CHOICES],
                description="A status, or recorded_only (succeeded, but nothing received the command).",
            ),
            OpenApiParameter("trigger_source", OpenApiTypes.STR, enum=TriggerSource.values),
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Triggered at or after (ISO 8601)."),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="Triggered before (ISO 8601)."),
        ],
        responses={200: ExecutionList},
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def executions(self, request: Request, pk: str) -> Response:
        rule = self.rule(Capability.READ)
        filterset = AutomationExecutionFilterSet(
            request.query_params, queryset=rule.executions.select_related("rule_version")
        )
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        return Response(execution_page(request, filterset.qs.order_by("-triggered_at", "-id")))

    @extend_schema(summary="Execution stats", responses={200: RuleStats})
    @action(detail=True, methods=["get"], filterset_class=None)
    def stats(self, request: Request, pk: str) -> Response:
        return Response(rule_execution_stats(self.rule(Capability.READ)))

    @extend_schema(summary="Execute an automation", request=ExecuteRequestSerializer, responses={200: ExecuteResult})
    @action(detail=True, methods=["post"], filterset_class=None)
    def execute(self, request: Request, pk: str) -> Response:
        rule = self.rule(Capability.RUN)
        body = inputs.require_object(request.data or {})
        context = inputs.read_context(body)
        bypass = inputs.read_bool(body, "bypass_approval", False)
        # A run a caller starts is always manual (the spec's body carries "manual"); any other label is a 400.
        if body.get("trigger_source", TriggerSource.MANUAL) != TriggerSource.MANUAL:
            raise ValidationError(
                {"trigger_source": ['A run you start is always "manual": send "manual" or leave trigger_source out.']}
            )
        if bypass:
            require(request, rule.tenant_id, Capability.BYPASS_APPROVAL, rule.risk_level)
        execution = call_service(execute_rule_manually, rule, context, request_user(request), bypass_approval=bypass)
        return Response(
            {
                "execution": ExecutionSerializer(execution).data,
                "message": execution_sentence(f"Execution {execution.pk}", execution.status),
            }
        )

    # --- backtests ---------------------------------------------------------------------------------

    @extend_schema(
        summary="Backtest: what the rule would have done over its tenant's history",
        request=inline_serializer("BacktestRequest", {"days": serializers.IntegerField(required=False)}),
        responses={200: BacktestResultSchema},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def backtest(self, request: Request, pk: str) -> Response:
        rule = self.rule(Capability.TEST)
        body = inputs.require_object(request.data or {})
        return Response(_backtest(rule, body, request))

    @extend_schema(
        summary="Backtest an unsaved rule",
        operation_id="automations_backtest_draft",
        request=inline_serializer(
            "BacktestDraftRequest", {"rule": serializers.DictField(), "days": serializers.IntegerField(required=False)}
        ),
        responses={200: BacktestResultSchema},
    )
    @action(detail=False, methods=["post"], url_path="backtest", filterset_class=None)
    def backtest_draft(self, request: Request) -> Response:
        body = inputs.require_object(request.data)
        rule = draft_rule_from_request(request, body.get("rule", {}))
        return Response(_backtest(rule, body, request))


def _backtest(rule: AutomationRule, body: dict[str, Any], request: Request) -> dict[str, Any]:
    """``rule_backtest`` (which checks the days and the caller's role) for the API: errors as 400s."""
    try:
        result = call_service(rule_backtest, rule, request_user(request), body.get("days", DEFAULT_DAYS))
    except BacktestUnavailable as error:
        raise ValidationError({"trigger_type": [f"{str(error)[:1].upper()}{str(error)[1:]}."]}) from None
    return result.as_dict()
