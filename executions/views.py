"""Pages for people: approvals for council members, the notifications inbox, webhook endpoint settings.

Each view reads through the pipeline's and delivery's selectors, scoped to the current tenant, and
changes state only through their services (the same ones the API and admin call).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from automations.choices import Category
from automations.kinds.actions import action_kind_choices
from automations.models import AutomationRule
from automations.views import is_htmx
from executions.charts import Series, day_bar_chart, day_rate_chart, sparkline
from executions.choices import ApprovalStatus, ExecutionOutcome, ExecutionStatus, TriggerSource
from executions.delivery.models import WebhookDelivery, WebhookEndpoint
from executions.delivery.selectors import deliveries_for_user, endpoints_for_user
from executions.delivery.services import (
    delivery_redeliver,
    endpoint_create,
    endpoint_rotate_secret,
    endpoint_update,
)
from executions.filters import AutomationExecutionFilterSet
from executions.models import ApprovalRequest
from executions.selectors import (
    activity_page,
    approvals_for_user,
    attach_failure_explanations,
    cursor_text,
    notifications_for_user,
    read_cursor,
    tenant_activity,
)
from executions.services import ExecutionConflict, execution_approve, execution_reject, notifications_mark_read
from executions.services.analytics import ALLOWED_DAYS, Analytics, AnalyticsQuery, analytics_query, tenant_analytics
from governance.common.storable import database_id
from governance.models import Tenant
from governance.portal import portal_view
from governance.users import request_user

NOTIFICATIONS_PER_PAGE = 25
DELIVERIES_SHOWN = 50


def _tenant(request: HttpRequest) -> Tenant:
    return request.tenant  # type: ignore[attr-defined]


# --- approvals -----------------------------------------------------------------------------------


@portal_view
@require_GET
def approval_list(request: HttpRequest) -> HttpResponse:
    return _approvals_page(request)


def _approvals_page(request: HttpRequest, **extra: object) -> HttpResponse:
    """The approvals page; with ``refused`` (an approval id and its field errors) it answers 400."""
    tenant = _tenant(request)
    mine = approvals_for_user(request_user(request), status=None).filter(tenant=tenant)
    context = {
        "pending": mine.filter(status=ApprovalStatus.PENDING),
        "decided": mine.exclude(status=ApprovalStatus.PENDING)[:20],
        **extra,
    }
    return render(request, "executions/approvals.html", context, status=400 if extra.get("refused") else 200)


def _approval_for_user(request: HttpRequest, approval_id: int) -> ApprovalRequest:
    approval = (
        approvals_for_user(request_user(request), status=None).filter(tenant=_tenant(request), pk=approval_id).first()
    )
    if approval is None:
        raise Http404("No such approval request.")
    return approval


@portal_view
@require_POST
def approval_decide(request: HttpRequest, approval_id: int, decision: str) -> HttpResponse:
    """Approve or reject through the pipeline's services; a second decision is a clear message."""
    if decision not in ("approve", "reject"):
        raise Http404("Approve or reject.")
    approval = _approval_for_user(request, approval_id)
    execution = approval.execution
    rule_name = execution.automation_rule.name
    try:
        if decision == "approve":
            execution_approve(execution, request_user(request))
            messages.success(request, f"Approved “{rule_name}” (execution #{execution.pk}).")
        else:
            execution_reject(execution, request_user(request), request.POST.get("reason", ""))
            messages.success(request, f"Rejected “{rule_name}” (execution #{execution.pk}).")
    except ExecutionConflict as error:
        messages.error(request, f"Nothing changed: {error}.")
    except ValidationError as error:
        # Bad input (a reason the database cannot store): the page again, the message at its field.
        return _approvals_page(request, refused={"approval_id": approval.pk, "errors": error.message_dict})
    return redirect("executions:approvals")


# --- notifications -------------------------------------------------------------------------------


@portal_view
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    tenant = _tenant(request)
    notifications = notifications_for_user(request_user(request), tenant.pk)
    page = Paginator(notifications, NOTIFICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "executions/notifications.html", {"page": page})


@portal_view
@require_POST
def notification_read(request: HttpRequest) -> HttpResponse:
    """Mark one notification (``id``) or, without one, all of them read; an id naming no row is a 404."""
    tenant = _tenant(request)
    raw = request.POST.get("id", "")
    ids = None
    if raw:
        number = database_id(raw)
        if number is None:
            raise Http404("No such notification.")
        ids = [number]
    notifications_mark_read(request_user(request), tenant.pk, ids)
    return redirect("executions:notifications")


# --- webhook endpoints ---------------------------------------------------------------------------


def _endpoint_for_request(request: HttpRequest, endpoint_id: int) -> WebhookEndpoint:
    endpoint = endpoints_for_user(request_user(request)).filter(tenant=_tenant(request), pk=endpoint_id).first()
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint


def _webhooks_page(request: HttpRequest, **extra: object) -> HttpResponse:
    tenant = _tenant(request)
    endpoints = endpoints_for_user(request_user(request)).filter(tenant=tenant).order_by("id")
    deliveries = (
        deliveries_for_user(request_user(request))
        .filter(tenant=tenant)
        .select_related("endpoint", "execution")
        .order_by("-created_at", "-id")[:DELIVERIES_SHOWN]
    )
    context = {
        "endpoints": endpoints,
        "deliveries": deliveries,
        "action_types": action_kind_choices(),
        "errors": {},
        "typed": {},
        **extra,
    }
    return render(request, "executions/webhooks.html", context, status=400 if extra.get("errors") else 200)


@portal_view
@require_GET
def webhook_settings(request: HttpRequest) -> HttpResponse:
    return _webhooks_page(request)


@portal_view
@require_POST
def webhook_create(request: HttpRequest) -> HttpResponse:
    """Add an endpoint; its secret is shown on this response only."""
    tenant = _tenant(request)
    typed = {
        "url": request.POST.get("url", "").strip(),
        "action_type": request.POST.get("action_type", "").strip(),
        "description": request.POST.get("description", "").strip(),
        # A checkbox: absent when unticked.
        "include_trigger_payload": "true" if "include_trigger_payload" in request.POST else "false",
    }
    try:
        created = endpoint_create(
            tenant,
            typed["url"],
            action_type=typed["action_type"] or None,
            description=typed["description"],
            include_trigger_payload=typed["include_trigger_payload"] == "true",
            user=request_user(request),
        )
    except ValidationError as error:
        return _webhooks_page(request, errors=error.message_dict, typed=typed)
    return _webhooks_page(request, secret=created.secret, secret_endpoint=created.endpoint)


@portal_view
@require_POST
def webhook_rotate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint_for_request(request, endpoint_id)
    secret = endpoint_rotate_secret(endpoint, user=request_user(request))
    return _webhooks_page(request, secret=secret, secret_endpoint=endpoint, rotated=True)


@portal_view
@require_POST
def webhook_trigger_payload(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """Send, or leave out, the triggering event's payload in this endpoint's commands."""
    endpoint = _endpoint_for_request(request, endpoint_id)
    choice = request.POST.get("include_trigger_payload", "")
    if choice not in ("true", "false"):
        return _webhooks_page(request, errors={"include_trigger_payload": ["Must be true or false."]})
    try:
        endpoint_update(endpoint, {"include_trigger_payload": choice == "true"}, user=request_user(request))
    except ValidationError as error:
        return _webhooks_page(request, errors=error.message_dict)
    if endpoint.include_trigger_payload:
        messages.success(request, f"{endpoint.url} now receives the triggering event's payload.")
    else:
        messages.success(request, f"{endpoint.url} no longer receives the triggering event's payload.")
    return redirect("executions:webhooks")


@portal_view
@require_POST
def webhook_redeliver(request: HttpRequest, delivery_id: int) -> HttpResponse:
    tenant = _tenant(request)
    delivery: WebhookDelivery | None = (
        deliveries_for_user(request_user(request)).filter(tenant=tenant, pk=delivery_id).first()
    )
    if delivery is None:
        raise Http404("No such delivery.")
    try:
        delivery_redeliver(delivery, user=request_user(request))
        messages.success(request, f"Delivery #{delivery.pk} will be sent again.")
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
    return redirect("executions:webhooks")


# --- the activity log ----------------------------------------------------------------------------


def _rule_options(tenant: Tenant, selected: str) -> SafeString:
    """The activity filter's rule choices, archived ones marked, as ``<option>`` markup.

    Written here, from tuples: 500 rules as model instances through the template's loop were half of the
    page's time (issue 17: the activity log answers in 50 ms).
    """
    rules = AutomationRule.all_objects.filter(tenant=tenant).order_by("name").values_list("id", "name", "deleted_at")
    selected_mark = mark_safe(" selected")  # a constant
    return format_html_join(
        "",
        '<option value="{}"{}>{}{}</option>',
        (
            (pk, selected_mark if pk == selected else "", name, " (archived)" if deleted_at else "")
            for pk, name, deleted_at in rules
        ),
    )


@portal_view
@require_GET
def activity(request: HttpRequest) -> HttpResponse:
    """Every execution of the tenant across rules (archived ones included), newest first, with the API's
    execution filters (the same FilterSet) and keyset paging; a filter it cannot read is a 400."""
    tenant = _tenant(request)
    filters = AutomationExecutionFilterSet(
        {key: value for key, value in request.GET.items() if key != "cursor"}, queryset=tenant_activity(tenant.pk)
    )
    context: dict[str, Any] = {
        "filters": filters,
        "rule_options": _rule_options(tenant, request.GET.get("automation_rule_id", "")),
        "statuses": ExecutionStatus.choices,
        "sources": TriggerSource.choices,
        "zone": tenant.timezone,
    }
    try:
        after = read_cursor(request.GET["cursor"]) if request.GET.get("cursor") else None
    except ValueError:
        context["errors"] = {"cursor": ["This page link is not valid: start again from the first page."]}
        return render(request, "executions/activity.html", context, status=400)
    if not filters.is_valid():
        context["errors"] = filters.errors
        return render(request, "executions/activity.html", context, status=400)
    rows, next_cursor = activity_page(filters.qs, after)
    rows = attach_failure_explanations(rows)
    query = request.GET.copy()
    query.pop("cursor", None)
    if next_cursor is not None:
        query["cursor"] = cursor_text(next_cursor)
    first = request.GET.copy()
    first.pop("cursor", None)
    # The export streams every execution these filters select (the API's; scoped to this tenant).
    export = first.copy()
    export["tenant_id"] = tenant.pk
    export_url = reverse("api:execution-export")
    context.update(
        export_csv_url=f"{export_url}?{export.urlencode()}&format=csv",
        export_json_url=f"{export_url}?{export.urlencode()}&format=json",
        executions=rows,
        next_url=f"?{query.urlencode()}" if next_cursor is not None else "",
        first_url=f"?{first.urlencode()}" if after is not None else "",
    )
    return render(request, "executions/activity.html", context)


# --- the dashboard -------------------------------------------------------------------------------

# The executions chart's stack, bottom up: its series' short legend words and colours.
OUTCOME_SERIES = (
    Series(ExecutionStatus.SUCCEEDED, "Succeeded", "emerald"),
    Series(ExecutionOutcome.RECORDED_ONLY, "Recorded only", "slate"),
    Series(ExecutionStatus.FAILED, "Failed", "crimson"),
    Series(ExecutionStatus.SKIPPED, "Skipped", "muted"),
    Series(ExecutionStatus.REJECTED, "Rejected", "gold"),
    Series(ExecutionStatus.BLOCKED, "Blocked", "violet"),
    Series(ExecutionStatus.CANCELLED, "Cancelled", "slate"),
    Series(ExecutionStatus.SHADOWED, "Shadowed", "blue"),
    Series(ExecutionStatus.THROTTLED, "Throttled", "gold"),
)


def _dashboard_context(analytics: Analytics) -> dict[str, Any]:
    """The dashboard's SVG charts (executions.charts) and card notes from the analytics service's figures."""
    days = analytics.days
    median = analytics.approvals.median_minutes_to_decision
    recorded = analytics.totals.recorded_only
    by_day = [{"date": day.date, **day.counts} for day in analytics.executions_by_day]
    rates = [(day.date, day.success_rate) for day in analytics.executions_by_day]
    return {
        "executions_chart": day_bar_chart(by_day, f"Executions per day by outcome, last {days} days", OUTCOME_SERIES),
        "rate_chart": day_rate_chart(rates, f"Success rate per day, last {days} days", analytics.healthy_success_rate),
        "approvals_note": "no decisions in the period" if median is None else f"median {median:g} min to a decision",
        "time_saved_value": f"{analytics.time_saved.hours:,.1f} h",
        "recorded_only_note": f"{recorded} recorded only, not counted" if recorded else "",
        "active_rules": [
            {"rule": rule, "spark": sparkline(rule.by_day, f"{rule.name}: runs per day")}
            for rule in analytics.most_active_rules
        ],
    }


@portal_view
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """The portal's landing page: the tenant's analytics (``executions.services.analytics``, the API's too)
    over 7, 30 or 90 days; an htmx request (the page's refresh) gets the figures' fragment only."""
    tenant = _tenant(request)
    context: dict[str, Any] = {"zone": tenant.timezone, "categories": Category.choices, "day_choices": ALLOWED_DAYS}
    try:
        query = analytics_query(request.GET)
    except ValidationError as error:
        context.update(query=AnalyticsQuery(), errors=error.message_dict)
        return render(request, "executions/dashboard.html", context, status=400)
    analytics = tenant_analytics(tenant, query)
    context.update(query=query, analytics=analytics, **_dashboard_context(analytics))
    template = "executions/partials/_dashboard.html" if is_htmx(request) else "executions/dashboard.html"
    return render(request, template, context)
