"""The executions-per-hour quota on a real Celery worker (Redis broker): an execution over it is deferred by
the worker, a resumption while the hour is still full defers it again, and once the window allows it runs
exactly once, however many sweeps race to queue it. The quota counts in the database both processes share.

The worker keeps the real clock, so "its time has come" is written into the row (``next_attempt_at`` a
second ago) rather than waited for."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone

from executions.choices import ExecutionStatus
from executions.models import AutomationExecution
from executions.services import emit_event, sweep_outbox
from governance.quotas import EXECUTIONS_WINDOW_SECONDS, Window, counter_backend
from governance.services import tenant_update
from tests.executions.workers import Broker, app_on_broker, race, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def broker(tmp_path):
    broker = Broker("redis", tmp_path)
    broker.purge()
    with app_on_broker(broker.url, broker.transport_options):
        yield broker
    broker.purge()


def wait_out_the_hours_end(margin: float = 120) -> None:
    """The test's runs must fall in one clock hour: near its end, wait for the next one."""
    now = timezone.now()
    left = Window.at(now, EXECUTIONS_WINDOW_SECONDS).seconds_left(now)
    if left < margin:
        time.sleep(left + 1)


def make_due(execution: AutomationExecution) -> None:
    """Its deferral ended a second ago (and it was deferred before that)."""
    due = timezone.now() - dt.timedelta(seconds=1)
    AutomationExecution.objects.filter(pk=execution.pk).update(
        next_attempt_at=due, updated_at=due - dt.timedelta(seconds=1)
    )


def deferred_queued() -> int:
    return sweep_outbox()["deferred_queued"]


def execution_for(event_id: int, *statuses: str) -> AutomationExecution:
    return wait_for(
        lambda: AutomationExecution.objects.filter(event_id=event_id, status__in=statuses).first(),
        timeout=60,
        message=f"event {event_id}'s execution to be {statuses}",
    )


def test_an_execution_over_the_hours_quota_waits_and_runs_exactly_once(broker, tenant, owner, event_rule, active_store):
    assert counter_backend() == "database"
    tenant_update(tenant, {"executions_per_hour_quota": 1}, owner)
    worker = broker.worker().start()
    try:
        worker.wait_ready()
        wait_out_the_hours_end()

        # the hour's one action start
        first = emit_event(tenant.pk, "product_added", {"product_id": "p1"}, source="store", idempotency_key="p1")
        assert execution_for(first.id, ExecutionStatus.SUCCEEDED).action_attempts == 1

        # the worker defers the next one to the next hour
        second = emit_event(tenant.pk, "product_added", {"product_id": "p2"}, source="store", idempotency_key="p2")
        held = execution_for(second.id, ExecutionStatus.DEFERRED)
        until = Window.at(timezone.now(), EXECUTIONS_WINDOW_SECONDS).end
        assert (held.next_attempt_at, held.action_attempts) == (until, 0)
        assert held.governance_decision["hold"]["kind"] == "execution_quota"

        # resumed while the hour is still full: the worker's hold step defers it again, its action not started
        make_due(held)
        assert deferred_queued() == 1
        again = wait_for(
            lambda: AutomationExecution.objects.filter(
                pk=held.pk, status=ExecutionStatus.DEFERRED, next_attempt_at=until
            ).first(),
            timeout=60,
            message="the worker to defer the execution again",
        )
        assert (again.action_attempts, again.next_attempt_at) == (0, until)

        # the window allows one more (the owner raised the quota): two sweeps race, it runs once
        tenant_update(tenant, {"executions_per_hour_quota": 2}, owner)
        make_due(held)
        outcomes = race(deferred_queued, deferred_queued)
        assert sorted(outcomes) == [0, 1]
        ran = execution_for(second.id, ExecutionStatus.SUCCEEDED)
        assert (ran.action_attempts, ran.next_attempt_at) == (1, None)
        assert deferred_queued() == 0
        assert AutomationExecution.objects.filter(automation_rule=event_rule).count() == 2
    finally:
        worker.stop()
    assert "Traceback" not in worker.log()
