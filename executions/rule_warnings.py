"""The rule warnings that read the tenant's history (registered in ``ExecutionsConfig.ready``): a condition
on a key the tenant's data never has, a threshold already met when the rule is saved, and what a 30-day
backtest says (``fires_too_often``, ``never_fires``). The others,
and how warnings reach the API and the builder, are in ``automations.warnings`` (docs/warnings.md)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from automations.choices import TriggerType
from automations.conditions.paths import condition_paths
from automations.conditions.threshold import compare
from automations.models import AutomationRule
from automations.warnings import RuleWarning
from executions.backtest import BacktestUnavailable, backtest_rule
from executions.context import builtin_facts, tenant_facts
from executions.models import AutomationExecution, Event, MetricSample, ThresholdState

RECENT_EVENTS = 500
RECENT_EXECUTIONS = 200


def known_context_keys(rule: AutomationRule) -> set[str]:
    """The top-level keys the tenant's contexts have had lately: built-ins, metrics and providers, the
    payloads of its recent events and the trigger data of its recent runs."""
    tenant = rule.tenant
    keys = set(builtin_facts(tenant)) | set(tenant_facts(tenant)) | {"event"}
    for payload in (
        Event.objects.filter(tenant_id=tenant.pk).order_by("-id").values_list("payload", flat=True)[:RECENT_EVENTS]
    ):
        if isinstance(payload, dict):
            keys.update(payload)
    runs = AutomationExecution.objects.filter(tenant_id=tenant.pk).order_by("-id")
    for trigger_data in runs.values_list("trigger_data", flat=True)[:RECENT_EXECUTIONS]:
        if isinstance(trigger_data, dict):
            keys.update(trigger_data)
    return {key for key in keys if isinstance(key, str)}


def check_unknown_keys(rule: AutomationRule) -> Iterator[RuleWarning]:
    paths = list(condition_paths(rule.conditions))
    if not paths or not rule.tenant_id:
        return
    known = known_context_keys(rule)
    if len(known) <= len(builtin_facts(rule.tenant)) + 1:
        return  # a tenant with no events, metrics or runs yet: nothing to compare with
    for field, key in paths:
        if key in known:
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]}?" if close else ""
        yield RuleWarning(
            "unknown_context_key",
            f"No recent event, metric or run of this tenant has {key}: this condition fails while it is missing.{hint}",
            field,
        )


def check_threshold_met(rule: AutomationRule) -> Iterator[RuleWarning]:
    config = rule.trigger_config if isinstance(rule.trigger_config, dict) else {}
    if rule.trigger_type != TriggerType.THRESHOLD or not rule.tenant_id:
        return
    metric = config.get("metric")
    value = tenant_facts(rule.tenant).get(metric) if isinstance(metric, str) else None
    if value is None or compare(str(config.get("operator")), value, config.get("value")) is not True:
        return
    state = ThresholdState.objects.filter(rule_id=rule.pk).first() if rule.pk else None
    described = f"{metric} is {value} now, which already meets {config.get('operator')} {config.get('value')}"
    if state is not None and state.condition_met:
        what = "it will not fire again until the value stops meeting it and crosses back"
    elif config.get("for_minutes"):
        what = f"it fires once the value has held for {config.get('for_minutes')} minutes (checked every 5 minutes)"
    else:
        what = "it fires at the next check (within 5 minutes), then not again until the value crosses anew"
    yield RuleWarning("threshold_already_met", f"{described}: {what}.", "trigger_config.value")


WARNING_BACKTEST_DAYS = 30
# A save stays quick on a busy tenant: the oldest 20,000 triggers (500,000 events grouped in SQL) tell
# enough, and a behaviour's hourly detector runs get 3 s of the replay's budget (BEHAVIOR_REPLAY_SECONDS).
WARNING_BACKTEST_TRIGGERS = 20_000
WARNING_BACKTEST_GROUPED_IN_SQL = 500_000
WARNING_BEHAVIOR_SECONDS = 3


def check_backtest(rule: AutomationRule) -> Iterator[RuleWarning]:
    """``fires_too_often`` (more than half of its triggers in the last 30 days) or ``never_fires`` (none; or
    no trigger at all, said only for a tenant that has history in the window: a new shop has none yet)."""
    try:
        result = backtest_rule(
            rule,
            WARNING_BACKTEST_DAYS,
            max_triggers=WARNING_BACKTEST_TRIGGERS,
            max_grouped_in_sql=WARNING_BACKTEST_GROUPED_IN_SQL,
            behavior_seconds=WARNING_BEHAVIOR_SECONDS,
        )
    except BacktestUnavailable:
        return
    if result.warnings:
        # a replay that could not know everything (provider values, unknowable slot data) or stopped early
        # (a cap, the behaviour's time budget) says nothing
        return
    seen, fired = result.triggers_seen, result.would_fire
    if seen == 0:
        if _has_history(rule, result.window_from):
            yield RuleWarning(
                "never_fires",
                f"Nothing in the last {WARNING_BACKTEST_DAYS} days would have triggered it: check the trigger.",
                "trigger_config",
            )
    elif fired == 0:
        yield RuleWarning(
            "never_fires",
            f"It would not have run once in the last {WARNING_BACKTEST_DAYS} days ({seen} triggers, none passed "
            "its conditions): check the conditions.",
            "conditions",
        )
    elif fired * 2 > seen and rule.conditions:
        yield RuleWarning(
            "fires_too_often",
            f"It would have run for {fired} of {seen} triggers in the last {WARNING_BACKTEST_DAYS} days "
            f"({fired * 100 // seen}%): are the conditions narrow enough?",
            "conditions",
        )


def _has_history(rule: AutomationRule, since: Any) -> bool:
    if rule.trigger_type == TriggerType.THRESHOLD:
        return MetricSample.objects.filter(tenant_id=rule.tenant_id, recorded_at__gte=since).exists()
    events = Event.objects.filter(tenant_id=rule.tenant_id, occurred_at__gte=since)
    if rule.trigger_type == TriggerType.BEHAVIOR:
        events = events.exclude(customer_id="")  # behaviours read customer activity only
    return events.exists()
