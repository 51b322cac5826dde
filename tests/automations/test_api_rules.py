"""The rules API: each endpoint's happy path and bad inputs, errors as JSON."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from automations.models import AutomationRule
from tests.api import patch_json, post_json, token_client
from tests.factories import LOW_PRODUCT_ALERT, make_execution, make_rule, make_tenant, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(owner):
    return token_client(owner)


def body(**overrides):
    return {"tenant_id": "tenant_test", **LOW_PRODUCT_ALERT, **overrides}


# --- authentication ---------------------------------------------------------------------------


def test_no_credentials_is_401_json(tenant):
    response = token_client(None).get("/api/automations")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == "Token"


def test_bad_token_is_401(tenant):
    client = token_client(None)
    client.credentials(HTTP_AUTHORIZATION="Token nope")
    assert client.get("/api/automations").status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Token a b")
    assert client.get("/api/automations").status_code == 401


@pytest.mark.parametrize("keyword", ["Token", "Bearer", "bearer"])
def test_token_and_bearer_keywords(owner, rule, keyword):
    response = token_client(owner, keyword=keyword).get("/api/automations")
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_session_login_works(owner, rule):
    from rest_framework.test import APIClient

    client = APIClient()
    assert client.login(username="alice", password="pw-alice")
    assert client.get("/api/automations/").json()["count"] == 1


def test_inactive_user_token_is_refused(owner):
    client = token_client(owner)
    owner.is_active = False
    owner.save()
    assert client.get("/api/automations").status_code == 401


# --- list ---------------------------------------------------------------------------------------


def test_list_counts_and_filters(client, tenant, owner):
    make_rule(tenant, owner, name="a")
    make_rule(tenant, owner, name="b", enabled=False, category="marketing")
    make_rule(
        tenant,
        owner,
        name="c",
        risk_level="high",
        trigger_type="event",
        trigger_config={"event_type": "product_added"},
    )
    data = client.get("/api/automations").json()
    assert (data["count"], data["enabled_count"], data["disabled_count"]) == (3, 2, 1)
    assert len(data["automations"]) == 3
    assert client.get("/api/automations?enabled=false").json()["count"] == 1
    assert client.get("/api/automations?enabled=true").json()["count"] == 2
    assert client.get("/api/automations?category=marketing").json()["automations"][0]["name"] == "b"
    assert client.get("/api/automations?trigger_type=event").json()["count"] == 1
    assert client.get("/api/automations?risk_level=high").json()["count"] == 1
    assert client.get("/api/automations?tenant_id=tenant_test").json()["count"] == 3


def test_list_limit_offset_keep_totals(client, tenant, owner):
    for index in range(5):
        make_rule(tenant, owner, name=f"r{index}")
    data = client.get("/api/automations?limit=2&offset=1").json()
    assert len(data["automations"]) == 2
    assert data["count"] == 5 and data["limit"] == 2 and data["offset"] == 1


@pytest.mark.parametrize(
    "query, field",
    [
        ("category=nope", "category"),
        ("trigger_type=nope", "trigger_type"),
        ("risk_level=extreme", "risk_level"),
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("offset=-1", "offset"),
    ],
)
def test_list_bad_query_is_400_naming_field(client, query, field):
    response = client.get(f"/api/automations?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_list_hides_archived_rules(client, rule):
    client.delete(f"/api/automations/{rule.pk}")
    assert client.get("/api/automations").json()["count"] == 0


# --- create -------------------------------------------------------------------------------------


def test_create_returns_201_envelope(client):
    response = post_json(client, "/api/automations", body())
    assert response.status_code == 201
    data = response.json()
    assert data["message"] == "Automation rule created successfully"
    rule = AutomationRule.objects.get(pk=data["automation"]["id"])
    assert data["automation"]["tenant_id"] == "tenant_test"
    assert data["automation"]["trigger_config"] == LOW_PRODUCT_ALERT["trigger_config"]
    assert rule.created_by.username == "alice"
    assert rule.versions.count() == 1


def test_create_without_tenant_uses_the_only_tenant(client):
    payload = body()
    del payload["tenant_id"]
    assert post_json(client, "/api/automations/", payload).status_code == 201


def test_create_without_tenant_when_in_two_tenants_is_400(owner):
    from governance.services import membership_set

    membership_set(make_tenant("tenant_second"), owner, "owner")
    payload = body()
    del payload["tenant_id"]
    response = post_json(token_client(owner), "/api/automations", payload)
    assert response.status_code == 400
    assert "tenant_id" in response.json()


def test_create_errors_are_nested_field_paths(client):
    payload = body(
        trigger_type="schedule",
        trigger_config={"pattern": "daily", "time": "25:00"},
        conditions=[
            {"type": "a", "operator": "=", "value": 1},
            {"type": "b", "operator": "=", "value": 2},
            {"type": "c", "operator": "bogus", "value": 3},
        ],
    )
    response = post_json(client, "/api/automations", payload)
    assert response.status_code == 400
    errors = response.json()
    assert list(errors["trigger_config"]) == ["time"]
    assert "25:00" in errors["trigger_config"]["time"][0]
    assert "conditions[2].operator" in errors
    assert AutomationRule.objects.count() == 0


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"name": ""}, "name"),
        ({"name": 5}, "name"),
        ({"trigger_type": "telepathy"}, "trigger_type"),
        ({"action_type": "launch_rocket"}, "action_type"),
        ({"risk_level": "extreme"}, "risk_level"),
        ({"category": "weather"}, "category"),
        ({"enabled": "yes"}, "enabled"),
        ({"trigger_config": "not an object"}, "trigger_config"),
        ({"conditions": {"type": "x"}}, "conditions"),
        ({"action_config": []}, "action_config"),
        ({"auto_approval_rules": {"max_budget": -1}}, "auto_approval_rules"),
        ({"execution_count": 7, "wat": 1}, "wat"),
        ({"assigned_council_id": "council_nope"}, "assigned_council_id"),
        ({"assigned_council_id": 12}, "assigned_council_id"),
    ],
)
def test_create_bad_field_is_400_naming_it(client, overrides, field):
    response = post_json(client, "/api/automations", body(**overrides))
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert AutomationRule.objects.count() == 0


def test_create_missing_required_fields(client):
    response = post_json(client, "/api/automations", {"tenant_id": "tenant_test"})
    assert response.status_code == 400
    assert {"name", "trigger_type", "action_type", "trigger_config", "action_config"} <= set(response.json())


def test_create_with_council_of_another_tenant_says_the_same_as_no_council(client, other_tenant):
    from governance.selectors import default_council

    foreign = default_council("tenant_other")
    response = post_json(client, "/api/automations", body(assigned_council_id=foreign.pk))
    missing = post_json(client, "/api/automations", body(assigned_council_id="council_missing"))
    assert response.status_code == missing.status_code == 400
    assert response.json() == missing.json()


def test_create_with_own_council(client, tenant):
    from governance.selectors import default_council

    council = default_council("tenant_test")
    response = post_json(client, "/api/automations", body(assigned_council_id=council.pk, risk_level="high"))
    assert response.status_code == 201
    assert response.json()["automation"]["assigned_council_id"] == council.pk


@pytest.mark.parametrize(
    "raw",
    [
        "[1, 2]",
        '"text"',
        "{bad json",
        '{"name": "a\\u0000b"}',
        '{"name": "\\ud800"}',
        '{"name": 1e400}',
        '{"name": NaN}',
        '{"name": "x", "trigger_config": {"value": ' + "9" * 400 + "}}",
        "[" * 5000 + "]" * 5000,
    ],
)
def test_create_unstorable_json_is_400(client, raw):
    response = client.post("/api/automations", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert isinstance(response.json(), dict)


def test_wrong_content_type_is_415(client):
    response = client.post("/api/automations", data="name=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert "detail" in response.json()


def test_oversized_body_is_413(client, settings):
    settings.API_MAX_REQUEST_BYTES = 1000
    response = post_json(client, "/api/automations", body(description="x" * 2000))
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]


def test_nul_in_query_is_400(client):
    response = client.get("/api/automations?tenant_id=a%00b")
    assert response.status_code == 400


# --- get ----------------------------------------------------------------------------------------


def test_get_returns_rule_stats_and_recent_executions(client, rule):
    now = timezone.now()
    for index in range(12):
        make_execution(rule, "succeeded", triggered_at=now - dt.timedelta(minutes=index), execution_time_ms=100.0)
    make_execution(rule, "failed", triggered_at=now - dt.timedelta(days=2), execution_time_ms=400.0)
    make_execution(rule, "skipped", triggered_at=now)
    data = client.get(f"/api/automations/{rule.pk}").json()
    assert data["automation"]["id"] == rule.pk
    assert data["stats"] == {
        "total_executions": 13,
        "success_rate": round(12 / 13, 4),
        "recorded_only_count": 0,
        "avg_execution_time_ms": round((12 * 100 + 400) / 13, 2),
        "last_24h_executions": 12,
    }
    assert len(data["recent_executions"]) == 10
    first = data["recent_executions"][0]
    assert {"id", "automation_rule_id", "status", "triggered_at", "trigger_data", "success"} <= set(first)


def test_get_without_executions_has_null_rate(client, rule):
    stats = client.get(f"/api/automations/{rule.pk}/").json()["stats"]
    assert stats["success_rate"] is None and stats["total_executions"] == 0


def test_get_unknown_is_404_json(client):
    response = client.get("/api/automations/automation_missing")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_get_ignores_list_filters(client, rule):
    assert client.get(f"/api/automations/{rule.pk}?enabled=false").status_code == 200


# --- update, enable, disable, delete ---------------------------------------------------------------


def test_patch_updates_and_versions(client, rule):
    response = patch_json(client, f"/api/automations/{rule.pk}", {"name": "Renamed", "risk_level": "medium"})
    assert response.status_code == 200
    data = response.json()
    assert data["automation"]["name"] == "Renamed"
    assert data["automation"]["version"] == 2
    assert data["message"] == "Automation rule updated successfully"


def test_patch_accepts_what_get_returned(client, rule):
    automation = client.get(f"/api/automations/{rule.pk}").json()["automation"]
    automation["name"] = "Round trip"
    response = patch_json(client, f"/api/automations/{rule.pk}/", automation)
    assert response.status_code == 200
    assert response.json()["automation"]["name"] == "Round trip"


def test_patch_bad_value_is_400_and_changes_nothing(client, rule):
    response = patch_json(client, f"/api/automations/{rule.pk}", {"trigger_config": {"metric": "x", "operator": "~"}})
    assert response.status_code == 400
    assert "trigger_config" in response.json()
    rule.refresh_from_db()
    assert rule.trigger_config == LOW_PRODUCT_ALERT["trigger_config"] and rule.version == 1


def test_patch_cannot_move_tenant(client, rule, other_tenant):
    response = patch_json(client, f"/api/automations/{rule.pk}", {"tenant_id": "tenant_other"})
    assert response.status_code == 400
    assert "tenant_id" in response.json()


def test_put_is_405(client, rule):
    response = client.put(f"/api/automations/{rule.pk}", data="{}", content_type="application/json")
    assert response.status_code == 405
    assert "detail" in response.json()


def test_enable_disable(client, rule):
    response = client.post(f"/api/automations/{rule.pk}/disable")
    assert response.status_code == 200
    assert response.json()["automation"]["enabled"] is False
    assert response.json()["message"] == "Automation rule disabled"
    response = client.post(f"/api/automations/{rule.pk}/enable/")
    assert response.json()["automation"]["enabled"] is True


def test_delete_archives_then_404(client, rule):
    response = client.delete(f"/api/automations/{rule.pk}")
    assert response.status_code == 200
    assert response.json() == {"id": rule.pk, "message": "Automation rule deleted successfully"}
    assert AutomationRule.all_objects.get(pk=rule.pk).deleted_at is not None
    assert client.get(f"/api/automations/{rule.pk}").status_code == 404
    assert client.delete(f"/api/automations/{rule.pk}").status_code == 404


# --- executions and stats ---------------------------------------------------------------------------


def test_executions_history_paging_and_filters(client, rule):
    now = timezone.now()
    for index in range(60):
        make_execution(rule, "succeeded" if index % 3 else "failed", triggered_at=now - dt.timedelta(hours=index))
    data = client.get(f"/api/automations/{rule.pk}/executions").json()
    assert data["count"] == 60 and data["limit"] == 50 and data["offset"] == 0
    assert len(data["executions"]) == 50
    times = [item["triggered_at"] for item in data["executions"]]
    assert times == sorted(times, reverse=True)
    assert client.get(f"/api/automations/{rule.pk}/executions?limit=1000").json()["limit"] == 200
    failed = client.get(f"/api/automations/{rule.pk}/executions?success=false").json()
    assert failed["count"] == 20 and all(item["success"] is False for item in failed["executions"])
    assert client.get(f"/api/automations/{rule.pk}/executions?status=succeeded").json()["count"] == 40
    since = (now - dt.timedelta(hours=9, minutes=30)).isoformat()
    response = client.get(f"/api/automations/{rule.pk}/executions", {"since": since})
    assert response.json()["count"] == 10
    until = (now - dt.timedelta(hours=49, minutes=30)).isoformat()
    assert client.get(f"/api/automations/{rule.pk}/executions", {"until": until}).json()["count"] == 10
    page = client.get(f"/api/automations/{rule.pk}/executions?limit=5&offset=55").json()
    assert len(page["executions"]) == 5
    # a moment with an offset PostgreSQL cannot store is the same moment in UTC
    far = (now - dt.timedelta(hours=9, minutes=30)).astimezone(dt.timezone(dt.timedelta(hours=21, minutes=53)))
    assert client.get(f"/api/automations/{rule.pk}/executions", {"since": far.isoformat()}).json()["count"] == 10


@pytest.mark.parametrize(
    "query, field",
    [
        ("status=nope", "status"),
        ("outcome=delivered", "outcome"),
        ("since=yesterday", "since"),
        ("since=0001-01-01T00:00:00%2B05:00", "since"),  # before year 1 in UTC
        ("until=9999-12-31T23:00:00-22:38", "until"),  # after 9999 in UTC
        ("limit=-3", "limit"),
        ("offset=x", "offset"),
    ],
)
def test_executions_bad_query_is_400(client, rule, query, field):
    response = client.get(f"/api/automations/{rule.pk}/executions?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_a_run_nothing_received_is_recorded_only_in_every_api_figure(client, rule, owner, tenant):
    # given an add_product rule and no webhook endpoint: a manual run through the API
    restock = make_rule(tenant, owner, name="Restock", action_type="add_product", action_config={"template_id": "t"})
    ran = post_json(
        client, f"/api/automations/{restock.pk}/execute", {"context": {"store_status": "active", "product_count": 2}}
    )
    assert ran.status_code == 200, ran.content
    execution = ran.json()["execution"]
    assert execution["status"] == "succeeded" and execution["outcome"] == "recorded_only"
    assert execution["action_result"]["delivery"] == "not_delivered"
    make_execution(restock, "succeeded")  # a delivered run
    make_execution(restock, "failed")
    # then the stats count it apart
    stats = client.get(f"/api/automations/{restock.pk}/stats").json()
    assert (stats["total_executions"], stats["success_count"], stats["failure_count"]) == (3, 1, 1)
    assert stats["recorded_only_count"] == 1 and stats["success_rate"] == 0.5
    detail = client.get(f"/api/automations/{restock.pk}/").json()
    assert detail["stats"]["recorded_only_count"] == 1 and detail["stats"]["success_rate"] == 0.5
    assert detail["automation"]["recorded_only_count"] == 1 and detail["automation"]["success_count"] == 0
    # and the history filters by outcome
    history = client.get(f"/api/automations/{restock.pk}/executions", {"outcome": "recorded_only"}).json()
    assert [e["id"] for e in history["executions"]] == [execution["id"]]
    delivered = client.get(f"/api/automations/{restock.pk}/executions", {"outcome": "succeeded"}).json()
    assert [e["outcome"] for e in delivered["executions"]] == ["succeeded"]


def test_stats_shape_and_values(client, rule):
    now = timezone.now()
    make_execution(rule, "succeeded", triggered_at=now, execution_time_ms=100)
    make_execution(rule, "succeeded", triggered_at=now - dt.timedelta(days=1), execution_time_ms=300)
    make_execution(rule, "failed", triggered_at=now - dt.timedelta(days=1), error_message="timeout")
    make_execution(rule, "failed", triggered_at=now - dt.timedelta(days=40), error_message="timeout")
    make_execution(rule, "failed", triggered_at=now, error_message="")
    make_execution(rule, "skipped", triggered_at=now)
    make_execution(rule, "awaiting_approval", triggered_at=now)
    data = client.get(f"/api/automations/{rule.pk}/stats").json()
    assert data["total_executions"] == 5
    assert data["success_count"] == 2 and data["failure_count"] == 3
    assert data["success_rate"] == 0.4
    assert data["skipped_count"] == 1 and data["awaiting_approval_count"] == 1
    days = data["executions_by_day"]
    assert len(days) == 30
    today = now.date().isoformat()
    assert days[-1] == {"date": today, "total": 2, "succeeded": 1, "failed": 1, "recorded_only": 0}
    yesterday = (now - dt.timedelta(days=1)).date().isoformat()
    assert days[-2] == {"date": yesterday, "total": 2, "succeeded": 1, "failed": 1, "recorded_only": 0}
    assert sum(day["total"] for day in days) == 4
    # the reasons are those of the 30 days shown (the 40-day-old failure counts in the totals only)
    assert data["failure_reasons"] == [{"reason": "unknown error", "count": 1}, {"reason": "timeout", "count": 1}]


def test_stats_days_follow_the_tenant_zone(owner):
    tenant = make_tenant("tenant_tokyo", timezone="Asia/Tokyo")
    from governance.services import membership_set

    membership_set(tenant, owner, "owner")
    rule = make_rule(tenant, owner)
    now = timezone.now()
    make_execution(rule, "succeeded", triggered_at=now)
    days = token_client(owner).get(f"/api/automations/{rule.pk}/stats").json()["executions_by_day"]
    assert days[-1]["date"] == now.astimezone(tenant.zone).date().isoformat()
    assert days[-1]["total"] == 1


def test_stats_without_executions(client, rule):
    data = client.get(f"/api/automations/{rule.pk}/stats").json()
    assert data["success_rate"] is None and data["avg_execution_time_ms"] is None
    assert data["failure_reasons"] == [] and len(data["executions_by_day"]) == 30


# --- executions resource -------------------------------------------------------------------------


def test_execution_list_and_get(client, rule):
    execution = make_execution(rule, "failed", error_message="boom")
    data = client.get("/api/executions").json()
    assert data["count"] == 1 and data["executions"][0]["id"] == execution.pk
    single = client.get(f"/api/executions/{execution.pk}").json()
    assert single["error_message"] == "boom" and single["status"] == "failed"
    assert client.get("/api/executions/99999999999999999999999").status_code == 404
    assert client.get("/api/executions/abc").status_code == 404


# --- URLs, browsable API ---------------------------------------------------------------------------


def test_routes_work_with_and_without_trailing_slash(client, rule):
    for url in ("/api/automations", "/api/automations/"):
        assert client.get(url).status_code == 200
    for suffix in ("", "/", "/stats", "/stats/", "/executions", "/executions/"):
        assert client.get(f"/api/automations/{rule.pk}{suffix}").status_code == 200


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_browsable_api_renders_every_endpoint(owner, rule):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(owner)
    urls = [
        "/api/",
        "/api/automations/",
        f"/api/automations/{rule.pk}/",
        f"/api/automations/{rule.pk}/executions/",
        f"/api/automations/{rule.pk}/stats/",
        f"/api/automations/{rule.pk}/enable/",
        f"/api/automations/{rule.pk}/disable/",
        f"/api/automations/{rule.pk}/test-conditions/",
        f"/api/automations/{rule.pk}/execute/",
        "/api/automations/test-conditions/",
        "/api/automations/recommend/",
        "/api/automations/summary/",
        "/api/executions/",
        "/api/approvals/",
        "/api/notifications/",
        "/api/events/",
        "/api/metrics/",
        "/api/webhook-endpoints/",
    ]
    for url in urls:
        response = client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code in (200, 405), url
        assert response["Content-Type"].startswith("text/html"), url
        assert b"Traceback (most recent call last)" not in response.content


def test_unexpected_error_is_json_500_without_traceback(client, rule, monkeypatch):
    from automations.api import views

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "rule_counts", explode)
    client.raise_request_exception = False
    response = client.get("/api/automations")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    assert b"secret internals" not in response.content


def test_throttle_limits_per_token(owner, collaborator, rule, settings, monkeypatch):
    from django.core.cache import caches

    from governance.api.throttling import TokenRateThrottle

    caches["throttle"].clear()
    monkeypatch.setattr(TokenRateThrottle, "timer", staticmethod(lambda: 1_800_000_030.0))
    TokenRateThrottle.THROTTLE_RATES = {"api": "3/minute"}
    try:
        alice, bob = token_client(owner), token_client(collaborator)
        assert [alice.get("/api/automations").status_code for _ in range(4)] == [200, 200, 200, 429]
        assert bob.get("/api/automations").status_code == 200
        limited = alice.get("/api/automations")
        assert "detail" in limited.json() and int(limited["Retry-After"]) == 30
    finally:
        TokenRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        caches["throttle"].clear()


def test_json_body_round_trips_unicode(client):
    response = post_json(client, "/api/automations", body(name="Café ☕"))
    assert response.status_code == 201
    assert json.loads(response.content)["automation"]["name"] == "Café ☕"


def test_superuser_sees_every_tenant(tenant, other_tenant, owner, other_owner):
    make_rule(tenant, owner)
    make_rule(other_tenant, other_owner)
    admin = make_user("root", is_superuser=True, is_staff=True)
    assert token_client(admin).get("/api/automations").json()["count"] == 2


def test_list_query_count_is_constant(client, tenant, owner):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def list_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/api/automations?tenant_id=tenant_test")
        assert response.status_code == 200
        return len(captured.captured_queries)

    make_rule(tenant, owner, name="first")
    few = list_queries()
    for index in range(60):
        make_rule(tenant, owner, name=f"rule {index}", enabled=index % 2 == 0)
    assert list_queries() == few
    assert few <= 5  # token, memberships, counts, page (and a savepoint-free read)


def test_get_query_count_is_constant(client, rule):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def get_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/api/automations/{rule.pk}").status_code == 200
        return len(captured.captured_queries)

    before = get_queries()
    for _ in range(15):
        make_execution(rule)
    assert get_queries() == before


def test_unknown_api_path_is_json_404_with_debug_on(client, settings):
    settings.DEBUG = True
    for url in ("/api/nope", "/api/automations/x/y/z", "/api/executions/abc"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json() == {"detail": "Not found."}


def test_post_to_unknown_api_path_is_json_404_even_with_a_session(owner):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post("/api/executions/%C2%84/approve/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_session_post_without_csrf_token_is_json_403(owner, rule):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(f"/api/automations/{rule.pk}/disable")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
