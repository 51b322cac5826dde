"""A receiver that hangs holds up no one else (issue 14, item 9): a pipeline batch waits for its webhook
POSTs at most AUTOMATIONS["WEBHOOK_INLINE_WAIT"], and at most AUTOMATIONS["WEBHOOK_ENDPOINT_CONCURRENCY"] POSTs
go to one endpoint at once; the POSTs still running record their own attempts when they answer."""

from __future__ import annotations

import pytest

from executions.choices import ExecutionStatus
from executions.delivery.services.deliveries import _lanes
from executions.delivery.services.endpoints import endpoint_create
from executions.models import AutomationExecution, MetricSample
from executions.services import emit_event, emit_events
from tests.executions.conftest import make_event_rule
from tests.executions.delivery.sink import Reply
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
