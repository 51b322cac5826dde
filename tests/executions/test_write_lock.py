"""One tenant's slow evaluation holds no write lock (issue 12, item 6).

Conditions and governance run outside every write transaction, in the batch paths and the single-item
path alike: while tenant A's evaluation sits in a slow fact provider, tenant B's ``POST /api/events``
commits. On SQLite that is the difference between 202 and "database is locked" (SQLite has one write
lock for the whole file); on every database the provider must not find itself inside a transaction.
Transactional tests on the real test database file, the evaluation on a thread of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import OperationalError, connection

from executions.choices import ExecutionStatus, TriggerSource
from executions.models import AutomationExecution, Event
from executions.pipeline import match_events, run_executions
from executions.services import emit_event, run_execution, sweep_outbox, trigger_rule
from governance.common.db_locks import is_lock_timeout
from tests.api import post_json, token_client
from tests.services import lock_wait, write_lock_held

SLOW_TENANT = "tenant_test"


class SlowProvider:
    """A fact provider that, for ``SLOW_TENANT`` only, waits until the test lets it go."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.in_transaction: bool | None = None
        self.released_in_time = False

    def __call__(self, tenant: Any) -> Any:
        if tenant.pk != SLOW_TENANT:
            return None
        self.in_transaction = connection.in_atomic_block
        self.entered.set()
        self.released_in_time = self.release.wait(timeout=20)
        return "ready"


SLOW = SlowProvider()


def slow_report(tenant: Any) -> Any:
    """The registered AUTOMATIONS["METRIC_PROVIDERS"] entry (a dotted path needs a module-level callable)."""
    return SLOW(tenant)


@pytest.fixture
def slow_provider(settings) -> Iterator[SlowProvider]:
    global SLOW
    SLOW = SlowProvider()
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "METRIC_PROVIDERS": {"report": f"{__name__}.slow_report"}}
    yield SLOW
    SLOW.release.set()


@pytest.fixture
def no_dispatch() -> Iterator[None]:
    """Nothing is published (eager off, broker marked down): the test runs each pipeline step itself."""
    from config.celery import app
    from executions.dispatch import mark_broker_down, reset_broker_state

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    mark_broker_down()
    yield
    app.conf.task_always_eager = eager
    reset_broker_state()


def on_thread(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except Exception as error:  # collected for the assertions
            outcome.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def pending_execution(rule: Any) -> int:
    execution = trigger_rule(rule, TriggerSource.EVENT, {"n": 1}, "event:slow")
    assert execution is not None and execution.status == ExecutionStatus.PENDING
    return execution.pk


def prepare(path: str, tenant: Any, rule: Any) -> Callable[[], Any]:
    """The worker's call for ``path``, with its event or pending execution already stored."""
    if path == "match_events":  # the match_events task: log the executions, then evaluate the first batch
        event_id = emit_event(tenant.pk, "product_added", {}, source="store").id
        return lambda: match_events([event_id])
    execution_id = pending_execution(rule)
    if path == "run_executions":  # a queued batch
        return lambda: run_executions([execution_id])
    return lambda: run_execution(execution_id)  # the single-item reference


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["match_events", "run_executions", "run_execution"])
def test_a_slow_evaluation_holds_no_write_lock_and_another_tenant_posts_meanwhile(
    path, tenant, owner, other_tenant, other_owner, event_rule, active_store, slow_provider, no_dispatch
):
    # given: tenant A's evaluation waiting inside its fact provider, on a worker thread
    work = prepare(path, tenant, event_rule)
    client = token_client(other_owner)
    thread, outcome = on_thread(work)
    assert slow_provider.entered.wait(timeout=20), outcome
    try:
        # when: tenant B posts an event (a lock it cannot get within a second is the bug)
        with lock_wait(1000):
            response = post_json(client, "/api/events", {"tenant_id": other_tenant.pk, "event_type": "order_paid"})
        provider_still_waiting = not slow_provider.release.is_set()
    finally:
        slow_provider.release.set()
        thread.join(timeout=30)

    # then: B's event is stored while A's provider was still waiting, outside any transaction
    assert response.status_code == 202, response.content
    assert provider_still_waiting and slow_provider.released_in_time
    assert slow_provider.in_transaction is False
    assert Event.objects.filter(tenant=other_tenant, event_type="order_paid").count() == 1
    # and A's execution was evaluated and run exactly once
    assert not any(isinstance(item, Exception) for item in outcome), outcome
    execution = AutomationExecution.objects.get(automation_rule=event_rule)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error_message
    assert execution.action_attempts == 1
    assert execution.trigger_data["report"] == "ready"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "table"), [("match_events", "automation_events"), ("run_executions", "automation_executions")]
)
def test_a_worker_that_meets_a_held_lock_leaves_its_work_to_the_sweeper(
    path, table, tenant, owner, event_rule, active_store, no_dispatch, settings
):
    # given: an event to match, or a pending execution to run
    work = prepare(path, tenant, event_rule)

    # when: the task meets a write lock held longer than it waits
    with write_lock_held(table), lock_wait(200), pytest.raises(OperationalError) as raised:
        work()

    # then: it fails with the lock timeout (the task fails; nothing is lost) ...
    assert is_lock_timeout(raised.value)
    assert Event.objects.filter(dispatched_at__isnull=True).count() == (1 if path == "match_events" else 0)
    assert AutomationExecution.objects.exclude(status=ExecutionStatus.PENDING).count() == 0
    # ... and the outbox sweeper brings the work back: it runs once
    from config.celery import app
    from executions.dispatch import reset_broker_state

    reset_broker_state()
    app.conf.task_always_eager = True
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "METRIC_PROVIDERS": {}}
    sweep_outbox(older_than_seconds=0)
    execution = AutomationExecution.objects.get(automation_rule=event_rule)
    assert execution.status == ExecutionStatus.SUCCEEDED, execution.error_message
    assert execution.action_attempts == 1
    assert not Event.objects.filter(dispatched_at__isnull=True).exists()
