"""Listener benchmarks on PostgreSQL: due-schedule lookup, threshold tick, behaviour tick.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/automations_sched_bench python -m bench listeners

Targets (issue 5): due-schedule lookup among 100,000 schedule rules <= 50 ms; a threshold tick over
10,000 rules <= 5 s; a behaviour tick over 1,000,000 activity events of 100,000 customers <= 10 s.

The database must be PostgreSQL and its name must end in ``_bench``: the benchmark empties the rule,
execution, event and listener tables first. Data is generated with bulk_create and COPY. Until the
pipeline (issue 3) is merged, firings go to the ORM-only ``trigger_rule`` stand-in of the tests.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import time
from typing import Any

SCHEDULE_RULES = 100_000
DUE_RULES = 100
THRESHOLD_RULES = 10_000
THRESHOLD_TENANTS = 1_000
EVENTS = 1_000_000
CUSTOMERS = 100_000
DAYS_OF_HISTORY = 30
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
TRAFFIC: dict[str, float] = {}
TABLES = (
    "automation_behavior_matches",
    "automation_schedule_slots",
    "automation_threshold_states",
    "automation_executions",
    "automation_events",
    "automation_metric_samples",
    "automation_rule_versions",
    "automation_rules",
)


def traffic_provider(tenant: Any) -> float | None:
    """The pull provider the threshold benchmark registers for ``store_traffic``."""
    return TRAFFIC.get(tenant.pk)


def _timed(function: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return (time.perf_counter() - start) * 1000, value


def _prepare() -> str:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
    return "real (executions.services.trigger_rule)"


def _tenants(count: int, prefix: str) -> list[Any]:
    from governance.models import Tenant

    tenants = [Tenant(id=f"{prefix}{index:05d}", name=f"Bench {index}", timezone="UTC") for index in range(count)]
    Tenant.objects.bulk_create(tenants, ignore_conflicts=True)
    return tenants


def _rule(tenant_id: str, trigger_type: str, config: dict[str, Any], **fields: Any) -> Any:
    from automations.models import AutomationRule

    return AutomationRule(
        tenant_id=tenant_id,
        name="bench",
        trigger_type=trigger_type,
        trigger_config=config,
        action_type="send_notification",
        action_config={"recipients": ["owner"], "message": "bench"},
        **fields,
    )


# --- schedules -----------------------------------------------------------------------------------


def bench_schedules() -> dict[str, Any]:
    from django.db import connection

    from automations.models import AutomationRule
    from executions.listeners.schedule import check_schedules, rules_due_for_schedule

    tenants = _tenants(100, "sched_")
    rng = random.Random(5)
    rules = []
    for index in range(SCHEDULE_RULES):
        due = index < DUE_RULES
        minute = rng.randrange(60)
        hour = NOW.hour if due else rng.randrange(24)
        config = {"pattern": "daily", "time": f"{hour:02d}:{minute:02d}"}
        if due:
            next_run_at = NOW - dt.timedelta(seconds=rng.randrange(1, 50))
            config["time"] = next_run_at.strftime("%H:%M")
            next_run_at = next_run_at.replace(second=0)
        else:
            next_run_at = NOW + dt.timedelta(minutes=rng.randrange(1, 24 * 60))
        rules.append(_rule(tenants[index % 100].pk, "schedule", config, next_run_at=next_run_at))
    started = time.perf_counter()
    AutomationRule.objects.bulk_create(rules, batch_size=5000)
    load_seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE automation_rules")

    lookups = []
    for _ in range(20):
        elapsed, ids = _timed(lambda: list(rules_due_for_schedule(NOW).values_list("id", flat=True)))
        lookups.append(elapsed)
    sql, params = rules_due_for_schedule(NOW).values_list("id", flat=True).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = " | ".join(row[0].strip() for row in cursor.fetchall())
    tick_ms, result = _timed(check_schedules, NOW)
    second_ms, second = _timed(check_schedules, NOW + dt.timedelta(seconds=20))
    return {
        "schedule_rules": SCHEDULE_RULES,
        "schedule_load_s": round(load_seconds, 1),
        "due_rules_found": len(ids),
        "due_lookup_median_ms": round(statistics.median(lookups), 2),
        "due_lookup_max_ms": round(max(lookups), 2),
        "due_lookup_uses_index": "rule_schedule_due" in plan,
        "due_lookup_plan": plan[:300],
        "schedule_tick_ms": round(tick_ms, 1),
        "schedule_tick_fired": result.fired,
        "schedule_second_tick_ms": round(second_ms, 1),
        "schedule_second_tick_fired": second.fired,
    }


# --- thresholds ----------------------------------------------------------------------------------


def bench_thresholds() -> dict[str, Any]:
    from django.conf import settings
    from django.test.utils import override_settings

    from automations.models import AutomationRule
    from executions.listeners.threshold import check_thresholds
    from executions.models import MetricSample

    tenants = _tenants(THRESHOLD_TENANTS, "thr_")
    rng = random.Random(7)
    rules = []
    for index in range(THRESHOLD_RULES):
        tenant = tenants[index % THRESHOLD_TENANTS]
        if index % 2:
            config = {"metric": "product_count", "operator": "<", "value": rng.choice([3, 5, 10])}
        else:
            config = {"metric": "store_traffic", "operator": ">", "value": rng.choice([100, 200, 500])}
        if index % 10 == 0:
            config["for_minutes"] = 10
        rules.append(_rule(tenant.pk, "threshold", config))
    AutomationRule.objects.bulk_create(rules, batch_size=5000)
    samples = [
        MetricSample(
            tenant_id=tenant.pk,
            metric="product_count",
            value_number=rng.randrange(0, 20),
            recorded_at=NOW - dt.timedelta(minutes=5 * age),
        )
        for tenant in tenants
        for age in range(20)
    ]
    MetricSample.objects.bulk_create(samples, batch_size=5000)
    for tenant in tenants:
        TRAFFIC[tenant.pk] = rng.randrange(0, 600)

    providers = {"store_traffic": f"{__name__}.traffic_provider"}
    with override_settings(AUTOMATIONS={**settings.AUTOMATIONS, "METRIC_PROVIDERS": providers}):
        first_ms, first = _timed(check_thresholds, NOW)
        for tenant in tenants[: THRESHOLD_TENANTS // 2]:  # half the tenants' traffic moves
            TRAFFIC[tenant.pk] = rng.randrange(0, 600)
        second_ms, second = _timed(check_thresholds, NOW + dt.timedelta(minutes=5))
        promote_ms, promote = _timed(check_thresholds, NOW + dt.timedelta(minutes=10))
        steady_ms, steady = _timed(check_thresholds, NOW + dt.timedelta(minutes=15))
    return {
        "threshold_rules": THRESHOLD_RULES,
        "threshold_first_tick_s": round(first_ms / 1000, 2),
        "threshold_first_tick_fired": first.fired,
        "threshold_first_tick_written": first.changed + first.fired,
        "threshold_tick_with_changes_s": round(second_ms / 1000, 2),
        "threshold_tick_with_changes_fired": second.fired,
        "threshold_tick_with_changes_written": second.changed + second.fired,
        "threshold_for_minutes_tick_s": round(promote_ms / 1000, 2),
        "threshold_for_minutes_tick_fired": promote.fired,
        "threshold_steady_tick_s": round(steady_ms / 1000, 2),
        "threshold_steady_tick_written": steady.changed,
        "threshold_steady_tick_fired": steady.fired,
    }


# --- behaviours ----------------------------------------------------------------------------------

EVENT_MIX = (
    ("customer_active", 3),
    ("product_viewed", 4),
    ("cart_updated", 2),
    ("checkout_started", 1),
    ("order_placed", 1),
)


def _copy_events(tenant_id: str) -> float:
    """COPY EVENTS rows of CUSTOMERS customers over DAYS_OF_HISTORY days; returns seconds."""
    import json

    from django.db import connection

    rng = random.Random(11)
    kinds = [kind for kind, weight in EVENT_MIX for _ in range(weight)]
    span = DAYS_OF_HISTORY * 24 * 3600
    columns = (
        "tenant_id, event_type, source, payload, customer_id, idempotency_key, occurred_at, received_at, "
        "causation_depth"
    )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY automation_events ({columns}) FROM STDIN") as copy:
            for index in range(EVENTS):
                customer = f"cust{rng.randrange(CUSTOMERS):06d}"
                kind = rng.choice(kinds)
                at = NOW - dt.timedelta(seconds=rng.randrange(span))
                if kind == "order_placed":
                    payload = {"amount": round(rng.uniform(5, 300), 2), "order_id": f"o{index}"}
                elif kind == "product_viewed":
                    payload = {"product_id": f"p{rng.randrange(5000)}"}
                elif kind in ("cart_updated", "checkout_started"):
                    payload = {"cart_id": f"cart-{customer}", "amount": round(rng.uniform(5, 300), 2)}
                else:
                    payload = {}
                copy.write_row((tenant_id, kind, "bench", json.dumps(payload), customer, f"e{index}", at, at, 0))
        cursor.execute("ANALYZE automation_events")
    return time.perf_counter() - started


def bench_behaviors() -> dict[str, Any]:
    from automations.models import AutomationRule
    from executions.listeners.behavior import (
        BehaviorWindow,
        behavior_catchup,
        check_behaviors,
        get_behavior_detector,
    )

    [tenant] = _tenants(1, "beh_")
    load_seconds = _copy_events(tenant.pk)
    configs = [
        {"behavior_type": "abandoned_cart", "timeframe_hours": 24},
        {"behavior_type": "product_viewed_not_bought", "timeframe_hours": 24},
        {"behavior_type": "repeat_purchase", "timeframe_hours": 24 * 7},
        {"behavior_type": "high_value_customer", "timeframe_hours": 24 * 30, "min_total": 600},
        {"behavior_type": "dormant_customer", "timeframe_hours": 24 * 7},
    ]
    rules = AutomationRule.objects.bulk_create([_rule(tenant.pk, "behavior", config) for config in configs])
    figures: dict[str, Any] = {"behavior_events": EVENTS, "behavior_customers": CUSTOMERS}
    figures["behavior_load_s"] = round(load_seconds, 1)
    catchup = behavior_catchup()
    for rule in rules:  # detection only, per behaviour
        kind = rule.trigger_config["behavior_type"]
        window = BehaviorWindow(NOW, dt.timedelta(hours=rule.trigger_config["timeframe_hours"]), catchup)
        elapsed, found = _timed(get_behavior_detector(kind), rule, window)
        figures[f"detect_{kind}_ms"] = round(elapsed, 1)
        figures[f"detect_{kind}_matches"] = len(found)
    figures["detect_all_ms"] = round(
        sum(v for k, v in figures.items() if k.startswith("detect_") and k.endswith("_ms")), 1
    )
    # The first ticks drain the backlog of the catch-up window, at most max_fires per rule and tick.
    first_ms, first = _timed(check_behaviors, NOW)
    backlog_ticks, fired = 1, first.fired
    while backlog_ticks < 100:  # passes at the same instant until the backlog is drained
        _, tick = _timed(check_behaviors, NOW)
        if tick.fired == 0:
            break
        backlog_ticks, fired = backlog_ticks + 1, fired + tick.fired
    # The next regular tick: ten minutes later, new behaviours became true as the window moved on.
    elapsed, tick = _timed(check_behaviors, NOW + dt.timedelta(minutes=10))
    figures.update(
        {
            "behavior_first_tick_s": round(first_ms / 1000, 2),
            "behavior_first_tick_fired": first.fired,
            "behavior_backlog_ticks": backlog_ticks,
            "behavior_backlog_fired": fired,
            "behavior_steady_tick_s": round(elapsed / 1000, 2),
            "behavior_steady_tick_fired": tick.fired,
        }
    )
    return figures


def run() -> dict[str, object]:
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        return {"skipped": "needs PostgreSQL: DATABASE_URL=postgres://postgres@127.0.0.1:5432/automations_sched_bench"}
    name = connection.settings_dict["NAME"]
    if not str(name).endswith("_bench"):
        return {"skipped": f'refusing to empty database "{name}": use one whose name ends in _bench'}
    debug = settings.DEBUG
    settings.DEBUG = False  # no query log
    try:
        figures: dict[str, object] = {"trigger_rule": _prepare()}
        figures.update(bench_schedules())
        figures.update(bench_thresholds())
        figures.update(bench_behaviors())
    finally:
        settings.DEBUG = debug
    return figures


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/automations_sched_bench")
    import django

    django.setup()
    for key, value in run().items():
        print(f"{key}: {value}")
