"""The pipeline on real Celery worker processes, on Redis and on the embedded filesystem broker.

Each test starts ``celery -A config worker`` subprocesses against the test database; this process
publishes through the same broker (eager mode off) and drives the API and the admin in-process.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django.db.models import Count
from django.test import Client
from rest_framework.test import APIClient

from executions import task_names
from executions.choices import ENDED_STATUSES, OPEN_STATUSES, ExecutionStatus
from executions.dispatch import publish
from executions.models import ApprovalRequest, AutomationExecution, Event, MetricSample
from executions.services import ExecutionConflict, emit_event, emit_events, execution_approve
from tests.executions.conftest import make_event_rule
from tests.executions.workers import Broker, app_on_broker, race, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Short lease and sweep windows so a killed worker's work comes back within the test; the task time
# limits stay below the lease, as in production.
FAST_RECOVERY_ENV = {
    "AUTOMATIONS_EXECUTION_LEASE_SECONDS": "6",
    "CELERY_TASK_SOFT_TIME_LIMIT": "4",
    "CELERY_TASK_TIME_LIMIT": "5",
    "AUTOMATIONS_SWEEP_AFTER_SECONDS": "4",
}


@pytest.fixture(params=["filesystem", "redis", "rabbitmq"])
def broker(request, tmp_path):
    broker = Broker(request.param, tmp_path)
    broker.purge()
    with app_on_broker(broker.url, broker.transport_options):
        yield broker
    broker.purge()


@pytest.fixture
def start_worker(broker, transactional_db):
    workers = []

    def start(name: str = "worker", env: dict[str, str] | None = None):
        worker = broker.worker(env, name=name).start()
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()


def execution_of(rule, timeout: float = 60, statuses=ENDED_STATUSES, **filters) -> AutomationExecution:
    def find():
        return AutomationExecution.objects.filter(automation_rule=rule, status__in=sorted(statuses), **filters).first()

    return wait_for(find, timeout, message=f"an execution of {rule.name} in {sorted(statuses)} with {filters}")


def staff_api(user) -> APIClient:
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_events_become_governed_executions_on_a_real_worker(
    broker, start_worker, tenant, owner, council_member, django_capture_on_commit_callbacks
):
    # given
    MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")
    restock = make_event_rule(tenant, owner)
    risky = make_event_rule(
        tenant, owner, name="Risky", risk_level="high", trigger_config={"event_type": "order_placed"}
    )
    worker = start_worker()
    api = staff_api(council_member)
    ingest = staff_api(owner)  # posting events needs an owner or collaborator (docs/api.md)

    # an event becomes a complete execution log
    body = {"tenant_id": tenant.pk, "event_type": "product_added", "source": "store", "idempotency_key": "p1"}
    response = ingest.post("/api/events", {**body, "payload": {"product_id": "p1"}}, format="json")
    assert response.status_code == 202
    event_id = response.json()["events"][0]["id"]
    execution = execution_of(restock, event_id=event_id)
    assert execution.status == ExecutionStatus.SUCCEEDED, worker.log()
    assert execution.conditions_met is True and execution.condition_results[0]["passed"] is True
    assert execution.trigger_data["product_id"] == "p1" and execution.trigger_data["store_status"] == "active"
    assert execution.action_result["command"]["command"] == "product.add"
    assert execution.action_attempts == 1 and execution.execution_time_ms > 0
    assert execution.rule_version.version == 1
    assert Event.objects.get(pk=event_id).dispatched_at is not None

    # idempotent ingest: the same key again is the same event, and nothing new runs
    again = ingest.post("/api/events", body, format="json").json()["events"][0]
    assert again == {"id": event_id, "idempotency_key": "p1", "duplicate": True}

    # conditions not met: the trigger's own store_status wins over the fact, so the rule skips
    skipped_id = emit_event(tenant.pk, "product_added", {"store_status": "paused"}, source="store").id
    skipped = execution_of(restock, event_id=skipped_id)
    assert skipped.status == ExecutionStatus.SKIPPED and skipped.action_attempts == 0

    # loop protection: an event six actions deep is blocked
    deep_id = emit_event(tenant.pk, "product_added", {}, source="store", causation_depth=6).id
    blocked = execution_of(restock, event_id=deep_id)
    assert blocked.status == ExecutionStatus.BLOCKED and "loop protection" in blocked.error_message

    # approvals: four risky executions wait for the council
    order_ids = [r.id for r in emit_events([{"tenant_id": tenant.pk, "event_type": "order_placed"}] * 4)]
    waiting = [
        execution_of(risky, statuses={ExecutionStatus.AWAITING_APPROVAL}, event_id=order_id) for order_id in order_ids
    ]
    by_admin, by_api, rejected, raced = waiting

    # approved in the admin
    admin = Client()
    admin.force_login(council_member)
    request_id = ApprovalRequest.objects.get(execution=by_admin).pk
    response = admin.post(
        "/admin/executions/approvalrequest/", {"action": "approve_selected", "_selected_action": [request_id]}
    )
    assert response.status_code == 302
    # approved through the API
    assert api.post(f"/api/executions/{by_api.pk}/approve").status_code == 200
    # rejected through the API
    assert api.post(f"/api/executions/{rejected.pk}/reject", {"reason": "no"}, format="json").status_code == 200
    # two approvers at once
    outcomes = race(
        lambda: execution_approve(AutomationExecution.objects.get(pk=raced.pk), council_member),
        lambda: execution_approve(AutomationExecution.objects.get(pk=raced.pk), owner),
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["AutomationExecution", "ExecutionConflict"]
    assert any(isinstance(o, ExecutionConflict) for o in outcomes)

    for approved in (by_admin, by_api, raced):
        done = execution_of(risky, pk=approved.pk)
        assert done.status == ExecutionStatus.SUCCEEDED, worker.log()
        assert done.action_attempts == 1 and done.approved_at is not None
    assert AutomationExecution.objects.get(pk=rejected.pk).status == ExecutionStatus.REJECTED

    # nothing ran twice, nothing is left open
    time.sleep(1)
    assert AutomationExecution.objects.filter(status__in=sorted(OPEN_STATUSES)).count() == 0
    assert AutomationExecution.objects.filter(action_attempts__gt=1).count() == 0
    assert AutomationExecution.objects.filter(automation_rule=restock).count() == 3
    restock.refresh_from_db()
    risky.refresh_from_db()
    assert (restock.execution_count, risky.execution_count) == (1, 3)


def test_the_sweepers_on_a_real_worker_recover_lost_messages(
    broker, start_worker, tenant, owner, django_capture_on_commit_callbacks
):
    # given messages the broker never got: events and an execution stored while "the broker was down"
    from executions.dispatch import mark_broker_down, publisher, reset_broker_state

    MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")
    restock = make_event_rule(tenant, owner)
    mark_broker_down()
    lost = [emit_event(tenant.pk, "product_added", {}, source="store").id for _ in range(3)]
    assert publisher.wait_idle(10)  # the background publisher skipped them
    reset_broker_state()
    assert Event.objects.filter(dispatched_at__isnull=True).count() == 3
    start_worker(env=FAST_RECOVERY_ENV)
    time.sleep(1)
    assert AutomationExecution.objects.count() == 0  # nothing told the worker

    # when the beat entries fire (sent by hand here)
    def swept() -> bool:
        publish(task_names.SWEEP_OUTBOX)
        publish(task_names.SWEEP_LEASES)
        time.sleep(1)
        return AutomationExecution.objects.filter(status=ExecutionStatus.SUCCEEDED).count() == 3

    wait_for(swept, timeout=60, interval=0.5, message="the sweeper to re-queue the lost events")

    # then
    assert sorted(AutomationExecution.objects.values_list("event_id", flat=True)) == sorted(lost)
    assert Event.objects.filter(dispatched_at__isnull=True).count() == 0
    restock.refresh_from_db()
    assert restock.execution_count == 3


def test_a_worker_killed_mid_batch_loses_nothing(broker, start_worker, tenant, other_tenant, owner):
    # given two matching rules, one non-matching, one in another tenant, and 200 events queued
    MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")
    acting = make_event_rule(tenant, owner, name="Acting")
    skipping = make_event_rule(
        tenant, owner, name="Skipping", conditions=[{"type": "store_status", "operator": "=", "value": "closed"}]
    )
    make_event_rule(tenant, owner, name="Other type", trigger_config={"event_type": "order_placed"})
    make_event_rule(other_tenant, None, name="Other tenant")
    total_events = 200
    expected = total_events * 2
    event_ids = []
    for batch in range(4):
        items = [
            {
                "tenant_id": tenant.pk,
                "event_type": "product_added",
                "source": "store",
                "idempotency_key": f"e{batch}-{i}",
            }
            for i in range(total_events // 4)
        ]
        event_ids += [result.id for result in emit_events(items)]

    def ended() -> int:
        return AutomationExecution.objects.filter(status__in=sorted(ENDED_STATUSES)).count()

    # when the first worker is killed with kill -9 once 20% of the work is done
    first = start_worker("first", env=FAST_RECOVERY_ENV)
    wait_for(lambda: ended() >= expected * 0.2, timeout=120, interval=0.02, message="20% of the executions")
    first.kill()
    done_by_first = ended()
    assert expected * 0.2 <= done_by_first <= expected * 0.8, f"killed at {done_by_first}/{expected}"

    # and a second worker takes over, with the sweepers running as beat would run them
    start_worker("second", env=FAST_RECOVERY_ENV)

    def finished() -> bool:
        publish(task_names.SWEEP_OUTBOX)
        publish(task_names.SWEEP_LEASES)
        time.sleep(1.5)
        return (
            not Event.objects.filter(pk__in=event_ids, dispatched_at__isnull=True).exists()
            and AutomationExecution.objects.count() >= expected
            and not AutomationExecution.objects.filter(status__in=sorted(OPEN_STATUSES)).exists()
        )

    wait_for(finished, timeout=150, interval=0.1, message="the second worker to finish")

    # then every event has exactly one execution per matching rule: none lost, none doubled, none stuck
    pairs = AutomationExecution.objects.values("event_id", "automation_rule_id").annotate(n=Count("id")).order_by()
    assert all(pair["n"] == 1 for pair in pairs)
    assert {(p["event_id"], p["automation_rule_id"]) for p in pairs} == {
        (event_id, rule.pk) for event_id in event_ids for rule in (acting, skipping)
    }
    statuses = Counter(AutomationExecution.objects.values_list("automation_rule__name", "status"))
    assert statuses == {("Acting", "succeeded"): total_events, ("Skipping", "skipped"): total_events}
    # an action interrupted by the kill ran again only because its outcome was unknown, with the same key
    attempts = Counter(
        AutomationExecution.objects.filter(automation_rule=acting).values_list("action_attempts", flat=True)
    )
    assert set(attempts) <= {1, 2}, attempts
    for execution in AutomationExecution.objects.filter(automation_rule=acting, action_attempts=2):
        assert execution.action_result["command"]["idempotency_key"] == f"automation-execution-{execution.pk}"
    acting.refresh_from_db()
    # no webhook endpoint receives its commands: each run is recorded only, none a success or a failure
    assert (acting.execution_count, acting.recorded_only_count, acting.failure_count) == (total_events, total_events, 0)


@pytest.fixture
def embedded_broker(tmp_path):
    """make run's broker (kombu's filesystem transport) with the test database (SQLite under make test)."""
    broker = Broker("filesystem", tmp_path)
    with app_on_broker(broker.url, broker.transport_options):
        yield broker


def test_two_workers_take_waiting_events_in_batches_and_match_each_once(embedded_broker, tenant, owner):
    # given 300 events, one per message (as one event per HTTP call sends them), waiting for two workers
    MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")
    rule = make_event_rule(tenant, owner)
    event_ids = [
        emit_event(tenant.pk, "product_added", {"n": n}, source="store", idempotency_key=f"one-{n}").id
        for n in range(300)
    ]
    # when two worker processes start on them at once
    workers = [embedded_broker.worker(name=f"w{n}").start() for n in range(2)]
    try:
        for worker in workers:
            worker.wait_ready()
        wait_for(
            lambda: AutomationExecution.objects.filter(status=ExecutionStatus.SUCCEEDED).count() == 300,
            timeout=120,
            message="every event's execution",
        )
    finally:
        for worker in workers:
            worker.stop()

    # then each event was matched exactly once, and the wake-ups took the others waiting along
    assert not Event.objects.filter(pk__in=event_ids, dispatched_at__isnull=True).exists()
    pairs = AutomationExecution.objects.values("event_id").annotate(n=Count("id")).order_by()
    assert {pair["event_id"] for pair in pairs} == set(event_ids) and all(pair["n"] == 1 for pair in pairs)
    rule.refresh_from_db()
    assert (rule.execution_count, rule.recorded_only_count, rule.failure_count) == (300, 300, 0)
    # events taken by one wake-up are marked dispatched by one update, with one timestamp
    takes = Event.objects.filter(pk__in=event_ids).values("dispatched_at").distinct().count()
    assert takes < 300, "every wake-up took only its own event"
