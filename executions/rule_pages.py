"""The rules' pages that show their executions: a rule's details page (history, chart, Run now) and one
execution's page. On the executions side, as imports point executions -> automations; their URLs stay in
the ``automations`` namespace (``config/portal_urls.py`` joins both apps' patterns)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from automations.selectors import rule_get_for_tenant
from automations.views import (
    EXECUTIONS_PER_PAGE,
    SAMPLE_CONTEXT,
    is_htmx,
    parse_context,
    result_rows,
    summary_context,
)
from executions.pipeline import execute_rule_manually
from executions.selectors import (
    execution_approval,
    execution_get_for_rule,
    rule_execution_overview,
    rule_execution_stats,
    rule_executions,
)
from governance.models import Tenant
from governance.portal import allows, portal_view
from governance.roles import Capability
from governance.users import request_user


@portal_view
@require_GET
def rule_detail(request: HttpRequest, rule_id: str) -> HttpResponse:
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    rule = rule_get_for_tenant(tenant, rule_id)
    now = timezone.now()
    page = Paginator(rule_executions(rule), EXECUTIONS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "rule": rule,
        "stats": rule_execution_overview(rule, now),
        "chart": _chart(rule_execution_stats(rule, now)["executions_by_day"]),
        "page": page,
        "can_edit": allows(request, Capability.WRITE, rule.risk_level),
        "can_delete": allows(request, Capability.DELETE, rule.risk_level),
        "can_test": allows(request, Capability.TEST, rule.risk_level),
        "can_run": allows(request, Capability.RUN, rule.risk_level),
        "sample_context": json.dumps(SAMPLE_CONTEXT, indent=2),
        **summary_context(tenant, {**rule.definition(), "assigned_council_id": rule.assigned_council_id}),
    }
    if is_htmx(request) and request.GET.get("page"):
        return render(request, "executions/partials/_execution_table.html", context)
    return render(request, "automations/detail.html", context)


def _chart(days: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars for a small SVG chart of the stats selector's ``executions_by_day``, scaled to the busiest day."""
    width, height, gap = 600, 120, 2
    bar_width = width / max(len(days), 1)
    peak = max((day["total"] for day in days), default=0) or 1
    bars = []
    for index, day in enumerate(days):
        bar_height = round(day["total"] / peak * (height - 20), 1)
        bars.append(
            {
                "x": round(index * bar_width + gap / 2, 1),
                "y": round(height - 14 - bar_height, 1),
                "w": round(bar_width - gap, 1),
                "h": bar_height,
                "day": dt.date.fromisoformat(day["date"]),
                "count": day["total"],
                "failed": day["failed"],
            }
        )
    total = sum(day["total"] for day in days)
    return {"bars": bars, "width": width, "height": height, "peak": peak, "total": total, "days": days}


@portal_view
@require_GET
def execution_detail(request: HttpRequest, rule_id: str, execution_id: int) -> HttpResponse:
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    rule = rule_get_for_tenant(tenant, rule_id)
    execution = execution_get_for_rule(rule, execution_id)
    context = {
        "rule": rule,
        "execution": execution,
        "condition_rows": result_rows(
            execution.condition_results if isinstance(execution.condition_results, list) else []
        ),
        "trigger_data": json.dumps(execution.trigger_data, indent=2, default=str),
        "action_result": json.dumps(execution.action_result, indent=2, default=str)
        if execution.action_result is not None
        else "",
        **_execution_extras(execution),
    }
    return render(request, "executions/detail.html", context)


def _execution_extras(execution: Any) -> dict[str, Any]:
    """The governance decision the pipeline recorded and the approval request, if one was opened."""
    approval = execution_approval(execution)
    decision = execution.governance_decision if isinstance(execution.governance_decision, dict) else {}
    approver = approval.decided_by.get_username() if approval and approval.decided_by else ""
    return {"approval": approval, "decision": decision, "approver_name": approver}


@portal_view
@require_POST
def rule_run(request: HttpRequest, rule_id: str) -> HttpResponse:
    """Run now: the pipeline's manual execution with the posted sample context (none from the page's
    button; the Test dialog's "Run with this context" posts the one it tests, by htmx)."""
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    rule = rule_get_for_tenant(tenant, rule_id)
    context, context_error = parse_context(request.POST.get("sample_context", "{}"))
    if context is None:
        if is_htmx(request):  # the Test dialog shows the refusal where the test results go
            partial = "automations/partials/_condition_results.html"
            return render(request, partial, {"context_error": context_error}, status=400)
        return render(request, "automations/run_refused.html", {"rule": rule, "error": context_error}, status=400)
    try:
        execution = execute_rule_manually(rule, context, request_user(request))
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
        return _go(request, reverse("automations:detail", kwargs={"rule_id": rule.pk}))
    messages.success(request, f"Execution #{execution.pk}: {execution.get_status_display()}.")
    return _go(request, reverse("automations:execution", kwargs={"rule_id": rule.pk, "execution_id": execution.pk}))


def _go(request: HttpRequest, url: str) -> HttpResponse:
    """A redirect; for htmx, the header that makes htmx load ``url`` as a page."""
    if is_htmx(request):
        response = HttpResponse()
        response["HX-Redirect"] = url
        return response
    return redirect(url)


urlpatterns = [
    path("automations/<key:rule_id>", rule_detail, name="detail"),
    path("automations/<key:rule_id>/run", rule_run, name="run"),
    path("automations/<key:rule_id>/executions/<id:execution_id>", execution_detail, name="execution"),
]
