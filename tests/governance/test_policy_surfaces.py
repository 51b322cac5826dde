"""The role matrix of docs/api.md, walked over every surface that reaches each operation: the REST API,
each portal POST, and each admin add/change/delete/action. One table (the documented one, read from
docs/api.md) decides the expected answer for all three, so the surfaces cannot disagree.

Each case starts from the same tenant (alice owns, bob collaborates, carol sits on the council, dave
views), performs one operation as one role through one surface, and checks the effect in the database:
an allowed operation happened; a refused one changed nothing and answered 403/404 (never a 500: the
test client re-raises server errors).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.admin.utils import quote
from django.test import Client

from automations.models import AutomationRule
from executions.approvals import approval_request_open
from executions.choices import ApprovalStatus, DeliveryStatus, ExecutionStatus
from executions.delivery.models import WebhookDelivery, WebhookEndpoint
from executions.delivery.services import endpoint_create
from executions.models import ApprovalRequest, AutomationExecution, Event
from governance.models import CouncilMember, Membership, Tenant, TrustedUser
from governance.selectors import default_council
from tests.api import patch_json, post_json, token_client
from tests.factories import make_execution, make_rule, make_user, tenant_admin_form

pytestmark = pytest.mark.django_db

ROLES = ("owner", "collaborator", "council", "viewer")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"

EVENT_RULE = {
    "description": "",
    "category": "product",
    "trigger_type": "event",
    "trigger_config": {"event_type": "product_added"},
    "conditions": [{"type": "store_status", "operator": "=", "value": "active"}],
    "action_type": "send_notification",
    "action_config": {"recipients": ["owner"], "message": "hello"},
}


def documented_matrix() -> dict[str, dict[str, bool]]:
    """docs/api.md's "Roles" table: row label -> role -> allowed (✓) or refused."""
    section = DOCS.read_text().split("\n## Roles\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, dict[str, bool]] = {}
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith(("| Operation", "|---")):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows[cells[0]] = {role: mark == "✓" for role, mark in zip(ROLES, cells[1:5], strict=True)}
    return rows


# --- the world each case starts from -------------------------------------------------------------


@dataclass
class World:
    tenant: Tenant
    users: dict[str, Any]
    low: AutomationRule
    high: AutomationRule
    approval: ApprovalRequest
    endpoint: WebhookEndpoint
    delivery: WebhookDelivery
    stranger: Any


@pytest.fixture
def world(tenant, owner, collaborator, council_member) -> World:
    viewer = make_user("dave", tenant, "viewer")
    low = make_rule(tenant, None, name="Low rule", **EVENT_RULE)
    high = make_rule(tenant, None, name="High rule", risk_level="high", **EVENT_RULE)
    awaiting = make_execution(high, ExecutionStatus.AWAITING_APPROVAL, trigger_source="event")
    approval = approval_request_open(awaiting, high, {"reason": "high-risk rule"})
    endpoint = endpoint_create(tenant, "https://hooks.example.com/matrix").endpoint
    failed = make_execution(low, ExecutionStatus.FAILED, trigger_source="event")
    delivery = WebhookDelivery.objects.create(
        tenant=tenant,
        execution=failed,
        endpoint=endpoint,
        webhook_id="msg_matrix",
        status=DeliveryStatus.FAILED,
        next_attempt_at=None,
    )
    stranger = make_user("erin")
    users = {"owner": owner, "collaborator": collaborator, "council": council_member, "viewer": viewer}
    for user in users.values():
        user.is_staff = True  # everyone may open /admin/; what they see there is their role's
        user.save(update_fields=["is_staff"])
    return World(tenant, users, low, high, approval, endpoint, delivery, stranger)


# --- what each operation changes ---------------------------------------------------------------


def created(name: str) -> Callable[[World], bool]:
    return lambda w: AutomationRule.all_objects.filter(tenant=w.tenant, name=name).exists()


def renamed(attr: str, name: str) -> Callable[[World], bool]:
    return lambda w: AutomationRule.all_objects.get(pk=getattr(w, attr).pk).name == name


def risk_is(attr: str, risk: str) -> Callable[[World], bool]:
    return lambda w: AutomationRule.all_objects.get(pk=getattr(w, attr).pk).risk_level == risk


def disabled(attr: str) -> Callable[[World], bool]:
    return lambda w: not AutomationRule.all_objects.get(pk=getattr(w, attr).pk).enabled


def archived(attr: str) -> Callable[[World], bool]:
    return lambda w: AutomationRule.all_objects.get(pk=getattr(w, attr).pk).deleted_at is not None


def ran(attr: str) -> Callable[[World], bool]:
    return lambda w: AutomationExecution.objects.filter(
        automation_rule=getattr(w, attr), trigger_source="manual"
    ).exists()


def approval_is(status: str) -> Callable[[World], bool]:
    return lambda w: ApprovalRequest.objects.get(pk=w.approval.pk).status == status


def endpoint_count_is(count: int) -> Callable[[World], bool]:
    return lambda w: WebhookEndpoint.objects.filter(tenant=w.tenant).count() == count


def rotated(w: World) -> bool:
    return WebhookEndpoint.objects.get(pk=w.endpoint.pk).secret_rotated_at is not None


def payload_left_out(w: World) -> bool:
    return WebhookEndpoint.objects.get(pk=w.endpoint.pk).include_trigger_payload is False


def redelivered(w: World) -> bool:
    return WebhookDelivery.objects.get(pk=w.delivery.pk).status == DeliveryStatus.PENDING


def answered_ok(w: World, response: Any) -> bool:
    """An operation without side effects (tests of conditions) happened when it answered with a result."""
    if response.status_code != 200:
        return False
    if response.get("Content-Type", "").startswith("application/json"):
        return "conditions_met" in response.json()
    return b"data-condition-result" in response.content


def event_stored(w: World) -> bool:
    return Event.objects.filter(tenant=w.tenant, event_type="product_added").exists()


# --- surfaces ------------------------------------------------------------------------------------


def api(user: Any) -> Any:
    return token_client(user)


def session(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def portal_rule_form(name: str, risk: str) -> dict[str, Any]:
    """The builder's fields for an event rule (what the form posts)."""
    return {
        "name": name,
        "description": "",
        "category": "product",
        "enabled": "on",
        "trigger_type": "event",
        "t_event_type": "product_added",
        "cond-0-type": "store_status",
        "cond-0-operator": "=",
        "cond-0-value": "active",
        "action_type": "send_notification",
        "a_send_notification__recipients": ["owner"],
        "a_send_notification__message": "hello",
        "risk_level": risk,
    }


def admin_rule_form(name: str, risk: str, tenant_id: str = "tenant_test") -> dict[str, Any]:
    return {
        "tenant": tenant_id,
        "name": name,
        "description": "",
        "category": "product",
        "enabled": "on",
        "trigger_type": "event",
        "trigger_config": json.dumps(EVENT_RULE["trigger_config"]),
        "conditions": json.dumps(EVENT_RULE["conditions"]),
        "action_type": "send_notification",
        "action_config": json.dumps(EVENT_RULE["action_config"]),
        "risk_level": risk,
        "auto_approval_rules": "{}",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }


def admin_change(w: World, attr: str) -> str:
    return f"/admin/automations/automationrule/{quote(getattr(w, attr).pk)}/change/"


def api_rule(w: World, attr: str) -> str:
    return f"/api/automations/{getattr(w, attr).pk}"


def portal_rule(w: World, attr: str) -> str:
    return f"/portal/automations/{getattr(w, attr).pk}"


def builder(w: World, attr: str) -> str:
    return f"/portal/automations/builder/{getattr(w, attr).pk}"


def admin_action(url: str, action: str, pk: Any) -> Callable[[Client], Any]:
    return lambda c: c.post(url, {"action": action, "_selected_action": [pk]})


Driver = Callable[[Any, World], Any]


@dataclass(frozen=True)
class Operation:
    key: str
    row: str  # the start of its docs/api.md row
    happened: Callable[..., bool]
    api: Driver | None = None
    portal: Driver | None = None
    admin: Driver | None = None


def _body(name: str, risk: str) -> dict[str, Any]:
    return {"tenant_id": "tenant_test", "name": name, "risk_level": risk, **EVENT_RULE}


OPERATIONS = [
    Operation(
        "create low",
        "Create a low- or medium-risk rule",
        created("New low"),
        api=lambda u, w: post_json(api(u), "/api/automations", _body("New low", "low")),
        portal=lambda u, w: session(u).post("/portal/automations/builder/new", portal_rule_form("New low", "low")),
        admin=lambda u, w: session(u).post("/admin/automations/automationrule/add/", admin_rule_form("New low", "low")),
    ),
    Operation(
        "create critical",
        "Create a high- or critical-risk rule",
        created("New critical"),
        api=lambda u, w: post_json(api(u), "/api/automations", _body("New critical", "critical")),
        portal=lambda u, w: session(u).post(
            "/portal/automations/builder/new", portal_rule_form("New critical", "critical")
        ),
        admin=lambda u, w: session(u).post(
            "/admin/automations/automationrule/add/", admin_rule_form("New critical", "critical")
        ),
    ),
    Operation(
        "edit low",
        "Edit (PATCH), enable, disable a low/medium rule",
        renamed("low", "Renamed"),
        api=lambda u, w: patch_json(api(u), api_rule(w, "low"), {"name": "Renamed"}),
        portal=lambda u, w: session(u).post(builder(w, "low"), portal_rule_form("Renamed", "low")),
        admin=lambda u, w: session(u).post(admin_change(w, "low"), admin_rule_form("Renamed", "low")),
    ),
    Operation(
        "disable low",
        "Edit (PATCH), enable, disable a low/medium rule",
        disabled("low"),
        api=lambda u, w: api(u).post(f"{api_rule(w, 'low')}/disable"),
        portal=lambda u, w: session(u).post(f"{portal_rule(w, 'low')}/enabled", {"enabled": "false"}),
    ),
    Operation(
        "edit high",
        "Edit, enable, disable a high/critical rule",
        renamed("high", "Renamed"),
        api=lambda u, w: patch_json(api(u), api_rule(w, "high"), {"name": "Renamed"}),
        portal=lambda u, w: session(u).post(builder(w, "high"), portal_rule_form("Renamed", "high")),
        admin=lambda u, w: session(u).post(admin_change(w, "high"), admin_rule_form("Renamed", "high")),
    ),
    Operation(
        "lower high to low",
        "Edit, enable, disable a high/critical rule",
        risk_is("high", "low"),
        api=lambda u, w: patch_json(api(u), api_rule(w, "high"), {"risk_level": "low", "requires_approval": False}),
        portal=lambda u, w: session(u).post(builder(w, "high"), portal_rule_form("High rule", "low")),
        admin=lambda u, w: session(u).post(admin_change(w, "high"), admin_rule_form("High rule", "low")),
    ),
    Operation(
        "raise low to critical",
        "Edit, enable, disable a high/critical rule",
        risk_is("low", "critical"),
        api=lambda u, w: patch_json(api(u), api_rule(w, "low"), {"risk_level": "critical"}),
        portal=lambda u, w: session(u).post(builder(w, "low"), portal_rule_form("Low rule", "critical")),
        admin=lambda u, w: session(u).post(admin_change(w, "low"), admin_rule_form("Low rule", "critical")),
    ),
    Operation(
        "disable high",
        "Edit, enable, disable a high/critical rule",
        disabled("high"),
        api=lambda u, w: api(u).post(f"{api_rule(w, 'high')}/disable"),
        portal=lambda u, w: session(u).post(f"{portal_rule(w, 'high')}/toggle", {"enabled": "false"}),
    ),
    Operation(
        "test low",
        "Test conditions of a low/medium rule",
        answered_ok,  # no side effect: the answer is the result
        api=lambda u, w: post_json(api(u), f"{api_rule(w, 'low')}/test-conditions", {"context": {}}),
        portal=lambda u, w: session(u).post(f"{portal_rule(w, 'low')}/test", {"sample_context": "{}"}),
    ),
    Operation(
        "test unsaved low",
        "Test conditions of a low/medium rule",
        answered_ok,
        api=lambda u, w: post_json(
            api(u), "/api/automations/test-conditions", {"rule": _body("Draft", "low"), "context": {}}
        ),
        portal=lambda u, w: session(u).post(
            "/portal/automations/builder/test", {**portal_rule_form("Draft", "low"), "sample_context": "{}"}
        ),
    ),
    Operation(
        "test high",
        "Test conditions of a high/critical rule",
        answered_ok,
        api=lambda u, w: post_json(api(u), f"{api_rule(w, 'high')}/test-conditions", {"context": {}}),
        portal=lambda u, w: session(u).post(f"{portal_rule(w, 'high')}/test", {"sample_context": "{}"}),
    ),
    Operation(
        "test unsaved critical",
        "Test conditions of a high/critical rule",
        answered_ok,
        api=lambda u, w: post_json(
            api(u), "/api/automations/test-conditions", {"rule": _body("Draft", "critical"), "context": {}}
        ),
        portal=lambda u, w: session(u).post(
            "/portal/automations/builder/test", {**portal_rule_form("Draft", "critical"), "sample_context": "{}"}
        ),
    ),
    Operation(
        "run low",
        "Execute a low/medium rule",
        ran("low"),
        api=lambda u, w: post_json(api(u), f"{api_rule(w, 'low')}/execute", {"context": {}}),
        portal=lambda u, w: session(u).post(f"{portal_rule(w, 'low')}/run", {"sample_context": "{}"}),
    ),
    Operation(
        "run high",
        "Execute a high/critical rule",
        ran("high"),
        api=lambda u, w: post_json(api(u), f"{api_rule(w, 'high')}/execute", {"context": {}}),
        portal=lambda u, w: session(u).post(f"{portal_rule(w, 'high')}/run", {"sample_context": "{}"}),
    ),
    Operation(
        "run bypassing approval",
        "Execute with `bypass_approval: true`",
        ran("low"),
        api=lambda u, w: post_json(api(u), f"{api_rule(w, 'low')}/execute", {"context": {}, "bypass_approval": True}),
    ),
    Operation(
        "delete low",
        "Delete (archive) a rule",
        archived("low"),
        api=lambda u, w: api(u).delete(api_rule(w, "low")),
        portal=lambda u, w: session(u).post(f"{builder(w, 'low')}/delete"),
        admin=lambda u, w: session(u).post(
            f"/admin/automations/automationrule/{quote(w.low.pk)}/delete/", {"post": "yes"}
        ),
    ),
    Operation(
        "archive high (admin action)",
        "Delete (archive) a rule",
        archived("high"),
        admin=lambda u, w: admin_action("/admin/automations/automationrule/", "archive_selected", w.high.pk)(
            session(u)
        ),
    ),
    Operation(
        "approve",
        "Approve or reject an execution awaiting approval",
        approval_is(ApprovalStatus.APPROVED),
        api=lambda u, w: api(u).post(f"/api/executions/{w.approval.execution_id}/approve"),
        portal=lambda u, w: session(u).post(f"/portal/approvals/{w.approval.pk}/approve"),
        admin=lambda u, w: admin_action("/admin/executions/approvalrequest/", "approve_selected", w.approval.pk)(
            session(u)
        ),
    ),
    Operation(
        "reject",
        "Approve or reject an execution awaiting approval",
        approval_is(ApprovalStatus.REJECTED),
        api=lambda u, w: post_json(api(u), f"/api/executions/{w.approval.execution_id}/reject", {"reason": "no"}),
        portal=lambda u, w: session(u).post(f"/portal/approvals/{w.approval.pk}/reject", {"reason": "no"}),
        admin=lambda u, w: admin_action("/admin/executions/approvalrequest/", "reject_selected", w.approval.pk)(
            session(u)
        ),
    ),
    Operation(
        "post an event",
        "Post events and metric samples",
        event_stored,
        api=lambda u, w: post_json(
            api(u), "/api/events", {"tenant_id": "tenant_test", "event_type": "product_added", "payload": {}}
        ),
        # the rule page's Send test event
        portal=lambda u, w: session(u).post(
            f"{portal_rule(w, 'low')}/send-event", {"event_type": "product_added", "payload": "{}"}
        ),
    ),
    Operation(
        "create a webhook endpoint",
        "Create, edit, rotate the secret of",
        endpoint_count_is(2),
        api=lambda u, w: post_json(
            api(u), "/api/webhook-endpoints", {"tenant_id": "tenant_test", "url": "https://hooks.example.com/new"}
        ),
        portal=lambda u, w: session(u).post(
            "/portal/settings/webhooks/new", {"url": "https://hooks.example.com/new", "description": ""}
        ),
        admin=lambda u, w: session(u).post(
            "/admin/executions/webhookendpoint/add/",
            {"tenant": "tenant_test", "url": "https://hooks.example.com/new", "description": "", "enabled": "on"},
        ),
    ),
    Operation(
        "rotate a webhook secret",
        "Create, edit, rotate the secret of",
        rotated,
        api=lambda u, w: api(u).post(f"/api/webhook-endpoints/{w.endpoint.pk}/rotate-secret"),
        portal=lambda u, w: session(u).post(f"/portal/settings/webhooks/{w.endpoint.pk}/rotate"),
        admin=lambda u, w: admin_action("/admin/executions/webhookendpoint/", "rotate_secret", w.endpoint.pk)(
            session(u)
        ),
    ),
    Operation(
        "leave the triggering payload out of a webhook endpoint's commands",
        "Create, edit, rotate the secret of",
        payload_left_out,
        api=lambda u, w: patch_json(
            api(u), f"/api/webhook-endpoints/{w.endpoint.pk}", {"include_trigger_payload": False}
        ),
        portal=lambda u, w: session(u).post(
            f"/portal/settings/webhooks/{w.endpoint.pk}/trigger-payload", {"include_trigger_payload": "false"}
        ),
        admin=lambda u, w: session(u).post(
            f"/admin/executions/webhookendpoint/{w.endpoint.pk}/change/",
            {"url": w.endpoint.url, "action_type": "", "description": "", "enabled": "on"},
        ),
    ),
    Operation(
        "redeliver a webhook",
        "Create, edit, rotate the secret of",
        redelivered,
        portal=lambda u, w: session(u).post(f"/portal/settings/webhooks/deliveries/{w.delivery.pk}/redeliver"),
        admin=lambda u, w: admin_action("/admin/executions/webhookdelivery/", "redeliver", w.delivery.pk)(session(u)),
    ),
    Operation(
        "change the tenant's settings",
        "Manage the tenant",
        lambda w: Tenant.objects.get(pk=w.tenant.pk).name == "Renamed shop",
        admin=lambda u, w: session(u).post(
            "/admin/governance/tenant/tenant_test/change/",
            tenant_admin_form(w.tenant, name="Renamed shop"),
        ),
    ),
    Operation(
        "add a member",
        "Manage the tenant",
        lambda w: Membership.objects.filter(tenant=w.tenant, user=w.stranger).exists(),
        admin=lambda u, w: session(u).post(
            "/admin/governance/membership/add/", {"tenant": "tenant_test", "user": "erin", "role": "owner"}
        ),
    ),
    Operation(
        "seat a council member",
        "Manage the tenant",
        lambda w: CouncilMember.objects.filter(council__tenant=w.tenant, user__username="frank").exists(),
        admin=lambda u, w: session(u).post(
            "/admin/governance/councilmember/add/",
            {"council": default_council("tenant_test").pk, "user": "frank"},
        ),
    ),
    Operation(
        "trust a user",
        "Manage the tenant",
        lambda w: TrustedUser.objects.filter(tenant=w.tenant, user__username="dave").exists(),
        admin=lambda u, w: session(u).post(
            "/admin/governance/trusteduser/add/", {"tenant": "tenant_test", "user": "dave"}
        ),
    ),
]

CASES = [
    pytest.param(operation, surface, role, id=f"{surface}-{operation.key}-{role}")
    for operation in OPERATIONS
    for surface in ("api", "portal", "admin")
    if getattr(operation, surface) is not None
    for role in ROLES
]


def expected(operation: Operation, role: str) -> bool:
    rows = [label for label in documented_matrix() if label.startswith(operation.row)]
    assert len(rows) == 1, f"docs/api.md has no single role-matrix row starting {operation.row!r}"
    return documented_matrix()[rows[0]][role]


@pytest.mark.parametrize("operation, surface, role", CASES)
def test_every_surface_follows_the_documented_role_matrix(world, operation, surface, role, settings):
    # given
    settings.AUTOMATIONS = {
        **settings.AUTOMATIONS,
        "WEBHOOK_ENQUEUE_DELIVERY": "",
    }  # redelivery waits for the sweeper: nothing is sent
    make_user("frank", world.tenant, "council").council_memberships.all().delete()  # an unseated council member
    allowed = expected(operation, role)
    # when
    response = getattr(operation, surface)(world.users[role], world)
    # then
    happened = operation.happened(world, response) if operation.happened is answered_ok else operation.happened(world)
    assert happened is allowed, (response.status_code, response.content[:500])
    if allowed:
        assert response.status_code in (200, 201, 202, 302), response.content[:500]
    elif surface == "admin":
        # Refused: 403; or an action the role is not offered, which re-renders the list (200) or
        # redirects back with a message (302): either way nothing happened (checked above).
        assert response.status_code in (200, 302, 403), (response.status_code, response.content[:500])
    else:
        # Refused: 403, or 404 where the row is not even visible to the role (approvals of other seats).
        assert response.status_code in (403, 404), (response.status_code, response.content[:500])


def test_the_documented_matrix_is_the_policy():
    """Every docs row a test walks is also what governance.roles.ROLE_MATRIX says (one table)."""
    from governance.roles import Capability, role_allows

    by_row = {
        "Create a low- or medium-risk rule": (Capability.WRITE, "low"),
        "Create a high- or critical-risk rule": (Capability.WRITE, "critical"),
        "Test conditions of a high/critical rule": (Capability.TEST, "high"),
        "Execute a low/medium rule": (Capability.RUN, "medium"),
        "Delete (archive) a rule": (Capability.DELETE, "low"),
        "Post events and metric samples": (Capability.INGEST, None),
        "Manage the tenant": (Capability.MANAGE_TENANT, None),
    }
    matrix = documented_matrix()
    for prefix, (capability, risk) in by_row.items():
        (label,) = [label for label in matrix if label.startswith(prefix)]
        for role in ROLES:
            assert role_allows(role, capability, risk) is matrix[label][role], (label, role)


def test_the_matrix_parser_reads_every_row():
    matrix = documented_matrix()
    assert len(matrix) >= 15
    assert all(set(cells) == set(ROLES) for cells in matrix.values())
    assert re.search(r"Manage the tenant", " ".join(matrix))
