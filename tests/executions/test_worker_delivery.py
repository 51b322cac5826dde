"""Webhook delivery under faults, on real Celery worker processes and a real local HTTP sink.

(a) 200 webhook executions; the worker is killed with kill -9 while 20-80% have reached the sink; a new
    worker and the sweepers finish: every execution delivered at least once, one webhook-id per
    execution, none lost, none recorded as succeeded twice.
(b) a Redis server this test starts on its own port is stopped during ingestion through POST /api/events
    and started again: the API keeps answering 202, and every event is processed without a worker restart.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict

import pytest
from django.db.models import Count, Q
from rest_framework.test import APIClient

from automations.conf import app_settings
from executions import task_names
from executions.choices import AttemptOutcome, ExecutionStatus
from executions.delivery.models import DeliveryAttempt, WebhookDelivery
from executions.delivery.services import endpoint_create
from executions.dispatch import publish, reset_broker_state
from executions.models import AutomationExecution, Event, MetricSample
from executions.services import emit_events
from tests.executions.conftest import make_event_rule
from tests.executions.delivery.sink import Reply, Sink
from tests.executions.test_worker_recovery import RedisServer
from tests.executions.workers import Broker, WorkerProcess, app_on_broker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Short leases so a killed worker's work comes back within the test; task limits stay below the lease,
# the webhook claim lease above the webhook timeouts (as in production, scaled down).
FAULT_ENV = {
    "AUTOMATIONS_EXECUTION_LEASE_SECONDS": "6",
    "CELERY_TASK_SOFT_TIME_LIMIT": "4",
    "CELERY_TASK_TIME_LIMIT": "5",
    "AUTOMATIONS_SWEEP_AFTER_SECONDS": "3",
    "AUTOMATIONS_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
    "AUTOMATIONS_WEBHOOK_CONNECT_TIMEOUT": "1",
    "AUTOMATIONS_WEBHOOK_READ_TIMEOUT": "2",
    "AUTOMATIONS_WEBHOOK_TOTAL_TIMEOUT": "2",
    "AUTOMATIONS_WEBHOOK_CLAIM_LEASE": "4",
}


@pytest.fixture
def platform(tenant, owner, sink, settings):
    """An active store, an add_product rule on product_added, and an endpoint for every action at the sink."""
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True}
    MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")
    rule = make_event_rule(tenant, owner)
    created = endpoint_create(tenant, sink.url())
    return rule, created


def sweep() -> None:
    """What beat does: the outbox, the leases and the due deliveries."""
    publish(task_names.SWEEP_OUTBOX)
    publish(task_names.SWEEP_LEASES)
    publish(task_names.SEND_DUE_DELIVERIES)


def delivered_execution_ids(sink: Sink) -> dict[int, set[str]]:
    """execution id -> the webhook-ids the sink received for it (a request whose body a kill -9 cut short
    is not a delivery: a receiver could not verify its signature)."""
    seen: dict[int, set[str]] = defaultdict(set)
    for request in list(sink.requests):
        if len(request.body) < int(request.headers.get("content-length") or 0):
            continue
        seen[json.loads(request.body)["data"]["execution_id"]].add(request.headers["webhook-id"])
    return seen


def test_a_worker_killed_mid_delivery_loses_no_webhook(tenant, platform, sink, tmp_path, settings):
    rule, _ = platform
    sink.default = Reply(delay=0.03)
    total = 200
    broker = Broker("redis", tmp_path)
    broker.purge()
    workers: list[WorkerProcess] = []
    try:
        with app_on_broker(broker.url, broker.transport_options):
            first = broker.worker(FAULT_ENV, name="first").start()
            workers.append(first)
            first.wait_ready()
            for _batch in range(4):
                emit_events(
                    [
                        {"tenant_id": tenant.pk, "event_type": "product_added", "source": "store"}
                        for _ in range(total // 4)
                    ]
                )

            # when: kill -9 once a fifth of the webhooks reached the sink
            wait_for(lambda: len(sink.requests) >= total * 0.2, timeout=90, interval=0.01, message="20% delivered")
            first.kill()
            delivered_at_kill = len(delivered_execution_ids(sink))
            assert total * 0.2 <= delivered_at_kill <= total * 0.8, f"killed at {delivered_at_kill}/{total}"

            # and a new worker takes over, with the sweepers running as beat would
            second = broker.worker(FAULT_ENV, name="second").start()
            workers.append(second)
            second.wait_ready()

            def finished() -> bool:
                sweep()
                time.sleep(1.0)
                return (
                    AutomationExecution.objects.filter(automation_rule=rule, status=ExecutionStatus.SUCCEEDED).count()
                    == total
                )

            wait_for(finished, timeout=90, interval=0.1, message=f"all executions delivered\n{second.log()}")
    finally:
        for worker in workers:
            worker.stop()
        broker.purge()

    # then: every execution delivered at least once, each under its own single webhook-id
    executions = list(AutomationExecution.objects.filter(automation_rule=rule).values_list("pk", flat=True))
    assert len(executions) == total
    seen = delivered_execution_ids(sink)
    assert set(seen) == set(executions)
    assert all(ids == {f"execution_{pk}"} for pk, ids in seen.items())
    # none lost, none counted twice: one delivery per execution, exactly one successful attempt each
    assert WebhookDelivery.objects.count() == total
    successes = WebhookDelivery.objects.annotate(
        n=Count("attempts", filter=Q(attempts__outcome=AttemptOutcome.SUCCEEDED))
    ).values_list("n", flat=True)
    assert set(successes) == {1}
    rule.refresh_from_db()
    assert (rule.execution_count, rule.success_count, rule.failure_count) == (total, total, 0)
    # a receiver saw a repeat only for a request the kill interrupted (2 worker processes, each with up to
    # one batch of POSTs in flight), or on a claim that outlived its lease on this loaded machine, and
    # always with the same webhook-id (asserted above)
    repeats = len(sink.requests) - total
    assert 0 <= repeats <= 2 * app_settings.PIPELINE_BATCH_SIZE + 10, repeats
    assert DeliveryAttempt.objects.filter(outcome=AttemptOutcome.IN_FLIGHT).count() == 0


def test_ingestion_keeps_accepting_while_redis_is_down_and_everything_is_processed(
    tenant, owner, platform, sink, tmp_path
):
    rule, _ = platform
    staff = owner
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    api = APIClient()
    api.force_authenticate(staff)
    redis_server = RedisServer(tmp_path)  # on a port of its own
    worker = WorkerProcess(
        redis_server.url, None, tmp_path / "worker.log", {**FAULT_ENV, "AUTOMATIONS_SWEEP_AFTER_SECONDS": "2"}
    )
    statuses: list[int] = []
    event_ids: list[int] = []

    def post(count: int) -> None:
        for _ in range(count):
            response = api.post(
                "/api/events",
                {"tenant_id": tenant.pk, "event_type": "product_added", "source": "store"},
                format="json",
            )
            statuses.append(response.status_code)
            if response.status_code == 202:
                event_ids.append(response.json()["events"][0]["id"])

    try:
        redis_server.start()
        with app_on_broker(redis_server.url):
            worker.start()
            worker.wait_ready()
            post(10)
            # when Redis stops in the middle of ingestion
            redis_server.stop()
            thread = threading.Thread(target=post, args=(20,), daemon=True)
            thread.start()
            thread.join(timeout=60)
            assert not thread.is_alive(), "POST /api/events hung while Redis was down"
            redis_server.start()
            reset_broker_state()
            time.sleep(1)
            post(10)

            # then everything is processed by the same worker, the sweepers draining the outage backlog
            def processed() -> bool:
                publish(task_names.SWEEP_OUTBOX)
                time.sleep(1)
                return (
                    AutomationExecution.objects.filter(event_id__in=event_ids, status=ExecutionStatus.SUCCEEDED).count()
                    == 40
                )

            wait_for(processed, timeout=60, interval=0.5, message=f"every event processed\n{worker.log()}")
            assert worker.process is not None and worker.process.poll() is None, worker.log()
    finally:
        worker.stop()
        redis_server.stop()

    assert statuses == [202] * 40
    assert len(set(event_ids)) == 40
    assert not Event.objects.filter(pk__in=event_ids, dispatched_at__isnull=True).exists()
    assert len(delivered_execution_ids(sink)) == 40
    rule.refresh_from_db()
    assert rule.success_count == 40
