"""The portal's automation pages: list, builder, details. Views read through selectors and change
state through services; the builder's checks are the API's validators."""

from __future__ import annotations

import copy
import datetime as dt
import json
import zoneinfo
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from automations.builder_errors import FieldError, error_label, field_errors_in_words
from automations.builder_state import (
    BuilderState,
    action_input_name,
    rule_data_from_state,
    shown,
    state_for_new_rule,
    state_from_data,
    state_from_post,
)
from automations.choices import (
    Category,
    ContactCap,
    RiskLevel,
    RuleMode,
    WhenCapped,
)
from automations.filters import AutomationRuleFilterSet
from automations.kinds.actions import ACTION_KINDS, action_kind_choices
from automations.kinds.operators import operator_choices
from automations.kinds.triggers import TRIGGER_KINDS, TriggerKind, trigger_kind_choices
from automations.models import AutomationRule
from automations.page_facts import page_facts
from automations.recommendations import CATALOGUE, recommend
from automations.selectors import ConditionReport, rule_counts, rule_get_for_tenant, rule_list_for_tenant
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
from automations.validators import Errors, RuleValidationError, validate_rule_definition, validate_storable
from automations.warnings import rule_warnings
from governance.common.storable import loads_json
from governance.models import Tenant
from governance.portal import allows, portal_prefix, portal_view, require, writable_risks
from governance.roles import Capability
from governance.selectors import councils_for_tenant
from governance.users import request_user

EXECUTIONS_PER_PAGE = 20
RECOMMENDATIONS_SHOWN = 8
SAMPLE_CONTEXT = {"store_status": "active", "product_count": 2}
EVENT_TYPES = (
    "product_added",
    "workflow_completed",
    "store_health_changed",
    "marketing_site_deployed",
    "customer_signup",
)
METRICS = ("product_count", "store_traffic", "conversion_rate", "campaign_performance")
# The fields Test Conditions reads (conditions, the threshold's own comparison, governance).
TESTED_FIELDS = (
    "conditions",
    "trigger_type",
    "trigger_config",
    "risk_level",
    "requires_approval",
    "auto_approval_rules",
)
CONDITION_TYPES = ("product_count", "store_status", "workflow_status", "date", "customer_behavior")


@lru_cache(maxsize=1)
def _timezones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


# --- list ----------------------------------------------------------------------------------------


@portal_view
@require_GET
def rule_list(request: HttpRequest) -> HttpResponse:
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    category = request.GET.get("category", "")
    if category not in Category.values:
        category = ""
    # The API's FilterSet, on the current tenant's rules only.
    rules = AutomationRuleFilterSet({"category": category}, queryset=rule_list_for_tenant(tenant)).qs
    context = {
        "rules": rules,
        "category": category,
        "category_tabs": [("", "All"), *Category.choices],
        "can_edit": allows(request, Capability.WRITE),
        "writable_risks": writable_risks(request),
        **_list_stats(tenant),
    }
    return render(request, "automations/list.html", context)


def _list_stats(tenant: Tenant) -> dict[str, Any]:
    since = timezone.now() - dt.timedelta(hours=24)
    counts = rule_counts(rule_list_for_tenant(tenant))
    return {"counts": counts, "executions_24h": page_facts.executions_since(tenant.pk, since)}


@portal_view
@require_POST
def rule_toggle(request: HttpRequest, rule_id: str) -> HttpResponse:
    """Enable or disable; htmx gets the new switch, a plain form post goes back to the page."""
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    rule = rule_get_for_tenant(tenant, rule_id)
    wanted = request.POST.get("enabled")
    rule_set_enabled(rule, (not rule.enabled) if wanted is None else wanted == "true", request_user(request))
    if is_htmx(request):
        context = {"rule": rule, "writable_risks": writable_risks(request), "oob": True, **_list_stats(tenant)}
        return render(request, "automations/partials/_toggled.html", context)
    messages.success(request, f"{rule.name} is now {'enabled' if rule.enabled else 'disabled'}.")
    back = request.POST.get("next")
    return redirect(back if back and back.startswith(portal_prefix()) else "automations:list")


@portal_view
@require_GET
def recommendations(request: HttpRequest) -> HttpResponse:
    """The recommendations modal's body."""
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    items = [item.as_dict() for item in _recommend(tenant)]
    for item in items:
        item["match"] = f"{float(item.get('relevance_score') or 0) * 100:.0f}%"
    return render(request, "automations/partials/_recommendations.html", {"recommendations": items})


def _recommend(tenant: Tenant) -> list[Any]:
    return recommend(tenant, page_facts.latest_metric_values(tenant.pk), limit=RECOMMENDATIONS_SHOWN)


# --- builder -------------------------------------------------------------------------------------


def _choices(tenant: Tenant) -> dict[str, Any]:
    return {
        "category": Category.choices,
        "trigger_type": trigger_kind_choices(),
        "action_type": action_kind_choices(),
        "risk_level": RiskLevel.choices,
        "contact_cap": ContactCap.choices,
        "when_capped": WhenCapped.choices,
        "council": [(council.pk, council.name) for council in councils_for_tenant(tenant.pk)],
    }


# FieldSpec.kind -> the _field.html input kind.
INPUT_KINDS = {"text": "text", "textarea": "textarea", "json": "textarea", "int": "number", "number": "number"}
INPUT_KINDS |= {"bool": "checkbox", "multi": "multi", "select": "select", "time": "time"}


def _state_value(state: BuilderState, kind: TriggerKind) -> Callable[[str], Any]:
    """The builder's value of another of ``kind``'s fields, by its key."""
    return lambda key: state.get(kind.input_name(key))


def _trigger_panels(state: BuilderState) -> list[dict[str, Any]]:
    """One panel per trigger kind, generated from its spec's fields."""
    panels = []
    for kind in TRIGGER_KINDS.values():
        fields = []
        for spec in kind.fields:
            name = kind.input_name(spec.key)
            field: dict[str, Any] = {
                "spec": spec,
                "name": name,
                "value": state.get(name),
                "show_when": "",
                "hide": False,
            }
            field["input_kind"] = INPUT_KINDS[spec.kind]
            # Errors belong to the panel of the chosen trigger only.
            field["path"] = f"trigger_config.{spec.key}" if kind.key == state.get("trigger_type") else f"-{name}"
            if spec.show_when is not None:
                key, values = spec.show_when
                field["show_when"] = f"{kind.input_name(key)}={'|'.join(values)}"
                field["hide"] = not shown(spec, _state_value(state, kind))
            fields.append(field)
        panels.append({"type": kind.key, "fields": fields})
    return panels


def _action_panels(state: BuilderState) -> list[dict[str, Any]]:
    kinds = INPUT_KINDS
    panels = []
    for kind in ACTION_KINDS.values():
        action_type = kind.key
        fields = []
        for spec in kind.fields:
            name = action_input_name(action_type, spec.key)
            value = state.action.get(name, [] if spec.kind == "multi" else "")
            if spec.kind == "bool":
                value = value in ("on", "true", "1")
            # Errors belong to the panel of the chosen action only.
            path = f"action_config.{spec.key}" if action_type == state.get("action_type") else f"-{name}"
            fields.append({"spec": spec, "name": name, "value": value, "path": path, "input_kind": kinds[spec.kind]})
        panels.append({"type": action_type, "fields": fields})
    return panels


def _builder_context(
    request: HttpRequest,
    tenant: Tenant,
    state: BuilderState,
    rule: AutomationRule | None,
    errors: Errors | None = None,
    sample_context: str = "",
) -> dict[str, Any]:
    data, _ = rule_data_from_state(state)
    return {
        "rule": rule,
        "state": state,
        "errors": errors or {},
        "error_list": field_errors_in_words(errors, state.get("trigger_type"), state.get("action_type")),
        "choices": _choices(tenant),
        "condition_operators": operator_choices(),
        "condition_rows": [
            {"row": row, "index": str(i), "number": str(i + 1)} for i, row in enumerate(state.conditions)
        ],
        "empty_row": {},
        "trigger_panels": _trigger_panels(state),
        "action_panels": _action_panels(state),
        "datalists": {
            "condition_types": CONDITION_TYPES,
            "event_types": EVENT_TYPES,
            "metrics": METRICS,
            "timezones": _timezones(),
        },
        "sample_context": sample_context or json.dumps(SAMPLE_CONTEXT, indent=2),
        "form_action": request.path,
        "can_delete": rule is not None and allows(request, Capability.DELETE, rule.risk_level),
        **summary_context(tenant, data),
    }


def summary_context(tenant: Tenant, data: dict[str, Any]) -> dict[str, Any]:
    """The summary panel's context: the same summary service the API uses, on the unsaved body, and
    whether nothing receives the action's commands (the panel then warns the rule will only record).

    A body with text or numbers the databases cannot store gets no summary but the reason (``unstorable``).
    """
    unstorable = validate_storable(data, "")
    if unstorable:
        path, messages = next(iter(unstorable.items()))
        return {"summary": None, "summary_unavailable": f"{path}: {messages[0]}", "unstorable": True}
    council_id = data.get("assigned_council_id")
    council = councils_for_tenant(tenant.pk).filter(pk=council_id).first() if council_id else None
    summary = summarize_rule(data, council_name=council.name if council else None)
    action_type = str(data.get("action_type") or "")
    only_recorded = bool(action_type) and page_facts.action_only_recorded(tenant.pk, action_type)
    return {
        "summary": summary,
        "has_conditions": bool(data.get("conditions")),
        # "No endpoint receives <type> commands: this rule will only record what it would do."
        "only_recorded_action": action_type if only_recorded else "",
    }


def _save(request: HttpRequest, tenant: Tenant, rule: AutomationRule | None) -> HttpResponse:
    # Refuse (403) before reading the form; the service checks again with the new risk level.
    require(request, Capability.WRITE, *([rule.risk_level] if rule is not None else []))
    state = state_from_post(request.POST)
    # The rule is validated by the service; when a field does not even parse, the same validator runs on
    # the rest as a preview, so every problem shows at once.
    data, errors = rule_data_from_state(state)
    if errors:
        errors = {**validate_rule_definition(data), **errors}
    else:
        try:
            saved = (
                rule_create(tenant, data, request_user(request))
                if rule is None
                else rule_update(rule, data, request_user(request))
            )
        except RuleValidationError as error:
            errors = error.paths  # the service's messages keyed by path, as data
        else:
            messages.success(request, f"Saved “{saved.name}”.")
            # Saving is never blocked by a warning; each is said with the field it is about (docs/warnings.md).
            for warning in rule_warnings(saved):
                label = error_label(warning.field, saved.trigger_type, saved.action_type)
                messages.warning(request, f"{label}: {warning.message}")
            return redirect("automations:list")
    context = _builder_context(request, tenant, state, rule, errors, request.POST.get("sample_context", ""))
    return render(request, "automations/builder.html", context, status=400)


@portal_view
@require_http_methods(["GET", "POST"])
def builder_new(request: HttpRequest) -> HttpResponse:
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    if request.method == "POST":
        return _save(request, tenant, None)
    require(request, Capability.WRITE)
    state = state_for_new_rule()
    wanted = request.GET.get("recommendation")
    if wanted:
        # The template itself, by key or name: no scoring (or backtest) to open the form it fills.
        for template in CATALOGUE:
            if wanted in (template.key, template.name):
                state = state_from_data(copy.deepcopy(template.suggested_config))
                break
    return render(request, "automations/builder.html", _builder_context(request, tenant, state, None))


@portal_view
@require_http_methods(["GET", "POST"])
def builder_edit(request: HttpRequest, rule_id: str) -> HttpResponse:
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    rule = rule_get_for_tenant(tenant, rule_id)
    if request.method == "POST":
        return _save(request, tenant, rule)
    require(request, Capability.WRITE, rule.risk_level)
    state = state_from_data({**rule.definition(), "enabled": rule.enabled})
    return render(request, "automations/builder.html", _builder_context(request, tenant, state, rule))


@portal_view
@require_POST
def builder_summary(request: HttpRequest) -> HttpResponse:
    """The summary panel for the form as typed (htmx, debounced)."""
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    data, _ = rule_data_from_state(state_from_post(request.POST))
    context = summary_context(tenant, data)
    status = 400 if context.get("unstorable") else 200
    return render(request, "automations/partials/_summary.html", context, status=status)


def parse_context(text: str) -> tuple[dict[str, Any] | None, str]:
    """A sample context typed as JSON, read by the API's parser (``loads_json``), or the reason it is refused."""
    try:
        context = loads_json(text or "{}")
    except json.JSONDecodeError as error:
        return None, f"The sample context is not valid JSON: {error}"
    except ValueError as error:
        return None, f"The sample context cannot be used: {error}"
    if not isinstance(context, dict):
        return None, 'The sample context must be a JSON object, such as {"store_status": "active"}.'
    return context, ""


def result_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ConditionResult.as_dict() rows (live or stored on an execution) with display text."""
    rows = []
    for item in results:
        if not isinstance(item, dict):
            continue
        condition = item.get("condition") or {}
        if isinstance(condition, dict) and "type" in condition:
            label = f"{condition.get('type')} {condition.get('operator')} {json.dumps(condition.get('value'))}"
        else:
            label = json.dumps(condition)
        rows.append(
            {
                **item,
                "label": label,
                "actual_text": json.dumps(item.get("actual_value"), default=str),
                "expected_text": json.dumps(item.get("expected_value"), default=str),
                "reason": item.get("reason") or "",
            }
        )
    return rows


def _results_response(request: HttpRequest, report: ConditionReport | None, **extra: Any) -> HttpResponse:
    """The Test panel: the rows and answer of a ConditionReport (the checks a run makes); 400 with the
    errors in ``extra`` when there is none because the context or the conditions were refused."""
    rows = result_rows(report.results) if report is not None else None
    context = {
        "results": rows,
        "report": report,
        "all_passed": report is not None and report.conditions_met,
        **extra,
    }
    status = 400 if report is None else 200
    return render(request, "automations/partials/_condition_results.html", context, status=status)


def builder_draft(request: HttpRequest, fields: tuple[str, ...]) -> tuple[dict[str, Any], list[FieldError]]:
    """The builder form's rule body, and the problems of the ``fields`` a preview reads, in words (none: the
    body can make a draft rule). Only what the preview reads must be valid: a form without a name yet can
    still test its conditions or be backtested."""
    state = state_from_post(request.POST)
    data, errors = rule_data_from_state(state)
    errors = {**{k: v for k, v in validate_rule_definition(data).items() if k.startswith(fields)}, **errors}
    words = field_errors_in_words(errors, state.get("trigger_type"), state.get("action_type")) if errors else []
    return data, words


@portal_view
@require_POST
def builder_test(request: HttpRequest) -> HttpResponse:
    """Test Conditions: each condition of the unsaved form against the sample context."""
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    context, context_error = parse_context(request.POST.get("sample_context", ""))
    if context is None:
        return _results_response(request, None, context_error=context_error)
    data, problems = builder_draft(request, TESTED_FIELDS)
    if problems:
        return _results_response(request, None, definition_errors=problems)
    return _results_response(request, rule_test_conditions(rule_draft(tenant, data), context, request_user(request)))


@portal_view
@require_http_methods(["GET", "POST"])
def builder_delete(request: HttpRequest, rule_id: str) -> HttpResponse:
    """Ask first (GET), then archive (POST)."""
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    rule = rule_get_for_tenant(tenant, rule_id)
    if request.method == "POST":
        rule_archive(rule, request_user(request))
        messages.success(request, f"Deleted “{rule.name}”.")
        return redirect("automations:list")
    require(request, Capability.DELETE, rule.risk_level)
    return render(request, "automations/delete_confirm.html", {"rule": rule})


# --- details -------------------------------------------------------------------------------------


@portal_view
@require_POST
def rule_test(request: HttpRequest, rule_id: str) -> HttpResponse:
    """The details page's Test: the saved rule's conditions against a sample context."""
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    rule = rule_get_for_tenant(tenant, rule_id)
    context, context_error = parse_context(request.POST.get("sample_context", ""))
    if context is None:
        return _results_response(request, None, context_error=context_error)
    return _results_response(request, rule_test_conditions(rule, context, request_user(request)))


@portal_view
@require_POST
def rule_set_enabled_view(request: HttpRequest, rule_id: str) -> HttpResponse:
    """Enable/Disable buttons on the details page."""
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    rule = rule_get_for_tenant(tenant, rule_id)
    rule_set_enabled(rule, request.POST.get("enabled") == "true", request_user(request))
    messages.success(request, f"{rule.name} is now {'enabled' if rule.enabled else 'disabled'}.")
    return redirect("automations:detail", rule_id=rule.pk)


@portal_view
@require_POST
def rule_restore_version_view(request: HttpRequest, rule_id: str, number: int) -> HttpResponse:
    """The History section's Restore: the same service (and role checks) as the API's restore."""
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    rule = rule_get_for_tenant(tenant, rule_id)
    try:
        rule = rule_restore_version(rule, number, request_user(request))
    except UnknownVersion:
        raise Http404(f"This automation has no version {number}.") from None
    except PermissionDenied as error:
        messages.error(request, str(error) or "Your role does not allow restoring this version.")
    except ValidationError as error:
        messages.error(request, f"Version {number} cannot be restored: {'; '.join(error.messages)}")
    else:
        messages.success(request, f"Version {number} restored as version {rule.version}.")
    return redirect(f"{reverse('automations:detail', kwargs={'rule_id': rule.pk})}#rule-history")


@portal_view
@require_POST
def rule_go_live(request: HttpRequest, rule_id: str) -> HttpResponse:
    """A shadow rule's Go live: one edit (a new version) through ``rule_update`` and its role checks."""
    tenant: Tenant = request.tenant  # type: ignore[attr-defined]
    rule = rule_get_for_tenant(tenant, rule_id)
    try:
        rule = rule_update(rule, {"mode": RuleMode.LIVE}, request_user(request))
    except PermissionDenied as error:
        messages.error(request, str(error) or "Your role does not allow editing this rule.")
    else:
        messages.success(request, f"{rule.name} is live from now on (version {rule.version}).")
    return redirect("automations:detail", rule_id=rule.pk)
