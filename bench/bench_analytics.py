"""Analytics and activity-log speed (issue 17): the dashboard and ``GET /api/analytics?days=90`` for a tenant with
10,000,000 executions over 500 rules, and the activity log's first and a deep page, over HTTP through Django's
test client (the whole stack: middleware, session, templates, JSON), on PostgreSQL.

Setup (``BENCH_ANALYTICS_EXECUTIONS``, default 10,000,000; the tenant is kept between runs with the same
count, ``BENCH_ANALYTICS_RELOAD=1`` rebuilds it):
- tenant ``bench_analytics`` (Europe/Berlin), an owner, 500 rules over the 8 action types and 5 categories;
- executions inserted set-based (``generate_series``) over the last 90 days: 80 % succeeded (a tenth of
  those recorded only), 8 % failed over four failure kinds, 10 % skipped, 2 % shadowed; rules unevenly busy;
- their daily roll-ups as the pipeline keeps them (one ``INSERT ... SELECT ... GROUP BY`` over the raw rows,
  the same key as ``executions.rollups``), 1 approval request per 500 executions (100 still waiting), and
  5 webhook endpoints with 90 days of delivery roll-ups.

Each URL is requested twice to warm up, then ``BENCH_ANALYTICS_ROUNDS`` (15) times; figures are the median,
p95 and worst in milliseconds. Targets: dashboard and analytics API <= 150 ms; the activity log's first page
and a deep cursor page (half-way down the tenant's history) <= 50 ms. ``GET /api/executions`` pages by
limit/offset with a total count: its first page and an offset half-way down are measured too (fewer rounds), and
by cursor (no count): its first page and the page after the same deep cursor.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

EXECUTIONS = int(os.environ.get("BENCH_ANALYTICS_EXECUTIONS", "10000000"))
ROUNDS = int(os.environ.get("BENCH_ANALYTICS_ROUNDS", "15"))
RELOAD = os.environ.get("BENCH_ANALYTICS_RELOAD", "") in ("1", "true", "yes")
TENANT = "bench_analytics"
ZONE = "Europe/Berlin"
RULES = 500
ENDPOINTS = 5
DAYS = 90
TARGET_DASHBOARD_MS = 150.0
TARGET_ACTIVITY_MS = 50.0

# n -> rule: (n * n) mod a prime folds the numbers unevenly, so some rules are far busier than others.
INSERT_EXECUTIONS = """
INSERT INTO automation_executions
    (automation_rule_id, tenant_id, status, triggered_at, trigger_source, trigger_data, conditions_met,
     condition_results, success, recorded_only, error_message, execution_time_ms, required_approval,
     approved_by_user_id, action_attempts, created_at, updated_at, failure_kind)
SELECT
    rules.ids[1 + ((n * n) %% 7919) %% %(rules)s],
    %(tenant)s,
    s.status,
    now() - ((n * 7.776) %% (%(days)s * 86400) || ' seconds')::interval,
    'event', '{}'::jsonb, s.status <> 'skipped', '[]'::jsonb,
    s.status = 'succeeded',
    s.status = 'succeeded' AND n %% 10 = 3,
    CASE WHEN s.status = 'failed' THEN 'HTTP 503 from receiver' ELSE '' END,
    20 + (n %% 400), false, '', CASE WHEN s.status IN ('succeeded', 'failed') THEN 1 ELSE 0 END,
    now(), now(),
    CASE WHEN s.status = 'failed'
         THEN (ARRAY['receiver_refused', 'receiver_down', 'timed_out', 'internal_error'])[1 + (n / 100) %% 4]
         ELSE '' END
FROM generate_series(1::bigint, %(count)s::bigint) AS n
CROSS JOIN LATERAL (SELECT CASE
    WHEN n %% 100 < 80 THEN 'succeeded' WHEN n %% 100 < 88 THEN 'failed'
    WHEN n %% 100 < 98 THEN 'skipped' ELSE 'shadowed' END AS status) s
CROSS JOIN (
    SELECT array_agg(id ORDER BY created_at, id) AS ids FROM automation_rules WHERE tenant_id = %(tenant)s
) rules
"""

INSERT_ROLLUPS = """
INSERT INTO automation_execution_daily_rollups
    (automation_rule_id, day, status, failure_kind, action_type, trigger_source, tenant_id, count,
     execution_time_ms_sum, recorded_only_count)
SELECT e.automation_rule_id, (e.triggered_at AT TIME ZONE %(zone)s)::date, e.status, e.failure_kind, r.action_type,
       e.trigger_source, e.tenant_id, count(*), sum(coalesce(e.execution_time_ms, 0)),
       count(*) FILTER (WHERE e.recorded_only)
FROM automation_executions e JOIN automation_rules r ON r.id = e.automation_rule_id
WHERE e.tenant_id = %(tenant)s
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""

INSERT_APPROVALS = """
INSERT INTO automation_approval_requests
    (execution_id, tenant_id, automation_rule_id, status, policy_snapshot, reason, requested_at, decided_at,
     decision_note)
SELECT id, tenant_id, automation_rule_id,
       CASE WHEN row_number() OVER (ORDER BY id) <= 100 THEN 'pending' ELSE 'approved' END,
       '{}'::jsonb, '', triggered_at,
       CASE WHEN row_number() OVER (ORDER BY id) <= 100 THEN NULL
            ELSE triggered_at + ((id %% 240) || ' minutes')::interval END,
       ''
FROM automation_executions WHERE tenant_id = %(tenant)s AND id %% 500 = 0
"""

TABLES_OF_TENANT = (
    "automation_approval_requests",
    "automation_rule_daily_outcomes",
    "automation_execution_daily_rollups",
    "webhook_delivery_daily_rollups",
    "automation_executions",
)


def _environment_problem() -> str | None:
    from django.db import connection

    if connection.vendor != "postgresql" or not str(connection.settings_dict["NAME"]).endswith("_bench"):
        return "needs DATABASE_URL=postgres://.../<name>_bench"
    return None


def _loaded() -> bool:
    from governance.models import Tenant

    return Tenant.objects.filter(pk=TENANT, name=f"Bench analytics shop ({EXECUTIONS})").exists()


def _load() -> dict[str, float]:
    """Recreate the tenant and its history; returns the seconds each step took."""
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from automations.choices import Category
    from automations.kinds.actions import action_kind_keys
    from automations.models import AutomationRule
    from executions.delivery.models import DeliveryDailyRollup, WebhookEndpoint
    from executions.rollups import outcomes_fill_sql
    from governance.models import Tenant
    from tests.factories import LOW_PRODUCT_ALERT, make_rule, make_tenant, make_user

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for table in TABLES_OF_TENANT:
            cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [TENANT])  # the table names are constants
    AutomationRule.all_objects.filter(tenant_id=TENANT).delete()
    WebhookEndpoint.objects.filter(tenant_id=TENANT).delete()
    Tenant.objects.filter(pk=TENANT).delete()
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username="bench_analytics_owner").delete()
    tenant = make_tenant(TENANT, name=f"Bench analytics shop (loading {EXECUTIONS})", timezone=ZONE)
    owner = make_user("bench_analytics_owner", tenant, "owner")
    types, categories = action_kind_keys(), Category.values
    for index in range(RULES):
        action_type = types[index % len(types)]
        make_rule(
            tenant,
            owner,
            name=f"Bench rule {index:03d}",
            category=categories[index % len(categories)],
            action_type=action_type,
            action_config=_action_config(action_type, LOW_PRODUCT_ALERT["action_config"]),
        )
    seconds["rules"] = time.perf_counter() - started
    params = {"tenant": TENANT, "count": EXECUTIONS, "rules": RULES, "days": DAYS, "zone": ZONE}
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(INSERT_EXECUTIONS, params)
        seconds["executions"] = time.perf_counter() - started
        started = time.perf_counter()
        cursor.execute(INSERT_ROLLUPS, params)
        # The rules' daily outcomes from those roll-ups, as the pipeline keeps them (the projection's SQL).
        cursor.execute(outcomes_fill_sql("tenant_id = %s"), [TENANT])
        cursor.execute(INSERT_APPROVALS, params)
        seconds["rollups_and_approvals"] = time.perf_counter() - started
    today = timezone.now().astimezone(tenant.zone).date()
    for index in range(ENDPOINTS):
        endpoint = WebhookEndpoint.objects.create(tenant=tenant, url=f"https://hooks.example.com/bench/{index}")
        DeliveryDailyRollup.objects.bulk_create(
            DeliveryDailyRollup(
                tenant=tenant,
                endpoint=endpoint,
                day=today - dt.timedelta(days=day),
                deliveries_succeeded=2000 - index * 300,
                deliveries_failed=index * 40,
                attempts=2100,
                attempts_under_100ms=1500,
                attempts_under_250ms=500,
                attempts_under_1s=100,
            )
            for day in range(DAYS)
        )
    with connection.cursor() as cursor:
        started = time.perf_counter()
        for table in TABLES_OF_TENANT:
            cursor.execute(f"VACUUM ANALYZE {table}")
        seconds["vacuum_analyze"] = time.perf_counter() - started
    Tenant.objects.filter(pk=TENANT).update(name=f"Bench analytics shop ({EXECUTIONS})")
    return seconds


def _action_config(action_type: str, notification: dict[str, Any]) -> dict[str, Any]:
    configs: dict[str, dict[str, Any]] = {
        "send_notification": notification,
        "start_workflow": {"workflow_type_id": "bench"},
        "update_product": {"updates": {"price": 1}},
        "generate_campaign": {"template_id": "bench", "channels": ["email"]},
        "create_landing_page": {"template_id": "bench", "title": "Bench"},
        "add_product": {"template_id": "bench", "count": 1, "category": "bench"},
        "update_store": {"settings": {"banner": "Bench"}},
        "generate_draft": {"workflow_type_id": "bench"},
    }
    return configs.get(action_type, {})


def _deep_cursor(fraction: float) -> tuple[str, int]:
    """The activity log's cursor after ``fraction`` of the tenant's executions, and that offset."""
    from django.db import connection

    offset = int(EXECUTIONS * fraction)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT triggered_at, id FROM automation_executions WHERE tenant_id = %s "
            "ORDER BY triggered_at DESC, id DESC OFFSET %s LIMIT 1",
            [TENANT, offset],
        )
        moment, number = cursor.fetchone()
    return f"{moment.isoformat()}~{number}", offset


def _time(client: Any, url: str, rounds: int, warm: int = 2, **headers: str) -> dict[str, float]:
    for _ in range(warm):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
    samples.sort()
    return {
        "median": round(statistics.median(samples), 1),
        "p95": round(samples[min(len(samples) - 1, int(0.95 * len(samples)))], 1),
        "worst": round(samples[-1], 1),
    }


def run() -> dict[str, Any]:
    problem = _environment_problem()
    if problem is not None:
        return {"skipped": problem}
    from urllib.parse import quote

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from executions.models import ExecutionDailyRollup

    call_command("migrate", verbosity=0)
    figures: dict[str, Any] = {"executions": EXECUTIONS, "rules": RULES, "days": DAYS, "rounds": ROUNDS}
    if RELOAD or not _loaded():
        for step, spent in _load().items():
            figures[f"load_{step}_s"] = round(spent, 1)
    else:
        figures["load"] = "kept from an earlier run"
    figures["rollup_rows"] = ExecutionDailyRollup.objects.filter(tenant_id=TENANT).count()
    client = Client(HTTP_HOST="localhost")  # an allowed host under the local settings
    client.force_login(get_user_model().objects.get(username="bench_analytics_owner"))
    cursor, offset = _deep_cursor(0.5)
    timed = {
        # A page that reads almost nothing: what the machine and the stack cost alone (for comparing runs).
        "baseline_notifications_page": _time(client, "/portal/notifications", ROUNDS),
        "dashboard_90d": _time(client, "/portal/dashboard?days=90", ROUNDS),
        "dashboard_htmx_refresh_90d": _time(client, "/portal/dashboard?days=90", ROUNDS, HX_Request="true"),
        "api_analytics_90d": _time(client, "/api/analytics?days=90", ROUNDS),
        "api_analytics_90d_category": _time(client, "/api/analytics?days=90&category=product", ROUNDS),
        "activity_first_page": _time(client, "/portal/activity", ROUNDS),
        "activity_deep_page": _time(client, f"/portal/activity?cursor={quote(cursor)}", ROUNDS),
        "api_executions_cursor_first_page": _time(client, f"/api/executions?tenant_id={TENANT}&cursor=", ROUNDS),
        "api_executions_cursor_deep_page": _time(
            client, f"/api/executions?tenant_id={TENANT}&cursor={quote(cursor)}", ROUNDS
        ),
        "api_executions_first_page": _time(client, f"/api/executions?tenant_id={TENANT}", 3, warm=1),
        "api_executions_offset_half": _time(client, f"/api/executions?tenant_id={TENANT}&offset={offset}", 3, warm=1),
    }
    for name, samples in timed.items():
        for key, value in samples.items():
            figures[f"{name}_ms_{key}"] = value
    figures["activity_deep_page_offset"] = offset
    figures["target_dashboard_ms"] = TARGET_DASHBOARD_MS
    figures["target_activity_ms"] = TARGET_ACTIVITY_MS
    figures["dashboard_within_target"] = (
        max(timed[name]["median"] for name in ("dashboard_90d", "api_analytics_90d")) <= TARGET_DASHBOARD_MS
    )
    figures["activity_within_target"] = (
        max(timed[name]["median"] for name in ("activity_first_page", "activity_deep_page")) <= TARGET_ACTIVITY_MS
    )
    return figures
