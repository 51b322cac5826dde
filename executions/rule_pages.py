"""The rules' pages that show their executions: a rule's details page (history, chart, Run now) and one
execution's page. On the executions side, as imports point executions -> automations; their URLs stay in
the ``automations`` namespace (``executions/portal_urls.py`` joins both apps' patterns)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from automations.builder_errors import error_label
from automations.choices import TriggerType
from automations.rule_history import rule_state_changes, rule_version_history
from automations.selectors import rule_get_for_tenant
from automations.services import rule_draft
from automations.views import (
    EXECUTIONS_PER_PAGE,
    SAMPLE_CONTEXT,
    TESTED_FIELDS,
    builder_draft,
    is_htmx,
    parse_context,
    result_rows,
    summary_context,
)
from automations.warnings import rule_warnings
from executions.backtest import BacktestUnavailable, rule_backtest
from executions.charts import day_bar_chart
from executions.choices import ExecutionOutcome, execution_sentence
from executions.notifications.channels import ChannelStatus
from executions.pipeline import execute_rule_manually
from executions.portal_ingest import (
    EVENT_FORM_FIELDS,
    METRIC_FORM_FIELDS,
    IngestAnswer,
    metric_value_initial,
    metric_value_push,
    test_event_initial,
    test_event_send,
)
from executions.selectors import (
    STATS_DAYS,
    attach_failure_explanations,
    execution_approval,
    execution_get_for_rule,
    rule_execution_overview,
    rule_execution_stats,
    rule_executions,
    rule_failure_reasons,
)
from governance.models import Tenant
from governance.portal import allows, portal_view
from governance.roles import Capability
from governance.users import request_user

PREVIEW_DAYS = 30
# What a backtest reads, besides what Test Conditions does: the event type and source, the schedule.
BACKTESTED_FIELDS = (*TESTED_FIELDS, "action_type")


@portal_view
@require_GET
def rule_detail(request: HttpRequest, rule_id: str) -> HttpResponse:
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    rule = rule_get_for_tenant(tenant, rule_id)
    context = _detail_context(request, rule)
    if is_htmx(request) and request.GET.get("page"):
        return render(request, "executions/partials/_execution_table.html", context)
    return render(request, "automations/detail.html", context)


def _detail_context(request: HttpRequest, rule: Any, **forms: dict[str, Any]) -> dict[str, Any]:
    """The details page's context; ``forms`` replaces a prefilled ingest form (one sent back with errors)."""
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    now = timezone.now()
    page = Paginator(rule_executions(rule), EXECUTIONS_PER_PAGE).get_page(request.GET.get("page"))
    page.object_list = attach_failure_explanations(page.object_list)
    stats = rule_execution_overview(rule, now)
    recorded_only = stats["recorded_only_count"]
    full_stats = rule_execution_stats(rule, now)
    context = {
        "rule": rule,
        "stats": stats,
        # Runs nothing received are in neither the successes nor the rate: say how many there were.
        "recorded_only_note": f"{recorded_only} recorded only, not counted" if recorded_only else "",
        "chart": day_bar_chart(full_stats["executions_by_day"], "Executions per day, last 30 days"),
        "shadowed_count": full_stats["shadowed_count"],
        "failure_reasons": rule_failure_reasons(rule, now),
        "failure_reasons_days": STATS_DAYS,
        "page": page,
        "can_edit": allows(request, Capability.WRITE, rule.risk_level),
        "can_delete": allows(request, Capability.DELETE, rule.risk_level),
        "can_test": allows(request, Capability.TEST, rule.risk_level),
        "can_run": allows(request, Capability.RUN, rule.risk_level),
        "sample_context": json.dumps(SAMPLE_CONTEXT, indent=2),
        "rule_history": _history_entries(rule),
        **summary_context(tenant, {**rule.definition(), "assigned_council_id": rule.assigned_council_id}),
    }
    if allows(request, Capability.INGEST):
        if rule.trigger_type == TriggerType.EVENT:
            context["event_form"] = _ingest_form(test_event_initial(rule))
        elif rule.trigger_type == TriggerType.THRESHOLD:
            context["metric_form"] = _ingest_form(metric_value_initial(rule))
    context.update(forms)
    return context


def _ingest_form(
    typed: dict[str, str], answer: IngestAnswer | None = None, fields: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A Send test event / Push a metric value form: what was typed, the answer's message and errors
    (those naming no field of the form listed apart)."""
    errors = answer.errors if answer is not None else {}
    return {
        "typed": typed,
        "message": answer.message if answer is not None else "",
        "errors": errors,
        "other_errors": {name: messages for name, messages in errors.items() if name not in fields},
    }


def _history_entries(rule: Any) -> list[dict[str, Any]]:
    """The History section: versions (what each changed) and on/off/archive changes, newest first."""
    entries: list[dict[str, Any]] = [
        {
            "at": entry.version.changed_at,
            "kind": entry.change,
            "version": entry.version.version,
            "restored_from": entry.version.restored_from,
            "by": entry.version.changed_by,
            "current": entry.current,
            "lines": list(entry.description) or (["First version."] if entry.change == "created" else []),
        }
        for entry in rule_version_history(rule)
    ]
    entries += [
        {"at": change.changed_at, "kind": change.kind, "version": change.version, "by": change.changed_by, "lines": []}
        for change in rule_state_changes(rule)
    ]
    return sorted(entries, key=lambda entry: entry["at"], reverse=True)


@portal_view
@require_GET
def execution_detail(request: HttpRequest, rule_id: str, execution_id: int) -> HttpResponse:
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    # An archived rule's executions stay readable (the audit trail): the page says the rule is archived.
    rule = rule_get_for_tenant(tenant, rule_id, include_archived=True)
    (execution,) = attach_failure_explanations([execution_get_for_rule(rule, execution_id)])
    context = {
        "rule": rule,
        "execution": execution,
        "failure": execution.failure_explained,  # type: ignore[attr-defined]  # attach_failure_explanations
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
    """The governance decision the pipeline recorded, the approval request if one was opened, and each
    message a notification sent or could not send (per channel and recipient)."""
    approval = execution_approval(execution)
    decision = execution.governance_decision if isinstance(execution.governance_decision, dict) else {}
    approver = approval.decided_by.get_username() if approval and approval.decided_by else ""
    return {
        "approval": approval,
        "decision": decision,
        "approver_name": approver,
        "channel_rows": _channel_rows(execution),
    }


def _channel_rows(execution: Any) -> list[dict[str, Any]]:
    """Rows of the action result's ``channel_results`` (send_notification), with each recipient's name."""
    from django.contrib.auth import get_user_model

    result = execution.action_result if isinstance(execution.action_result, dict) else {}
    sends = [sent for sent in result.get("channel_results") or [] if isinstance(sent, dict)]
    if not sends:
        return []
    user_ids = [int(sent["user_id"]) for sent in sends if isinstance(sent.get("user_id"), int)]
    names: dict[Any, str] = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username"))
    return [
        {
            "recipient": names.get(sent.get("user_id"), f"user {sent.get('user_id')}"),
            "channel": str(sent.get("channel", "")),
            "sent": sent.get("status") == ChannelStatus.SENT,
            "status_label": str(sent.get("status", "")).replace("_", " "),
            "detail": str(sent.get("detail", "")),
        }
        for sent in sends
    ]


@portal_view
@require_POST
def builder_backtest(request: HttpRequest) -> HttpResponse:
    """The builder's "Preview on the last 30 days": the unsaved form backtested (``executions.backtest``)."""
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    data, problems = builder_draft(request, BACKTESTED_FIELDS)
    context: dict[str, Any] = {"days": PREVIEW_DAYS}
    if problems:
        context["definition_errors"] = problems
    else:
        draft = rule_draft(tenant, data)
        try:
            result = rule_backtest(draft, request_user(request), PREVIEW_DAYS)
        except PermissionDenied as error:
            context["refused"] = str(error) or "Your role does not allow testing rules of this risk level."
        except BacktestUnavailable as error:
            context["refused"] = f"{str(error)[:1].upper()}{str(error)[1:]}."
        else:
            answer = result.as_dict()
            days = [{"date": day["date"], "total": day["would_fire"], "failed": 0} for day in answer["by_day"]]
            warnings = [
                {"field": error_label(w.field, draft.trigger_type, draft.action_type), "message": w.message}
                for w in rule_warnings(draft)
            ]
            chart = day_bar_chart(days, f"Runs it would have made per day, last {PREVIEW_DAYS} days")
            context.update(backtest=answer, chart=chart, zone=tenant.timezone, warnings=warnings)
    return render(request, "executions/partials/_backtest_preview.html", context)


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
    # A run only recorded is not a success: a neutral message, never the green one.
    if execution.outcome == ExecutionOutcome.RECORDED_ONLY:
        messages.warning(request, f"Execution #{execution.pk}: {execution.outcome_label}.")
    else:
        messages.success(request, f"{execution_sentence(f'Execution #{execution.pk}', execution.status)}.")
    return _go(request, reverse("automations:execution", kwargs={"rule_id": rule.pk, "execution_id": execution.pk}))


@portal_view
@require_POST
def rule_send_event(request: HttpRequest, rule_id: str) -> HttpResponse:
    """Send test event: one event posted as the signed-in person through POST /api/events' service."""
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    rule = rule_get_for_tenant(tenant, rule_id)
    typed = {name: request.POST.get(name, "") for name in EVENT_FORM_FIELDS}
    answer = test_event_send(tenant, request_user(request), typed)
    return _ingest_answer(request, rule, "event_form", typed, answer, EVENT_FORM_FIELDS)


@portal_view
@require_POST
def rule_push_metric(request: HttpRequest, rule_id: str) -> HttpResponse:
    """Push a metric value: one sample recorded as the signed-in person through POST /api/metrics' service."""
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    rule = rule_get_for_tenant(tenant, rule_id)
    typed = {name: request.POST.get(name, "") for name in METRIC_FORM_FIELDS}
    answer = metric_value_push(tenant, request_user(request), typed)
    return _ingest_answer(request, rule, "metric_form", typed, answer, METRIC_FORM_FIELDS)


def _ingest_answer(
    request: HttpRequest,
    rule: Any,
    form_name: str,
    typed: dict[str, str],
    answer: IngestAnswer,
    fields: tuple[str, ...],
) -> HttpResponse:
    """htmx: the form again, with the message or its errors (400). A plain POST: back to the page with the
    message, or the page with the form open at its errors (400)."""
    status = 200 if answer.accepted else 400
    form = _ingest_form(typed, answer, fields)
    if is_htmx(request):
        partial = "_test_event_form.html" if form_name == "event_form" else "_metric_value_form.html"
        return render(request, f"executions/partials/{partial}", {"rule": rule, "form": form}, status=status)
    if answer.accepted:
        messages.success(request, answer.message)
        return redirect(reverse("automations:detail", kwargs={"rule_id": rule.pk}))
    context = _detail_context(request, rule, **{form_name: form})
    return render(request, "automations/detail.html", context, status=status)


def _go(request: HttpRequest, url: str) -> HttpResponse:
    """A redirect; for htmx, the header that makes htmx load ``url`` as a page."""
    if is_htmx(request):
        response = HttpResponse()
        response["HX-Redirect"] = url
        return response
    return redirect(url)


urlpatterns = [
    # Before the details page's automations/<id>: "backtest-preview" is not a rule.
    path("automations/backtest-preview", builder_backtest, name="builder-backtest"),
    path("automations/<key:rule_id>", rule_detail, name="detail"),
    path("automations/<key:rule_id>/run", rule_run, name="run"),
    path("automations/<key:rule_id>/send-event", rule_send_event, name="send-event"),
    path("automations/<key:rule_id>/push-metric", rule_push_metric, name="push-metric"),
    path("automations/<key:rule_id>/executions/<id:execution_id>", execution_detail, name="execution"),
]
