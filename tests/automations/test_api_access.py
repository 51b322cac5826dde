"""Who may do what: the tenant isolation matrix over every endpoint and verb, and the role matrix of docs/api.md."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from automations.models import AutomationRule
from tests.api import patch_json, post_json, token_client
from tests.factories import LOW_PRODUCT_ALERT, make_execution, make_rule, make_user

pytestmark = pytest.mark.django_db

HIGH = {"risk_level": "high"}


def rule_body(tenant_id: str = "tenant_test", **overrides: Any) -> dict[str, Any]:
    return {"tenant_id": tenant_id, **LOW_PRODUCT_ALERT, **overrides}


# --- isolation: charlie (tenant_other) against alice's tenant ---------------------------------------

# (name, call) — every operation addressing one of tenant_test's rules or executions by id.
DETAIL_CALLS: list[tuple[str, Callable[[Any, str, int], Any]]] = [
    ("get", lambda c, rid, eid: c.get(f"/api/automations/{rid}")),
    ("patch", lambda c, rid, eid: patch_json(c, f"/api/automations/{rid}", {"name": "pwned"})),
    ("delete", lambda c, rid, eid: c.delete(f"/api/automations/{rid}")),
    ("enable", lambda c, rid, eid: c.post(f"/api/automations/{rid}/enable")),
    ("disable", lambda c, rid, eid: c.post(f"/api/automations/{rid}/disable")),
    ("test-conditions", lambda c, rid, eid: post_json(c, f"/api/automations/{rid}/test-conditions", {"context": {}})),
    ("execute", lambda c, rid, eid: post_json(c, f"/api/automations/{rid}/execute", {"context": {}})),
    ("executions", lambda c, rid, eid: c.get(f"/api/automations/{rid}/executions")),
    ("stats", lambda c, rid, eid: c.get(f"/api/automations/{rid}/stats")),
    ("summary", lambda c, rid, eid: c.get(f"/api/automations/{rid}/summary")),
    ("execution", lambda c, rid, eid: c.get(f"/api/executions/{eid}")),
    ("approve", lambda c, rid, eid: c.post(f"/api/executions/{eid}/approve")),
    ("reject", lambda c, rid, eid: post_json(c, f"/api/executions/{eid}/reject", {"reason": "x"})),
]


@pytest.fixture
def foreign(tenant, owner, other_owner):
    rule = make_rule(tenant, owner)
    execution = make_execution(rule, "failed", error_message="private detail")
    return rule, execution


@pytest.mark.parametrize("name, call", DETAIL_CALLS, ids=[name for name, _ in DETAIL_CALLS])
def test_another_tenants_rule_or_execution_is_404(foreign, other_owner, name, call):
    rule, execution = foreign
    response = call(token_client(other_owner), rule.pk, execution.pk)
    assert response.status_code == 404, response.content
    assert b"private detail" not in response.content
    stored = AutomationRule.all_objects.get(pk=rule.pk)
    assert stored.name == LOW_PRODUCT_ALERT["name"] and stored.enabled and stored.deleted_at is None


@pytest.mark.parametrize("name, call", DETAIL_CALLS, ids=[name for name, _ in DETAIL_CALLS])
def test_missing_and_foreign_ids_answer_the_same(foreign, other_owner, name, call):
    rule, execution = foreign
    client = token_client(other_owner)
    foreign_answer = call(client, rule.pk, execution.pk)
    missing_answer = call(client, "automation_doesnotexist", 987654321)
    assert foreign_answer.status_code == missing_answer.status_code == 404
    assert foreign_answer.json() == missing_answer.json()


def test_lists_show_only_own_tenants(foreign, other_tenant, other_owner):
    mine = make_rule(other_tenant, other_owner)
    make_execution(mine)
    client = token_client(other_owner)
    rules = client.get("/api/automations").json()
    assert [item["id"] for item in rules["automations"]] == [mine.pk]
    assert rules["count"] == 1 and rules["enabled_count"] == 1
    executions = client.get("/api/executions").json()
    assert executions["count"] == 1 and executions["executions"][0]["automation_rule_id"] == mine.pk


@pytest.mark.parametrize("url", ["/api/automations?tenant_id=tenant_test", "/api/executions?tenant_id=tenant_test"])
def test_tenant_filter_outside_own_tenants_returns_no_rows(foreign, other_owner, url):
    data = token_client(other_owner).get(url).json()
    assert data["count"] == 0


@pytest.mark.parametrize("tenant_id", ["tenant_test", "tenant_does_not_exist"])
@pytest.mark.parametrize(
    "url, payload",
    [
        ("/api/automations", lambda tid: rule_body(tid)),
        ("/api/automations/test-conditions", lambda tid: {"rule": rule_body(tid), "context": {}}),
        ("/api/automations/summary", lambda tid: rule_body(tid)),
        ("/api/automations/recommend", lambda tid: {"tenant_id": tid, "context": {}}),
    ],
)
def test_writing_into_another_tenant_is_403(foreign, other_owner, tenant_id, url, payload):
    response = post_json(token_client(other_owner), url, payload(tenant_id))
    assert response.status_code == 403, response.content
    assert AutomationRule.objects.filter(tenant_id=tenant_id).count() == (1 if tenant_id == "tenant_test" else 0)


def test_user_without_tenant_sees_nothing_and_creates_nothing(foreign):
    loner = make_user("loner")
    client = token_client(loner)
    assert client.get("/api/automations").json()["count"] == 0
    assert post_json(client, "/api/automations", rule_body()).status_code == 403


# --- roles: every cell of the matrix ------------------------------------------------------------------

ROLES = ("owner", "collaborator", "council", "viewer")


@pytest.fixture
def cast(tenant, owner, collaborator, council_member):
    viewer = make_user("dave", tenant, "viewer")
    low = make_rule(tenant, owner, name="low")
    high = make_rule(tenant, owner, name="high", risk_level="high")
    for rule in (low, high):
        make_execution(rule)
    users = {"owner": owner, "collaborator": collaborator, "council": council_member, "viewer": viewer}
    return users, low, high


@pytest.fixture
def awaiting(cast):
    from executions.services import execute_rule_manually

    users, _low, high = cast
    execution = execute_rule_manually(high, {"product_count": 1, "store_status": "active"}, users["owner"])
    assert execution.status == "awaiting_approval"
    return execution


def _call(operation: str, client: Any, low: AutomationRule, high: AutomationRule, awaiting: Any) -> Any:
    rule = high if operation.endswith("_high") else low
    run = {"context": {"product_count": 1, "store_status": "active"}}
    base = f"/api/automations/{rule.pk}"
    calls: dict[str, Callable[[], Any]] = {
        "list": lambda: client.get("/api/automations"),
        "get": lambda: client.get(base),
        "executions": lambda: client.get(f"{base}/executions"),
        "stats": lambda: client.get(f"{base}/stats"),
        "execution_list": lambda: client.get("/api/executions"),
        "create_low": lambda: post_json(client, "/api/automations", rule_body()),
        "create_high": lambda: post_json(client, "/api/automations", rule_body(**HIGH)),
        "patch_low": lambda: patch_json(client, base, {"name": "edited"}),
        "patch_high": lambda: patch_json(client, base, {"name": "edited"}),
        "patch_low_to_high": lambda: patch_json(client, base, HIGH),
        "enable_low": lambda: client.post(f"{base}/enable"),
        "enable_high": lambda: client.post(f"{base}/enable"),
        "disable_low": lambda: client.post(f"{base}/disable"),
        "disable_high": lambda: client.post(f"{base}/disable"),
        "delete_low": lambda: client.delete(base),
        "delete_high": lambda: client.delete(base),
        "summary": lambda: client.get(f"{base}/summary"),
        "summary_draft": lambda: post_json(client, "/api/automations/summary", rule_body()),
        "recommend": lambda: post_json(client, "/api/automations/recommend", {"context": {"product_count": 1}}),
        "test_low": lambda: post_json(client, f"{base}/test-conditions", {"context": {"product_count": 1}}),
        "test_high": lambda: post_json(client, f"{base}/test-conditions", {"context": {"product_count": 1}}),
        "test_draft_low": lambda: post_json(client, "/api/automations/test-conditions", {"rule": rule_body()}),
        "test_draft_high": lambda: post_json(client, "/api/automations/test-conditions", {"rule": rule_body(**HIGH)}),
        "execute_low": lambda: post_json(client, f"{base}/execute", run),
        "execute_high": lambda: post_json(client, f"{base}/execute", run),
        "execute_bypass_low": lambda: post_json(client, f"{base}/execute", {**run, "bypass_approval": True}),
        "approve": lambda: client.post(f"/api/executions/{awaiting.pk}/approve"),
        "reject": lambda: post_json(client, f"/api/executions/{awaiting.pk}/reject", {"reason": "no"}),
        "approvals": lambda: client.get("/api/approvals"),
        "notifications": lambda: client.get("/api/notifications"),
        "events": lambda: post_json(client, "/api/events", {"event_type": "product_added"}),
        "metrics": lambda: post_json(client, "/api/metrics", {"metric": "product_count", "value": 1}),
        "webhooks_read": lambda: client.get("/api/webhook-endpoints"),
        "webhooks_create": lambda: post_json(client, "/api/webhook-endpoints", {"url": "https://hooks.example.com/x"}),
    }
    return calls[operation]()


READ = {
    "list",
    "get",
    "executions",
    "stats",
    "execution_list",
    "summary",
    "summary_draft",
    "recommend",
    "approvals",
    "notifications",
    "webhooks_read",
}
COLLABORATOR = READ | {
    "execute_low",
    "events",
    "metrics",
    "create_low",
    "patch_low",
    "enable_low",
    "disable_low",
    "test_low",
    "test_draft_low",
}
# operation -> roles allowed (everything else must be 403)
MATRIX: dict[str, set[str]] = {}
for _operation in (
    *sorted(READ),
    "create_low",
    "create_high",
    "patch_low",
    "patch_high",
    "patch_low_to_high",
    "enable_low",
    "enable_high",
    "disable_low",
    "disable_high",
    "delete_low",
    "delete_high",
    "test_low",
    "test_high",
    "test_draft_low",
    "test_draft_high",
    "execute_low",
    "execute_high",
    "execute_bypass_low",
    "approve",
    "reject",
    "events",
    "metrics",
    "webhooks_create",
):
    allowed = {"owner"}
    if _operation in COLLABORATOR:
        allowed.add("collaborator")
    if _operation in READ:
        allowed |= {"council", "viewer"}
    if _operation in ("approve", "reject"):
        allowed.add("council")
    MATRIX[_operation] = allowed

CELLS = [(operation, role) for operation in MATRIX for role in ROLES]


@pytest.mark.parametrize("operation, role", CELLS, ids=[f"{op}-{role}" for op, role in CELLS])
def test_role_matrix(cast, awaiting, operation, role):
    users, low, high = cast
    before = {rule.pk: (rule.name, rule.risk_level, rule.enabled) for rule in (low, high)}
    response = _call(operation, token_client(users[role]), low, high, awaiting)
    if role in MATRIX[operation]:
        assert response.status_code in (200, 201, 202), response.content
    else:
        assert response.status_code == 403, response.content
        assert "detail" in response.json()
        after = {r.pk: (r.name, r.risk_level, r.enabled) for r in AutomationRule.all_objects.filter(deleted_at=None)}
        assert after == {**after, **before}
        assert AutomationRule.objects.count() == 2
        awaiting.refresh_from_db()
        assert awaiting.status == "awaiting_approval"
