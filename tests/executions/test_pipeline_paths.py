"""The pipeline has one path: executions run one at a time record exactly what the same executions run as
one batch record (issue 13). Hypothesis generates mixes of trigger types, action kinds (command kinds and
the in-process send_notification), 0-3 webhook endpoints answering 200, 500, 410 or not in time (real
local HTTP sinks), rules that need approval or not and conditions met or not; each mix is built twice,
in tenants of its own (a 410 disables its endpoint, so no item may share one), and run once item by item
(``run_execution``; approved ones ``execution_run_action``) and once as one batch (``run_executions``).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automations.models import AutomationRule
from executions.choices import ExecutionStatus, TriggerSource
from executions.delivery.models import WebhookDelivery
from executions.delivery.services import endpoint_create
from executions.models import ApprovalRequest, AutomationExecution, MetricSample, Notification
from executions.pipeline import (
    TriggerRequest,
    execution_run_action,
    executions_create,
    run_execution,
    run_executions,
)
from executions.services import execution_approve
from tests.executions.conftest import EVENT_RULE
from tests.executions.delivery.sink import Reply, Sink, assert_webhooks_verified
from tests.factories import make_rule, make_tenant, make_user

pytestmark = pytest.mark.django_db(transaction=False)

TRIGGERS = [
    TriggerSource.EVENT,
    TriggerSource.SCHEDULER,
    TriggerSource.THRESHOLD,
    TriggerSource.BEHAVIOR,
    TriggerSource.MANUAL,
]
KINDS = {
    "add_product": {"template_id": "holiday_product", "count": 2, "category": "seasonal"},
    "update_store": {"settings": {"theme": "winter"}},
    "send_notification": {"recipients": ["owner"], "message": "Low stock"},
}
ANSWERS = ["ok", "error", "gone", "timeout"]

item = st.fixed_dictionaries(
    {
        "trigger": st.sampled_from(TRIGGERS),
        "kind": st.sampled_from(sorted(KINDS)),
        "endpoints": st.lists(st.sampled_from(ANSWERS), max_size=3),
        "approval": st.booleans(),
        "conditions_met": st.booleans(),
    }
)
mixes = st.lists(item, min_size=1, max_size=4)
_serial = itertools.count()


@pytest.fixture
def sinks():
    """One real HTTP sink per answer: 200, 500, 410 Gone, and one that answers after the read timeout."""
    servers = {name: Sink().start() for name in ANSWERS}
    servers["error"].default = Reply(status=500)
    servers["gone"].default = Reply(status=410)
    servers["timeout"].default = Reply(delay=1.0)
    yield servers
    for server in servers.values():
        server.close()
    assert_webhooks_verified(*servers.values())


@pytest.fixture
def short_webhooks(settings):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True}
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_CONNECT_TIMEOUT": 1.0}
    # Short, so the "timeout" sink (1 s) costs little, yet long enough that a loaded machine's prompt answer
    # (the 410 sink's, under CI's two lanes) is not taken for a timeout in one path and not the other; and
    # well within the batch's wait for its POSTs, so no answer is recorded late in one path only.
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_READ_TIMEOUT": 0.5}
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_TOTAL_TIMEOUT": 0.6}
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_INLINE_WAIT": 2.0}
    return settings


def build(mix: list[dict[str, Any]], sinks: dict[str, Sink], label: str) -> list[dict[str, Any]]:
    """Each item in a tenant of its own: owner, council member, the store's status, endpoints, the rule,
    and its pending execution (logged by the pipeline's one create step)."""
    built = []
    for index, spec in enumerate(mix):
        name = f"drift{next(_serial)}{label}{index}"
        tenant = make_tenant(name, name=name)
        owner = make_user(f"{name}_owner", tenant, "owner")
        council = make_user(f"{name}_council", tenant, "council")
        status = "active" if spec["conditions_met"] else "closed"
        MetricSample.objects.create(tenant=tenant, metric="store_status", value_text=status)
        for answer in spec["endpoints"]:
            endpoint_create(tenant, sinks[answer].url(f"/{name}"))
        rule = make_rule(
            tenant,
            owner,
            **{
                **EVENT_RULE,
                "action_type": spec["kind"],
                "action_config": KINDS[spec["kind"]],
                "risk_level": "high" if spec["approval"] else "low",
            },
        )
        manual = spec["trigger"] == TriggerSource.MANUAL
        key = None if manual else f"{spec['trigger']}:{name}"
        request = TriggerRequest(rule, spec["trigger"], {"n": index}, key, actor_id=owner.pk if manual else None)
        (execution,) = executions_create([request])
        built.append({"execution_id": execution.pk, "rule": rule, "council": council})
    return built


def approve_waiting(built: list[dict[str, Any]]) -> list[int]:
    approved = []
    for entry in built:
        execution = AutomationExecution.objects.get(pk=entry["execution_id"])
        if execution.status == ExecutionStatus.AWAITING_APPROVAL:
            execution_approve(execution, entry["council"])
            approved.append(execution.pk)
    return approved


DROPPED = {"execution_id", "automation_rule_id", "tenant_id", "id", "idempotency_key", "webhook_id", "timestamp"}


def scrub(value: Any) -> Any:
    """A recorded value without what differs between two equal runs: ids, times, user ids."""
    if isinstance(value, dict):
        return {
            key: (len(item) if key == "recipient_user_ids" else scrub(item))
            for key, item in sorted(value.items())
            if key not in DROPPED and not key.endswith("_at") and not key.endswith("user_id")
        }
    if isinstance(value, list):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return re.sub(r"(delivery |execution_|#)\d+", r"\1N", value)
    return value


def recorded(entry: dict[str, Any]) -> dict[str, Any]:
    """What the pipeline recorded for one item: the execution, its deliveries and attempts, the rule's
    totals, its approval request and notifications."""
    execution = AutomationExecution.objects.get(pk=entry["execution_id"])
    rule = AutomationRule.all_objects.get(pk=entry["rule"].pk)
    deliveries = WebhookDelivery.objects.filter(execution=execution).order_by("endpoint_id")
    request = ApprovalRequest.objects.filter(execution=execution).first()
    return {
        "status": execution.status,
        "success": execution.success,
        "required_approval": execution.required_approval,
        "conditions_met": execution.conditions_met,
        "condition_results": scrub(execution.condition_results),
        "governance": scrub(execution.governance_decision),
        "action_attempts": execution.action_attempts,
        "action_result": scrub(execution.action_result),
        "error_message": scrub(execution.error_message),
        "started": execution.action_started_at is not None,
        "completed": execution.action_completed_at is not None,
        "next_attempt": execution.next_attempt_at is not None,
        "timed": execution.execution_time_ms is not None and execution.execution_time_ms >= 0,
        "deliveries": [
            (
                d.status,
                d.attempt_count,
                d.last_status_code,
                d.endpoint.enabled,
                d.webhook_id == f"execution_{execution.pk}",
                [a.outcome for a in d.attempts.order_by("attempt_number")],
            )
            for d in deliveries
        ],
        "totals": (rule.execution_count, rule.success_count, rule.failure_count),
        "approval": request.status if request is not None else None,
        "notifications": sorted(
            Counter(Notification.objects.filter(execution=execution).values_list("kind", flat=True)).items()
        ),
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mix=mixes)
def test_one_at_a_time_and_one_batch_record_the_same(mix, sinks, short_webhooks, django_capture_on_commit_callbacks):
    # given: the same mix twice, each item in a tenant of its own
    single = build(mix, sinks, "s")
    batch = build(mix, sinks, "b")

    # when: one path item by item, the other as one batch (what each queues on commit runs too: due
    # retries, settling deliveries); then the approved ones the same way
    for entry in single:
        with django_capture_on_commit_callbacks(execute=True):
            run_execution(entry["execution_id"])
    with django_capture_on_commit_callbacks(execute=True):
        run_executions([entry["execution_id"] for entry in batch])
    for execution_id in approve_waiting(single):
        with django_capture_on_commit_callbacks(execute=True):
            execution_run_action(execution_id)
    approved = approve_waiting(batch)
    with django_capture_on_commit_callbacks(execute=True):
        run_executions(approved)

    # then: every item recorded the same, field by field, and every item went past pending
    for spec, one, many in zip(mix, single, batch, strict=True):
        assert recorded(one) == recorded(many), spec
        row = recorded(one)
        assert row["status"] != ExecutionStatus.PENDING, spec
        if not spec["conditions_met"]:
            assert row["status"] == ExecutionStatus.SKIPPED and row["action_attempts"] == 0, spec
        else:
            assert row["action_attempts"] == 1 and row["started"], spec
            assert len(row["deliveries"]) == len(spec["endpoints"]), spec
            assert all(webhook_id_ok for *_, webhook_id_ok, _attempts in row["deliveries"]), spec


def test_execution_time_is_each_items_own_action_time_in_a_batch(
    tenant, owner, active_store, sink, other_sink, loopback_allowed
):
    # given: two executions in one batch, one delivered to a receiver that answers at once, one to a slow one
    # (within the batch's wait for its POSTs)
    loopback_allowed.AUTOMATIONS = {**loopback_allowed.AUTOMATIONS, "WEBHOOK_INLINE_WAIT": 5}
    sink.default = Reply()
    other_sink.default = Reply(delay=0.6)
    fast_rule = make_rule(tenant, owner, **{**EVENT_RULE, "name": "fast", "action_type": "add_product"})
    slow_rule = make_rule(
        tenant,
        owner,
        **{**EVENT_RULE, "name": "slow", "action_type": "update_store", "action_config": KINDS["update_store"]},
    )
    endpoint_create(tenant, sink.url(), action_type="add_product")
    endpoint_create(tenant, other_sink.url(), action_type="update_store")
    fast, slow = executions_create(
        [
            TriggerRequest(fast_rule, TriggerSource.EVENT, {}, "event:1"),
            TriggerRequest(slow_rule, TriggerSource.EVENT, {}, "event:2"),
        ]
    )

    # when
    run_executions([fast.pk, slow.pk])

    # then: the fast one is not charged for the slow one's POST (loose bounds: the delay is 600 ms)
    fast.refresh_from_db()
    slow.refresh_from_db()
    assert (fast.status, slow.status) == (ExecutionStatus.SUCCEEDED, ExecutionStatus.SUCCEEDED)
    assert slow.execution_time_ms >= 500
    assert fast.execution_time_ms < 400


def run_and_deliver(execution, config, deliver):
    """An in-process kind (a host's, through settings) that does its own work and delivers a command."""
    result = deliver({"command": "custom.run", "template_id": config["template_id"]})
    result.data["ran_in_process"] = True
    return result


def test_an_in_process_kind_runs_in_a_batch_and_delivers_through_the_pipeline(
    tenant, owner, active_store, sink, loopback_allowed, settings
):
    # given: add_product replaced by an in-process run, and an endpoint for it
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "ACTION_HANDLERS": {"add_product": f"{__name__}.run_and_deliver"}}
    rule = make_rule(tenant, owner, **EVENT_RULE)
    endpoint_create(tenant, sink.url())
    executions = executions_create([TriggerRequest(rule, TriggerSource.EVENT, {}, f"event:{n}") for n in range(3)])

    # when: they run as one batch
    run_executions([execution.pk for execution in executions])

    # then: the run was called for each (never skipped) and its command went out under each webhook-id
    for execution in executions:
        execution.refresh_from_db()
        assert execution.status == ExecutionStatus.SUCCEEDED, execution.error_message
        assert execution.action_result["ran_in_process"] is True
        assert execution.action_result["command"] == {"command": "custom.run", "template_id": "holiday_product"}
    assert sorted(r.headers["webhook-id"] for r in sink.requests) == sorted(f"execution_{e.pk}" for e in executions)
