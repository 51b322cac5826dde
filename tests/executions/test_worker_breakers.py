"""Circuit breakers and chain loop protection on a real Celery worker (Redis broker) and real HTTP sinks.

(a) a rule whose receiver answers 400 is paused after N failures in a row, once, with one notice; enabling it
    through the API resumes it and resets the count;
(b) an endpoint that keeps failing is marked unhealthy and its deliveries back off while another endpoint's
    deliveries go on;
(c) two rules whose commands' receivers emit the events that trigger each other: the second pass of the first
    rule for the same product is refused with the reason.
"""

from __future__ import annotations

import json

import pytest

from automations.choices import RuleStateChangeKind
from automations.models import RuleStateChange
from executions.choices import ExecutionStatus, FailureKind, NotificationKind
from executions.delivery.models import WebhookDelivery, WebhookEndpoint
from executions.delivery.services import endpoint_create
from executions.models import AutomationExecution, MetricSample, Notification
from executions.services import emit_event
from tests.api import post_json, token_client
from tests.executions.conftest import make_event_rule
from tests.executions.delivery.sink import Reply, Sink, assert_webhooks_verified
from tests.executions.workers import Broker, app_on_broker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKER_ENV = {"AUTOMATIONS_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true"}


@pytest.fixture
def worker(tmp_path, transactional_db, settings):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True}
    broker = Broker("redis", tmp_path)
    broker.purge()
    started = []

    def start(env: dict[str, str] | None = None):
        process = broker.worker({**WORKER_ENV, **(env or {})}).start()
        started.append(process)
        process.wait_ready()
        return process

    with app_on_broker(broker.url, broker.transport_options):
        yield start
        for process in started:
            process.stop()
    broker.purge()


@pytest.fixture
def second_sink():
    server = Sink().start()
    yield server
    server.close()
    assert_webhooks_verified(server)


def statuses(rule) -> list[str]:
    return list(
        AutomationExecution.objects.filter(automation_rule=rule).order_by("id").values_list("status", flat=True)
    )


def emit(tenant, payload=None, event_type="product_added", **kwargs) -> int:
    return emit_event(tenant.pk, event_type, payload or {"product_id": "p_1"}, source="store", **kwargs).id


def test_a_failing_rule_is_paused_once_and_the_api_resumes_it(tenant, owner, sink, worker):
    # given: a breaker at 3 and a receiver that refuses every command
    tenant.rule_breaker_failures = 3
    tenant.save(update_fields=["rule_breaker_failures"])
    MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")
    rule = make_event_rule(tenant, owner)
    endpoint_create(tenant, sink.url())
    sink.default = Reply(status=400, body=b"unknown template")
    process = worker()

    # when: three runs fail, one after the other
    for count in range(1, 4):
        emit(tenant)
        wait_for(lambda n=count: statuses(rule).count(ExecutionStatus.FAILED) == n, 60, message=process.log())

    # then: paused once, by the system, with one notice to its creator
    rule.refresh_from_db()
    wait_for(lambda: Notification.objects.filter(kind=NotificationKind.RULE_PAUSED).exists(), 30)
    assert (rule.enabled, rule.consecutive_failures, rule.paused_by_breaker) == (False, 3, True)
    assert "failed 3 times in a row" in rule.paused_reason and "answered 400 Bad Request" in rule.paused_reason
    assert list(RuleStateChange.objects.filter(rule=rule).values_list("kind", flat=True)) == ["paused"]
    notices = Notification.objects.filter(kind=NotificationKind.RULE_PAUSED)
    assert list(notices.values_list("user_id", flat=True)) == [owner.pk]

    # and a fourth event runs nothing
    fourth = emit(tenant)
    wait_for(lambda: AutomationExecution.objects.filter(event_id=fourth).count() == 0 and _dispatched(fourth), 30)
    assert len(statuses(rule)) == 3

    # when: the owner enables it through the API and the receiver accepts again
    response = post_json(token_client(owner), f"/api/automations/{rule.pk}/enable")
    assert response.status_code == 200, response.content
    sink.default = Reply(status=200)
    emit(tenant)

    # then: it runs and succeeds, its count reset
    wait_for(lambda: ExecutionStatus.SUCCEEDED in statuses(rule), 60, message=process.log())
    rule.refresh_from_db()
    assert (rule.enabled, rule.consecutive_failures, rule.paused_at, rule.paused_reason) == (True, 0, None, "")
    kinds = list(RuleStateChange.objects.filter(rule=rule).order_by("id").values_list("kind", flat=True))
    assert kinds == [RuleStateChangeKind.PAUSED, RuleStateChangeKind.ENABLED]
    assert notices.count() == 1


def _dispatched(event_id: int) -> bool:
    from executions.models import Event

    return Event.objects.filter(pk=event_id, dispatched_at__isnull=False).exists()


def test_an_unhealthy_endpoint_backs_off_while_another_endpoints_deliveries_continue(
    tenant, owner, sink, second_sink, worker
):
    # given: one rule delivering to two endpoints; the first answers 503, the second 200
    MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")
    rule = make_event_rule(tenant, owner)
    failing = endpoint_create(tenant, sink.url("/down")).endpoint
    healthy = endpoint_create(tenant, second_sink.url("/fine")).endpoint
    sink.default = Reply(status=503, body=b"down")
    process = worker({"AUTOMATIONS_WEBHOOK_UNHEALTHY_AFTER": "2", "AUTOMATIONS_WEBHOOK_UNHEALTHY_RETRY_SECONDS": "600"})

    # when: runs come one after the other
    for count in range(1, 6):
        emit(tenant, {"product_id": f"p_{count}"})
        wait_for(lambda n=count: len(second_sink.requests) == n, 60, message=process.log())
        wait_for(lambda n=count: WebhookDelivery.objects.filter(endpoint=failing).count() == n, 30)
        # the failures counted (after their commit) before the next run reads the endpoint
        wait_for(lambda n=count: WebhookEndpoint.objects.get(pk=failing.pk).consecutive_failures == min(n, 2), 30)

    # then: the failing endpoint got two POSTs and is unhealthy; its other deliveries wait, stored, unsent;
    # the healthy endpoint got every one
    wait_for(lambda: WebhookEndpoint.objects.get(pk=failing.pk).unhealthy_since is not None, 30)
    assert len(sink.requests) == 2
    assert len(second_sink.requests) == 5
    unsent = WebhookDelivery.objects.filter(endpoint=failing, attempt_count=0)
    assert unsent.count() == 3
    wait_for(lambda: WebhookDelivery.objects.filter(endpoint=healthy, status="succeeded").count() == 5, 30)
    healthy.refresh_from_db()
    assert (healthy.consecutive_failures, healthy.unhealthy_since) == (0, None)
    # each execution waits retrying for its delivery to the unhealthy endpoint
    wait_for(lambda: set(statuses(rule)) == {ExecutionStatus.RETRYING}, 30)


def test_two_rules_that_trigger_each_other_are_refused_on_the_second_pass(tenant, owner, sink, worker):
    # given: rule A answers product_added, rule B product_updated; the receiver, like a platform would,
    # emits the follow-up event of each command it gets, caused by that command's execution
    MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")
    a = make_event_rule(tenant, owner, name="A: restock")
    b = make_event_rule(
        tenant, owner, name="B: retag", trigger_config={"event_type": "product_updated", "source": "store"}
    )
    endpoint_create(tenant, sink.url())
    process = worker()
    follow_up = {a.pk: "product_updated", b.pk: "product_added"}
    handled = 0

    def receiver_emits() -> bool:
        nonlocal handled
        for request in list(sink.requests)[handled:]:
            data = json.loads(request.body)["data"]
            emit(
                tenant,
                {"product_id": "p_9"},
                event_type=follow_up[data["rule_id"]],
                caused_by_execution_id=data["execution_id"],
            )
            handled += 1
        return AutomationExecution.objects.filter(automation_rule=a, status=ExecutionStatus.BLOCKED).exists()

    # when: the first event starts the chain
    emit(tenant, {"product_id": "p_9"})
    wait_for(receiver_emits, 90, interval=0.2, message=process.log())

    # then: A ran, B ran, and A's second pass for the same product was refused naming its first run
    first_a, again = AutomationExecution.objects.filter(automation_rule=a).order_by("id")
    (only_b,) = AutomationExecution.objects.filter(automation_rule=b)
    assert (first_a.status, only_b.status) == (ExecutionStatus.SUCCEEDED, ExecutionStatus.SUCCEEDED)
    assert (again.status, again.failure_kind) == (ExecutionStatus.BLOCKED, FailureKind.CHAIN_LOOP)
    assert f"already ran for product_id p_9 earlier in this chain of actions, as execution #{first_a.pk}" in (
        again.error_message
    )
    assert len(sink.requests) == 2  # the loop stopped: no third command
