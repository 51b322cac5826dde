"""Every portal page that takes input, with every kind of input the databases cannot store.

One table: (surface, bad input) -> 400 with the refusal at its field in the page, or 404 for an id
naming no row, never a 500 (the test client raises on one), and no row written. The NUL and lone
surrogate cases only broke on PostgreSQL; the suite runs this file on SQLite and, with DATABASE_URL,
on PostgreSQL.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

from automations.builder_errors import error_label
from automations.models import AutomationRule, RuleVersion
from executions.choices import DeliveryStatus, NotificationKind
from executions.delivery.models import WebhookDelivery, WebhookEndpoint
from executions.delivery.services import endpoint_create
from executions.models import ApprovalRequest, AutomationExecution, Notification
from governance.common.storable import INTEGER_RANGE_MESSAGE, NON_FINITE_MESSAGE, NUL_MESSAGE, SURROGATE_MESSAGE
from tests.factories import make_rule, make_user

NUL = "a\x00b"
SURROGATE_JSON = '"\\ud800"'  # a JSON string escape: the only way a lone surrogate reaches a form field
DIGITS_400 = "9" * 400
DIGITS_5000 = "9" * 5000
ID_30 = "9" * 30
FINITE = NON_FINITE_MESSAGE
RANGE = INTEGER_RANGE_MESSAGE

VALID_POST = {
    "name": "Low Product Alert",
    "description": "Alert when product count drops below 3",
    "category": "product",
    "enabled": "on",
    "trigger_type": "threshold",
    "t_metric": "product_count",
    "t_operator": "<",
    "t_value": "3",
    "cond-0-type": "store_status",
    "cond-0-operator": "=",
    "cond-0-value": "active",
    "action_type": "send_notification",
    "a_send_notification__recipients": ["owner"],
    "a_send_notification__message": "Low product count",
    "risk_level": "low",
}
ADD_PRODUCT = {"action_type": "add_product", "a_add_product__template_id": "starter"}

# What a rule form may carry: (kind, changed fields, path named in the page, message).
RULE_INPUTS: list[tuple[str, dict[str, str], str, str]] = [
    ("nul-name", {"name": NUL}, "name", NUL_MESSAGE),
    ("nul-description", {"description": NUL}, "description", NUL_MESSAGE),
    ("nul-council", {"assigned_council": NUL}, "assigned_council_id", NUL_MESSAGE),
    ("nul-condition", {"cond-0-value": NUL}, "conditions[0].value", NUL_MESSAGE),
    ("surrogate-condition", {"cond-0-value": SURROGATE_JSON}, "conditions[0].value", SURROGATE_MESSAGE),
    (
        "surrogate-json-row",
        {"cond-1-json": '{"type": "x", "operator": "=", "value": "\\ud800"}'},
        "conditions[1].value",
        SURROGATE_MESSAGE,
    ),
    ("1e400-condition", {"cond-0-value": "1e400"}, "conditions[0].value", FINITE),
    ("nan-json-row", {"cond-1-json": '{"type": "x", "operator": "=", "value": NaN}'}, "conditions[1].value", FINITE),
    ("400-digit-condition", {"cond-0-value": DIGITS_400}, "conditions[0].value", RANGE),
    ("400-digit-threshold", {"t_value": DIGITS_400}, "trigger_config.value", RANGE),
    ("5000-digit-threshold", {"t_value": DIGITS_5000}, "trigger_config.value", FINITE),
    ("5000-digit-max-budget", {"aa_max_budget": DIGITS_5000}, "auto_approval_rules.max_budget", FINITE),
    (
        "5000-digit-max-frequency",
        {"aa_max_frequency_per_day": DIGITS_5000},
        "auto_approval_rules.max_frequency_per_day",
        FINITE,
    ),
    ("1e400-budget", {"action_budget": "1e400"}, "action_config.budget", FINITE),
    ("5000-digit-count", {**ADD_PRODUCT, "a_add_product__count": DIGITS_5000}, "action_config.count", FINITE),
]
# A sample context typed as JSON: (kind, text, message).
CONTEXT_INPUTS: list[tuple[str, str, str]] = [
    ("nan", '{"product_count": NaN}', "NaN is not a JSON number"),
    ("infinity", '{"product_count": -Infinity}', "-Infinity is not a JSON number"),
    ("1e400", '{"product_count": 1e400}', FINITE),
    ("400-digit", '{"product_count": ' + DIGITS_400 + "}", RANGE),
    ("5000-digit", '{"product_count": ' + DIGITS_5000 + "}", "4300 digits"),
    ("nul", '{"store_status": "a\\u0000b"}', NUL_MESSAGE),
    ("surrogate", '{"store_status": "\\ud800"}', SURROGATE_MESSAGE),
    ("nul-key", '{"a\\u0000": 1}', NUL_MESSAGE),
]


@dataclass
class World:
    """alice owns tenant_test (and sits on its council with carol); one of everything to address."""

    owner: Any
    council: Any
    rule: AutomationRule
    approval: ApprovalRequest
    endpoint: WebhookEndpoint
    delivery: WebhookDelivery
    notification: Notification


@dataclass
class Case:
    name: str
    method: str
    url: Callable[[World], str]
    data: dict[str, Any] | Callable[[World], dict[str, Any]] = field(default_factory=dict)
    status: int = 400
    shows: tuple[str, ...] = ()  # texts the page must show (HTML-unescaped)
    as_council: bool = False


def _rule_cases() -> list[Case]:
    cases = []
    for kind, changes, path, message in RULE_INPUTS:
        post = {**VALID_POST, **changes}
        # The error list's line for the field: its label and the message, the path only as data.
        label = error_label(path, post["trigger_type"], post["action_type"])
        at_field = f'<li data-error-path="{path}">{label}: {message}</li>'
        cases += [
            Case(f"builder-new/{kind}", "post", lambda w: "/portal/automations/builder/new", post, shows=(at_field,)),
            Case(
                f"builder-edit/{kind}",
                "post",
                lambda w: f"/portal/automations/builder/{w.rule.pk}",
                post,
                shows=(at_field,),
            ),
            Case(
                f"builder-summary/{kind}",
                "post",
                lambda w: "/portal/automations/builder/summary",
                post,
                shows=(f"{path}: {message}",),
            ),
        ]
        if path.startswith("conditions"):  # the builder's Test reads the conditions only
            test_post = {**post, "sample_context": "{}"}
            url = "/portal/automations/builder/test"
            cases.append(Case(f"builder-test/{kind}", "post", lambda w, url=url: url, test_post, shows=(at_field,)))
    return cases


def _context_cases() -> list[Case]:
    cases = []
    for kind, text, message in CONTEXT_INPUTS:
        cases += [
            Case(
                f"builder-test/context-{kind}",
                "post",
                lambda w: "/portal/automations/builder/test",
                {**VALID_POST, "sample_context": text},
                shows=("sample context", message),
            ),
            Case(
                f"detail-test/context-{kind}",
                "post",
                lambda w: f"/portal/automations/{w.rule.pk}/test",
                {"sample_context": text},
                shows=("sample context", message),
            ),
            Case(
                f"detail-run/context-{kind}",
                "post",
                lambda w: f"/portal/automations/{w.rule.pk}/run",
                {"sample_context": text},
                shows=("sample context", message),
            ),
        ]
    return cases


ID_CASES = [
    Case("notification-read/30-digit-id", "post", lambda w: "/portal/notifications/read", {"id": ID_30}, 404),
    Case("notification-read/superscript-id", "post", lambda w: "/portal/notifications/read", {"id": "²"}, 404),
    Case("notification-read/nul-id", "post", lambda w: "/portal/notifications/read", {"id": "1\x00"}, 404),
    Case("approval-approve/30-digit-id", "post", lambda w: f"/portal/approvals/{ID_30}/approve", status=404),
    Case("approval-reject/30-digit-id", "post", lambda w: f"/portal/approvals/{ID_30}/reject", status=404),
    Case("webhook-rotate/30-digit-id", "post", lambda w: f"/portal/settings/webhooks/{ID_30}/rotate", status=404),
    Case(
        "webhook-trigger-payload/30-digit-id",
        "post",
        lambda w: f"/portal/settings/webhooks/{ID_30}/trigger-payload",
        {"include_trigger_payload": "false"},
        404,
    ),
    Case(
        "webhook-redeliver/30-digit-id",
        "post",
        lambda w: f"/portal/settings/webhooks/deliveries/{ID_30}/redeliver",
        status=404,
    ),
    Case(
        "execution-detail/30-digit-id",
        "get",
        lambda w: f"/portal/automations/{w.rule.pk}/executions/{ID_30}",
        status=404,
    ),
    Case("rule-detail/nul-id", "get", lambda w: "/portal/automations/automation_x%00", status=404),
    Case("builder-edit/nul-id", "post", lambda w: "/portal/automations/builder/x%00", VALID_POST, 404),
    Case("detail-run/nul-id", "post", lambda w: "/portal/automations/x%00/run", {"sample_context": "{}"}, 404),
    Case("tenant-switch/nul-id", "post", lambda w: "/portal/tenant", {"tenant": NUL}, 404),
]
TEXT_CASES = [
    Case(
        "approval-reject/nul-reason",
        "post",
        lambda w: f"/portal/approvals/{w.approval.pk}/reject",
        {"reason": NUL},
        shows=("reason", NUL_MESSAGE),
        as_council=True,
    ),
    Case(
        "webhook-create/nul-url",
        "post",
        lambda w: "/portal/settings/webhooks/new",
        {"url": "https://hooks.example.com/" + NUL},
        shows=(NUL_MESSAGE,),
    ),
    Case(
        "webhook-create/nul-description",
        "post",
        lambda w: "/portal/settings/webhooks/new",
        {"url": "https://hooks.example.com/x", "description": NUL},
        shows=(NUL_MESSAGE,),
    ),
]
CASES = [*_rule_cases(), *_context_cases(), *ID_CASES, *TEXT_CASES]


@pytest.fixture
def world(tenant, owner, council_member) -> World:
    from executions.services import execute_rule_manually

    rule = make_rule(tenant, owner)
    critical = make_rule(tenant, owner, name="Critical Alert", risk_level="critical")
    execution = execute_rule_manually(critical, {"store_status": "active", "product_count": 2}, owner)
    endpoint = endpoint_create(tenant, "https://hooks.example.com/c").endpoint
    delivery = WebhookDelivery.objects.create(
        tenant=tenant,
        execution=execution,
        endpoint=endpoint,
        webhook_id="msg_1",
        status=DeliveryStatus.FAILED,
        next_attempt_at=None,
    )
    notification = Notification.objects.create(
        tenant=tenant, user=owner, kind=NotificationKind.EXECUTION_FAILED, title="Something failed"
    )
    make_user("dave", tenant, "viewer")  # a second tenant member: rows to leave alone
    return World(owner, council_member, rule, execution.approval_request, endpoint, delivery, notification)


def _rows(world: World) -> tuple[Any, ...]:
    """Everything a refused request might have written."""
    world.rule.refresh_from_db()
    world.endpoint.refresh_from_db()
    world.delivery.refresh_from_db()
    world.approval.refresh_from_db()
    return (
        AutomationRule.all_objects.count(),
        RuleVersion.objects.count(),
        AutomationExecution.objects.count(),
        WebhookEndpoint.objects.count(),
        Notification.objects.filter(read_at__isnull=True).count(),
        (world.rule.name, world.rule.version, world.rule.conditions, world.rule.auto_approval_rules),
        (world.endpoint.secret, world.delivery.status, world.approval.status),
    )


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_is_refused_at_its_field_and_writes_nothing(case: Case, world: World) -> None:
    # given
    client = Client()
    client.force_login(world.council if case.as_council else world.owner)
    data = case.data(world) if callable(case.data) else case.data
    before = _rows(world)
    # when
    response = getattr(client, case.method)(case.url(world), data)
    # then
    assert response.status_code == case.status, response.content[:2000]
    page = html.unescape(response.content.decode())
    for text in case.shows:
        assert text in page, text
    assert _rows(world) == before


def test_the_table_covers_every_surface_and_kind() -> None:
    surfaces = {case.name.split("/")[0] for case in CASES}
    assert surfaces >= {
        "builder-new",
        "builder-edit",
        "builder-summary",
        "builder-test",
        "detail-test",
        "detail-run",
        "notification-read",
        "approval-approve",
        "approval-reject",
        "webhook-create",
        "webhook-rotate",
        "webhook-redeliver",
    }
    kinds = " ".join(case.name for case in CASES)
    for kind in ("nul", "surrogate", "1e400", "nan", "400-digit", "5000-digit", "30-digit-id"):
        assert kind in kinds, kind
