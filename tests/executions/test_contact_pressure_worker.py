"""Contact pressure on real Celery worker processes and Redis (issue 20, item 1; docs/contact-pressure.md).

Three rules for one customer: one action, two throttled, whether the three runs share one batch or
arrive as three events at two workers at once. Skip versus defer: the deferred run waits for the end of
its window and then runs exactly once, however many times it is queued. (Frozen-clock versions of these,
and quiet hours across DST, are in test_contact_pressure.py.)
"""

from __future__ import annotations

import time

import pytest

from executions import task_names
from executions.choices import ENDED_STATUSES, ExecutionStatus
from executions.dispatch import publish
from executions.models import AutomationExecution, Notification
from executions.services import emit_event, emit_events
from executions.services.sweepers import sweep_outbox
from governance.services import tenant_update
from tests.executions.workers import Broker, app_on_broker, wait_for
from tests.factories import make_rule

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def broker(tmp_path):
    broker = Broker("redis", tmp_path)
    broker.purge()
    with app_on_broker(broker.url, broker.transport_options):
        yield broker
    broker.purge()


@pytest.fixture
def start_worker(broker, transactional_db):
    workers = []

    def start(name: str = "worker"):
        worker = broker.worker(name=name).start()
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()


def email_rule(tenant, event_type: str, name: str, **overrides):
    return make_rule(
        tenant,
        name=name,
        trigger_type="event",
        trigger_config={"event_type": event_type},
        conditions=[],
        action_type="send_notification",
        action_config={"recipients": ["owner"], "message": "Hello", "channels": ["email"]},
        **overrides,
    )


def ended(rules, count: int, worker) -> list[AutomationExecution]:
    def find():
        rows = list(
            AutomationExecution.objects.filter(automation_rule__in=rules, status__in=sorted(ENDED_STATUSES)).order_by(
                "id"
            )
        )
        return rows if len(rows) >= count else None

    return wait_for(find, 90, message=f"{count} ended executions\n{worker.log()}")


def test_three_rules_for_one_customer_one_action_two_throttled(broker, start_worker, tenant, owner):
    # given: one email per customer per 16 hours; three rules email on order_placed, three more on a, b, c
    tenant_update(tenant, {"contact_policy": {"email": {"max": 1, "window_hours": 16}, "any": None}})
    same_event = [email_rule(tenant, "order_placed", f"Order rule {n}") for n in range(3)]
    own_events = [email_rule(tenant, event_type, f"Rule {event_type}") for event_type in ("a", "b", "c")]
    worker = start_worker("one")
    start_worker("two")

    # when: one event for customer 1 fires three rules (one batch)
    emit_event(tenant.pk, "order_placed", {}, customer_id="cust_1")
    # and three events for customer 2 arrive at once, each firing one rule, for two workers to share
    emit_events([{"tenant_id": tenant.pk, "event_type": t, "customer_id": "cust_2"} for t in ("a", "b", "c")])

    # then: each customer got one email; the others were throttled with the reason
    for rules in (same_event, own_events):
        executions = ended(rules, 3, worker)
        assert sorted(e.status for e in executions) == ["succeeded", "throttled", "throttled"], worker.log()
        for execution in executions:
            if execution.status == ExecutionStatus.THROTTLED:
                assert execution.action_attempts == 0
                assert execution.hold["kind"] == "contact_cap" and "already got 1 email" in execution.hold["reason"]


def test_skip_versus_defer_the_deferred_run_runs_once_at_its_time(broker, start_worker, tenant, owner):
    # given: one email per customer in a 4-second window (so the test sees the window end)
    tenant_update(tenant, {"contact_policy": {"email": {"max": 1, "window_hours": 4 / 3600}, "any": None}})
    first = email_rule(tenant, "first", "First")
    skipper = email_rule(tenant, "later", "Skipper")
    deferrer = email_rule(tenant, "later", "Deferrer", when_capped="defer")
    worker = start_worker()
    emit_event(tenant.pk, "first", {}, customer_id="cust_1")
    sent = ended([first], 1, worker)[0]
    assert sent.status == ExecutionStatus.SUCCEEDED, worker.log()

    # when: two more rules fire for the customer inside the window
    emit_event(tenant.pk, "later", {}, customer_id="cust_1")

    # then: the skipping rule ends throttled, the deferring one waits until the window frees up
    skipped = ended([skipper], 1, worker)[0]
    assert skipped.status == ExecutionStatus.THROTTLED
    deferred = wait_for(
        lambda: AutomationExecution.objects.filter(automation_rule=deferrer, status=ExecutionStatus.DEFERRED).first(),
        60,
        message=worker.log(),
    )
    assert abs((deferred.next_attempt_at - sent.action_started_at).total_seconds() - 4) < 0.01
    assert deferred.hold["deferred"] is True

    # when its time has come: the sweeper queues it, and the same message is sent three more times
    wait_for(lambda: time.time() > deferred.next_attempt_at.timestamp() + 0.2, 30)
    assert sweep_outbox()["deferred_queued"] == 1
    for _ in range(3):
        publish(task_names.RUN_ACTION, deferred.pk)

    # then: it ran once, after its time, and only once
    ran = ended([deferrer], 1, worker)[0]
    assert ran.status == ExecutionStatus.SUCCEEDED and ran.action_attempts == 1, worker.log()
    assert ran.action_started_at >= deferred.next_attempt_at
    time.sleep(2)  # let the duplicate messages be handled
    ran.refresh_from_db()
    assert ran.action_attempts == 1
    assert Notification.objects.filter(execution_id=ran.pk).count() == 1  # one message to the owner
    deferrer.refresh_from_db()
    assert deferrer.success_count == 1
