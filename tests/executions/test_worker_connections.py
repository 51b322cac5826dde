"""A worker process keeps its database connection between tasks, as a web process does between requests
(``CONN_MAX_AGE``), instead of opening one per task (Celery's Django fixup closes them all around every
task unless ``CELERY_DB_REUSE_MAX`` is set: config/settings/base.py, ``executions.celery_app``)."""

from __future__ import annotations

import pytest
from django.db import connection

from executions import task_names
from executions.celery_app import close_old_database_connections
from executions.choices import ENDED_STATUSES
from executions.dispatch import publish
from executions.models import AutomationExecution, Event
from tests.executions.conftest import make_event_rule
from tests.executions.workers import Broker, app_on_broker, wait_for
from tests.factories import make_tenant
from tests.services import require_postgresql


class Request:
    def __init__(self, is_eager: bool) -> None:
        self.is_eager = is_eager


class Task:
    """What a task signal's sender carries that the receivers read."""

    def __init__(self, is_eager: bool = False) -> None:
        self.request = Request(is_eager)


def sessions_started() -> int:
    """Connections PostgreSQL has opened to the test database so far."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def executions_ended() -> int:
    return AutomationExecution.objects.filter(status__in=ENDED_STATUSES).count()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_process_opens_one_database_connection_for_many_tasks(tmp_path):
    require_postgresql("pg_stat_database counts the connections opened")
    tenant = make_tenant("tenant_quiet", name="Quiet")
    make_event_rule(tenant)  # nothing receives its commands: each run ends recorded only
    broker = Broker("redis", tmp_path)
    broker.purge()
    worker = broker.worker({"DATABASE_CONN_MAX_AGE": "60"})

    def one_event(number: int) -> None:
        """An event, and its wake-up once the last one's run ended: one task each."""
        event = Event.objects.create(
            tenant=tenant, event_type="product_added", source="store", idempotency_key=f"e{number}"
        )
        assert publish(task_names.MATCH_EVENTS, [event.pk])
        wait_for(lambda: executions_ended() == number + 1, timeout=30, message=f"event {number}'s run ended")

    try:
        with app_on_broker(broker.url, broker.transport_options):
            worker.start(concurrency=1)
            worker.wait_ready()
            one_event(0)  # the pool process's first connection
            before = sessions_started()
            for number in range(1, 31):
                one_event(number)
            opened = sessions_started() - before
    finally:
        worker.stop()
        broker.purge()

    # thirty tasks matched and ran an execution each; without reuse each would have opened a connection
    assert opened <= 2, worker.log()


def test_a_task_run_eagerly_leaves_its_callers_connection_and_transaction_alone(db):
    # a test (and CELERY_TASK_ALWAYS_EAGER) runs tasks inside its caller's transaction: closing the
    # connection there would mark the caller's transaction for rollback
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")

    close_old_database_connections(Task(is_eager=True))

    assert not connection.needs_rollback
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
