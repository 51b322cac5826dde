"""Backtest speed (issue 16 item 1): a 3-condition event rule replayed over 1,000,000 stored events of one
tenant on PostgreSQL, through ``executions.backtest.backtest_rule`` as the API calls it.

Setup: tenant ``bench_backtest`` (recreated) with BENCH_BACKTEST_EVENTS (1,000,000) ``order_placed`` events
spread over the last 30 days, inserted set-based (``generate_series``) with varied payloads: an amount
(0-500, some as text), a currency (EUR, USD, GBP, some missing) and a channel. The rule: amount >= 100,
currency = EUR, channel in [web, app]; about a fifth pass. Each round is a fresh call (no cached result);
figures: the median and best of BENCH_BACKTEST_ROUNDS (3) rounds, triggers per second, and what the
replay found (the same every round), and whether it read the history in groups (``event_groups``: one
row per distinct amount, currency and channel per day, grouped in SQL) as it should for this rule.

Target: <= 2 s for 1,000,000 events.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

EVENTS = int(os.environ.get("BENCH_BACKTEST_EVENTS", "1000000"))
ROUNDS = int(os.environ.get("BENCH_BACKTEST_ROUNDS", "3"))
TENANT = "bench_backtest"
RULE = {
    "name": "Big EUR order",
    "trigger_type": "event",
    "trigger_config": {"event_type": "order_placed"},
    "conditions": [
        {"type": "amount", "operator": ">=", "value": 100},
        {"type": "currency", "operator": "=", "value": "EUR"},
        {"type": "channel", "operator": "in", "value": ["web", "app"]},
    ],
    "action_type": "start_workflow",
    "action_config": {"workflow_type_id": "vip"},
    "risk_level": "low",
}

INSERT_EVENTS = """
INSERT INTO automation_events
    (tenant_id, event_type, source, payload, customer_id, idempotency_key, occurred_at, received_at,
     dispatched_at, causation_depth)
SELECT
    %(tenant)s, 'order_placed', 'store',
    jsonb_strip_nulls(jsonb_build_object(
        'amount', CASE WHEN n %% 20 = 0 THEN to_jsonb(((n * 7919) %% 500)::text)
                       ELSE to_jsonb((n * 7919) %% 500) END,
        'currency', (ARRAY['EUR', 'USD', 'GBP', NULL])[1 + (n * 31) %% 4],
        'channel', (ARRAY['web', 'app', 'pos'])[1 + (n * 17) %% 3],
        'order_id', n
    )),
    'c' || (n %% 50000), 'bench-' || n,
    now() - ((n %% 2592000) || ' seconds')::interval,
    now() - ((n %% 2592000) || ' seconds')::interval,
    now(), 0
FROM generate_series(1::bigint, %(count)s::bigint) AS n
"""


def _environment_problem() -> str | None:
    from django.db import connection

    if connection.vendor != "postgresql" or not str(connection.settings_dict["NAME"]).endswith("_bench"):
        return "needs DATABASE_URL=postgres://.../<name>_bench"
    return None


def _setup() -> Any:
    from django.core.management import call_command
    from django.db import connection

    from automations.services import rule_draft
    from governance.models import Tenant

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM automation_events WHERE tenant_id = %s", [TENANT])
    Tenant.objects.filter(id=TENANT).delete()
    tenant = Tenant.objects.create(id=TENANT, name="Bench backtest shop", timezone="UTC")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(INSERT_EVENTS, {"tenant": TENANT, "count": EVENTS})
        cursor.execute("ANALYZE automation_events")
    print(f"  inserted {EVENTS:,} events in {time.perf_counter() - started:.1f} s")
    return rule_draft(tenant, RULE)


def run() -> dict[str, Any]:
    problem = _environment_problem()
    if problem is not None:
        return {"skipped": problem}
    from executions.backtest import backtest_rule

    rule = _setup()
    seconds = []
    result = None
    for _ in range(ROUNDS):
        started = time.perf_counter()
        result = backtest_rule(rule, 30)
        seconds.append(time.perf_counter() - started)
    assert result is not None
    median = statistics.median(seconds)
    return {
        "events": EVENTS,
        "rounds": ROUNDS,
        "seconds_median": round(median, 2),
        "seconds_best": round(min(seconds), 2),
        "triggers_per_second": round(result.triggers_seen / median),
        "triggers_seen": result.triggers_seen,
        "would_fire": result.would_fire,
        "grouped": result.grouped,
        "target_seconds": 2.0,
    }
