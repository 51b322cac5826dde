"""The analytics reads (executions/services/analytics.py) against a hand-built history, through the service,
GET /api/analytics and /portal/dashboard: the same numbers on both surfaces, bad input a 400 naming the
field, and no tenant seeing another's figures."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from executions.delivery.models import DeliveryDailyRollup
from executions.delivery.services.endpoints import endpoint_create
from executions.models import ApprovalRequest
from executions.pipeline import execute_rule_manually
from executions.services.analytics import AnalyticsQuery, analytics_query, tenant_analytics
from governance.services import membership_set, tenant_update
from tests.api import staff_client, token_client
from tests.factories import make_execution, make_rule, make_user

pytestmark = pytest.mark.django_db

ZONE = zoneinfo.ZoneInfo("America/New_York")


def local_noon(days_ago: int) -> dt.datetime:
    """Noon, ``days_ago`` local days before today in the tenant's zone (always in the past for days_ago >= 1)."""
    today = timezone.now().astimezone(ZONE).date()
    return dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(12), tzinfo=ZONE)


@pytest.fixture
def history(tenant, owner, other_tenant, other_owner):
    """Two rules of tenant_test (New York) over the last days, approvals, an endpoint's deliveries, and a
    noisy other tenant; the expected figures are worked out in the tests."""
    tenant = tenant_update(
        tenant, {"timezone": "America/New_York", "minutes_saved_per_action": {"add_product": 12}}, owner
    )
    restock = make_rule(
        tenant,
        owner,
        name="Restock",
        category="product",
        action_type="add_product",
        action_config={"template_id": "t", "count": 1, "category": "seasonal"},
    )
    welcome = make_rule(tenant, owner, name="Welcome", category="customer")  # send_notification
    yesterday, three_days, ten_days = local_noon(1), local_noon(3), local_noon(10)
    for _ in range(2):
        make_execution(restock, "succeeded", triggered_at=yesterday)
    make_execution(restock, "succeeded", triggered_at=yesterday, recorded_only=True)
    for _ in range(2):
        make_execution(restock, "failed", triggered_at=yesterday, failure_kind="receiver_refused")
    make_execution(restock, "skipped", triggered_at=yesterday)
    make_execution(restock, "failed", triggered_at=three_days, failure_kind="timed_out")
    for _ in range(4):
        make_execution(welcome, "succeeded", triggered_at=yesterday)
    make_execution(welcome, "failed", triggered_at=ten_days, failure_kind="receiver_down")
    # approvals: one waiting (restock), two decided after 10 and 30 minutes, one decided long ago
    waiting = make_execution(restock, "awaiting_approval", triggered_at=yesterday)
    ApprovalRequest.objects.create(execution=waiting, tenant=tenant, requested_at=yesterday)
    for minutes, when in ((10, yesterday), (30, three_days), (5, local_noon(40))):
        decided = make_execution(welcome, "succeeded", triggered_at=when - dt.timedelta(days=60))
        ApprovalRequest.objects.create(
            execution=decided,
            tenant=tenant,
            status="approved",
            requested_at=when,
            decided_at=when + dt.timedelta(minutes=minutes),
        )
    endpoint = endpoint_create(tenant, "https://hooks.example.com/shop").endpoint
    quiet = endpoint_create(tenant, "https://hooks.example.com/quiet").endpoint
    DeliveryDailyRollup.objects.create(
        tenant=tenant,
        endpoint=endpoint,
        day=yesterday.date(),
        deliveries_succeeded=9,
        deliveries_failed=1,
        attempts=20,
        attempts_under_50ms=10,
        attempts_under_100ms=9,
        attempts_under_1s=1,
    )
    # the other tenant: failures of its own that must never show in tenant_test's figures
    theirs = make_rule(other_tenant, other_owner, name="Their secret rule")
    for _ in range(5):
        make_execution(theirs, "failed", triggered_at=yesterday, failure_kind="internal_error")
    return {"tenant": tenant, "restock": restock, "welcome": welcome, "endpoint": endpoint, "quiet": quiet}


def test_the_last_7_days_add_up(history):
    restock, welcome = history["restock"], history["welcome"]
    figures = tenant_analytics(history["tenant"], AnalyticsQuery(days=7))

    assert (figures.days, figures.time_zone, figures.last_day) == (7, "America/New_York", local_noon(0).date())
    totals = figures.totals
    # ran: restock 3 succeeded (1 recorded only) + 3 failed, welcome 4 succeeded (the 10-day-old failure is out)
    assert (totals.executions, totals.succeeded, totals.recorded_only, totals.failed) == (10, 6, 1, 3)
    assert totals.success_rate == round(6 / 9, 4) and totals.avg_execution_time_ms == 100.0
    assert totals.by_outcome["skipped"] == 1 and totals.by_outcome["shadowed"] == 0
    assert len(figures.executions_by_day) == 7
    yesterday = figures.executions_by_day[-2]
    assert yesterday.date == local_noon(1).date()
    assert {k: v for k, v in yesterday.counts.items() if v} == {
        "succeeded": 6,
        "recorded_only": 1,
        "failed": 2,
        "skipped": 1,
    }
    assert yesterday.success_rate == 0.75 and figures.executions_by_day[-1].success_rate is None

    [failing] = figures.top_failing_rules
    assert (failing.rule_id, failing.name, failing.failed, failing.executions) == (restock.pk, "Restock", 3, 6)
    assert (failing.main_failure_kind, failing.main_failure_kind_count) == ("receiver_refused", 2)
    assert failing.main_failure_kind_label == "Receiver refused" and failing.success_rate == 0.4  # 2 of 5

    assert (figures.approvals.waiting, figures.approvals.decided) == (1, 2)
    assert figures.approvals.median_minutes_to_decision == 20.0

    by_type = {figure.action_type: figure for figure in figures.actions_by_type}
    assert (by_type["add_product"].executions, by_type["add_product"].succeeded) == (6, 2)
    assert (by_type["add_product"].failed, by_type["add_product"].recorded_only) == (3, 1)
    assert (by_type["send_notification"].executions, by_type["send_notification"].succeeded) == (4, 4)

    # time saved: runs something received x minutes (the tenant's 12 for add_product, the default 2 else)
    saved = {line.action_type: line for line in figures.time_saved.by_action_type}
    assert (saved["add_product"].minutes, saved["add_product"].tenant_setting) == (24.0, True)
    assert (saved["send_notification"].minutes, saved["send_notification"].tenant_setting) == (8.0, False)
    assert (figures.time_saved.minutes, figures.time_saved.hours) == (32.0, 0.5)

    busiest, second = figures.most_active_rules
    assert (busiest.rule_id, busiest.runs, second.rule_id, second.runs) == (restock.pk, 7, welcome.pk, 4)
    assert busiest.by_day == [0, 0, 0, 1, 0, 6, 0]

    shop, quiet = figures.deliveries_by_endpoint
    assert (shop.endpoint_id, shop.deliveries, shop.failed, shop.success_rate, shop.failing) == (
        history["endpoint"].pk,
        10,
        1,
        0.9,
        True,
    )
    assert shop.p95_latency_ms == 100.0  # rank 19 of 20: the last of the nine in 50-100 ms
    assert (quiet.deliveries, quiet.success_rate, quiet.p95_latency_ms, quiet.failing) == (0, None, None, False)


def test_a_longer_period_and_a_category_narrow_or_widen_the_same_figures(history):
    month = tenant_analytics(history["tenant"], AnalyticsQuery(days=30))
    assert (month.totals.executions, month.totals.failed, len(month.executions_by_day)) == (11, 4, 30)
    assert {rule.rule_id for rule in month.top_failing_rules} == {history["restock"].pk, history["welcome"].pk}
    assert month.approvals.decided == 2  # the one from 40 days ago is older than the period

    customers = tenant_analytics(history["tenant"], AnalyticsQuery(days=30, category="customer"))
    assert (customers.totals.executions, customers.totals.failed, customers.category) == (5, 1, "customer")
    assert [rule.rule_id for rule in customers.most_active_rules] == [history["welcome"].pk]
    assert customers.approvals.waiting == 0  # the waiting one is restock's
    assert customers.approvals.decided == 2  # welcome's, read from the requests' own rule
    products = tenant_analytics(history["tenant"], AnalyticsQuery(days=30, category="product"))
    assert (products.approvals.waiting, products.approvals.decided) == (1, 0)


def test_an_approval_request_carries_its_executions_rule(tenant, owner, council_member, active_store):
    risky = make_rule(tenant, owner, name="Risky", risk_level="high")
    execution = execute_rule_manually(risky, {"product_count": 2, "store_status": "active"}, owner)
    assert execution.status == "awaiting_approval"
    assert ApprovalRequest.objects.get(execution=execution).automation_rule_id == risky.pk


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"days": "8"}, ["days"]),
        ({"days": "thirty"}, ["days"]),
        ({"days": "-7"}, ["days"]),
        ({"category": "groceries"}, ["category"]),
        ({"days": "1", "category": "x"}, ["category", "days"]),
    ],
)
def test_bad_query_values_name_their_field(params, errors):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        analytics_query(params)
    assert sorted(refused.value.message_dict) == errors


def test_the_api_answers_the_services_figures(history, tenant):
    viewer = make_user("vera", history["tenant"], "viewer")
    response = token_client(viewer).get("/api/analytics?days=7")
    assert response.status_code == 200
    body = response.json()
    assert body == tenant_analytics(history["tenant"], AnalyticsQuery(days=7)).as_dict()
    assert body["totals"]["executions"] == 10 and body["executions_by_day"][-2]["counts"]["failed"] == 2
    assert body["top_failing_rules"][0]["main_failure_kind"] == "receiver_refused"
    assert body["first_day"] == (local_noon(0).date() - dt.timedelta(days=6)).isoformat()


def test_the_api_refuses_bad_values_with_field_messages(history, owner):
    client = token_client(owner)
    for query, fields in (("days=365", {"days"}), ("category=nope", {"category"}), ("days=0&category=", {"days"})):
        response = client.get(f"/api/analytics?{query}")
        assert response.status_code == 400, query
        assert set(response.json()) == fields


def test_the_api_never_shows_another_tenants_figures(history, other_owner, owner, other_tenant):
    # charlie reads his own tenant: his rule's failures, none of tenant_test's
    mine = token_client(other_owner).get("/api/analytics").json()
    assert mine["tenant_id"] == "tenant_other" and mine["totals"]["failed"] == 5
    assert [rule["name"] for rule in mine["top_failing_rules"]] == ["Their secret rule"]
    assert mine["deliveries_by_endpoint"] == [] and mine["approvals"]["waiting"] == 0
    # ... and asking for tenant_test is a 403, as for a tenant that does not exist
    for tenant_id in ("tenant_test", "tenant_nowhere"):
        assert token_client(other_owner).get(f"/api/analytics?tenant_id={tenant_id}").status_code == 403
    # a member of both must say which
    membership_set(other_tenant, owner, "viewer")
    both = token_client(owner)
    assert both.get("/api/analytics").json() == {"tenant_id": [both_message()]}
    assert both.get("/api/analytics?tenant_id=tenant_other").json()["totals"]["failed"] == 5
    assert token_client(None).get("/api/analytics").status_code == 401


def both_message() -> str:
    return "This field is required (you belong to more than one tenant)."


def test_the_dashboard_page_shows_the_same_figures_to_every_role(history):
    for role in ("owner", "collaborator", "council", "viewer"):
        member = make_user(f"member_{role}", history["tenant"], role)
        html = staff_client(member).get("/portal/dashboard?days=7").content.decode()
        assert 'data-stat="executions">10<' in html, role
        assert 'data-stat="success-rate">66.7%<' in html
        assert 'class="card stat-card crimson"' in html  # below 80 %: poor, never green
        assert 'data-stat="time-saved">0.5 h<' in html and 'data-stat="approvals-waiting">1<' in html
        assert "median 20 min to a decision" in html
        assert 'data-failure-kind="receiver_refused">Receiver refused' in html
        assert f'data-endpoint-id="{history["endpoint"].pk}"' in html and "data-failing" in html
        assert "Their secret rule" not in html
    assert html.count('<g class="day"') == 7 and 'class="rate-line"' in html and 'class="sparkline"' in html


def test_the_dashboard_refreshes_by_htmx_and_refuses_bad_values(history, owner):
    client = staff_client(owner)
    fragment = client.get("/portal/dashboard?days=30&category=customer", HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in html
    assert 'id="dashboard"' in html and 'hx-trigger="every 60s"' in html and 'data-category="customer"' in html
    refused = client.get("/portal/dashboard?days=12")
    assert refused.status_code == 400 and "<strong>days</strong>" in refused.content.decode()


def test_the_dashboard_is_the_landing_page_and_never_shows_another_tenant(history, other_owner, client):
    html = staff_client(other_owner).get("/portal/dashboard").content.decode()
    assert "Their secret rule" in html and "Restock" not in html and "hooks.example.com/shop" not in html
    assert client.get("/")["Location"] == "/portal/dashboard"
    assert client.get("/portal/dashboard")["Location"].startswith("/accounts/login/")
