"""A receiver that hangs holds up no one else (issue 14, item 9): a pipeline batch waits for its webhook
POSTs at most AUTOMATIONS["WEBHOOK_INLINE_WAIT"], and at most AUTOMATIONS["WEBHOOK_ENDPOINT_CONCURRENCY"] POSTs
go to one endpoint at once; the POSTs still running record their own attempts when they answer."""

from __future__ import annotations

import pytest
from django.utils import timezone

from executions.choices import DeliveryStatus, ExecutionStatus
from executions.delivery.models import WebhookDelivery
from executions.delivery.services import send_due_deliveries
from executions.delivery.services.deliveries import _lanes
from executions.delivery.services.endpoints import endpoint_create
from executions.models import AutomationExecution, MetricSample
from executions.services import emit_event, emit_events
from tests.executions.conftest import make_event_rule
from tests.executions.delivery.conftest import make_execution
from tests.executions.delivery.sink import Reply
from tests.executions.delivery.test_services import new_delivery
from tests.executions.workers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def statuses(tenant) -> list[str]:
    return list(AutomationExecution.objects.filter(tenant=tenant).values_list("status", flat=True))


def test_a_hanging_receiver_of_one_tenant_holds_up_no_other_tenant(
    tenant, other_tenant, owner, other_owner, sink, other_sink, loopback_allowed, eager_celery
):
    # given tenant A's receiver, which answers only when released, and tenant B's, which answers at once
    settings = loopback_allowed
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_INLINE_WAIT": 0.3}
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_ENDPOINT_CONCURRENCY": 2}
    for shop, user in ((tenant, owner), (other_tenant, other_owner)):
        MetricSample.objects.create(tenant=shop, metric="store_status", value_text="active")
        make_event_rule(shop, user)
    hanging = endpoint_create(tenant, sink.url(), action_type="add_product").endpoint
    endpoint_create(other_tenant, other_sink.url(), action_type="add_product")
    sink.default = Reply(delay=60)

    try:
        # when tenant A posts five events (matched and run at once, tasks running eagerly)
        emit_events(
            [
                {"tenant_id": tenant.pk, "event_type": "product_added", "source": "store", "idempotency_key": f"a{n}"}
                for n in range(5)
            ]
        )
        # then the call came back while A's receiver still holds its POSTs: two at a time, three waiting
        assert statuses(tenant) == [ExecutionStatus.RETRYING] * 5
        assert sink.wait_for_requests(2, timeout=10)
        assert _lanes().in_flight(hanging.pk) == 2 and len(sink.requests) == 2

        # and tenant B's event is delivered at once, while A's receiver hangs
        emit_event(other_tenant.pk, "product_added", {}, source="store")
        assert statuses(other_tenant) == [ExecutionStatus.SUCCEEDED]
        assert len(other_sink.requests) == 1
    finally:
        # when A's receiver answers, its POSTs record themselves and settle A's executions, one lane at a time
        sink.released.set()

    wait_for(lambda: statuses(tenant) == [ExecutionStatus.SUCCEEDED] * 5, timeout=30, message="A's late answers")
    assert len(sink.requests) == 5
    assert {execution.action_result["delivery"] for execution in AutomationExecution.objects.filter(tenant=tenant)} == {
        "delivered"
    }
    wait_for(lambda: _lanes().in_flight(hanging.pk) == 0, timeout=10, message="A's lane to empty")


def test_the_delivery_sweep_sends_other_endpoints_beside_a_hanging_one(
    tenant, other_tenant, owner, other_owner, sink, other_sink, loopback_allowed
):
    # given retries due for tenant A's receiver, which hangs, queued before tenant B's
    settings = loopback_allowed
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_ENDPOINT_CONCURRENCY": 1}
    hanging = endpoint_create(tenant, sink.url(), action_type="add_product").endpoint
    healthy = endpoint_create(other_tenant, other_sink.url(), action_type="add_product").endpoint
    sink.default = Reply(delay=60)
    a_rule, b_rule = make_event_rule(tenant, owner), make_event_rule(other_tenant, other_owner)
    a_deliveries = [new_delivery(make_execution(a_rule), hanging) for _ in range(3)]
    b_deliveries = [new_delivery(make_execution(b_rule), healthy) for _ in range(2)]

    try:
        # when the sweep runs, waiting a moment for the answers
        counts = send_due_deliveries(timezone.now(), wait_seconds=0.5)

        # then B's deliveries went out beside A's (sequentially they would wait behind three hanging POSTs)
        assert (counts.due, counts.attempted, counts.succeeded, counts.in_flight) == (5, 5, 2, 3)
        assert {d.status for d in WebhookDelivery.objects.filter(endpoint=healthy)} == {DeliveryStatus.SUCCEEDED}
        assert len(other_sink.requests) == 2
        # and A's receiver holds one POST at a time (its lane), never the sweep
        assert sink.wait_for_requests(1, timeout=10)
        assert _lanes().in_flight(hanging.pk) == 1 and len(sink.requests) == 1
    finally:
        sink.released.set()

    # when A's receiver answers, each POST records its own attempt, one after the other in A's lane
    def a_statuses() -> set[str]:
        return {d.status for d in WebhookDelivery.objects.filter(pk__in=[d.pk for d in a_deliveries])}

    wait_for(lambda: a_statuses() == {DeliveryStatus.SUCCEEDED}, timeout=30, message="A's late answers")
    assert len(sink.requests) == 3
    assert [d.attempts.count() for d in WebhookDelivery.objects.filter(pk__in=[d.pk for d in b_deliveries])] == [1, 1]
