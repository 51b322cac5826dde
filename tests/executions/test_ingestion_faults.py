"""Faults found by fault injection (issue 14, item 9), each reproduced against a real database.

- Overlapping batches stamping ``last_triggered_at`` deadlocked on ``automation_rules``: the stamp now
  skips rows another transaction holds, so it never waits for them.
- A frozen broker (Redis under SIGSTOP) held every ``POST /api/events`` for up to 20 s in the publish:
  the publish now happens in a background thread, and the 202 depends on the commit alone.
- A lock on ``automation_executions`` stalled ``POST /api/events`` through the deferred foreign key
  ``automation_events.caused_by_execution_id``: ingestion now takes no constraint into that table.
"""

from __future__ import annotations

import contextlib
import socket
import threading

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone

from automations.models import AutomationRule
from executions.dispatch import publisher, reset_broker_state
from executions.models import Event
from executions.pipeline.create import rules_mark_triggered
from executions.services import EmitResult
from tests.api import post_json, token_client
from tests.executions.conftest import make_event_rule
from tests.services import lock_wait, write_lock_held

pytestmark = pytest.mark.django_db(transaction=True)


def other_connection() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        dbname=db["NAME"],
        user=db.get("USER") or "postgres",
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
    )


def test_stamping_rules_never_waits_for_a_row_another_batch_holds(tenant, owner):
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only (SQLite locks the whole database; the PostgreSQL run covers it)")
    held = make_event_rule(tenant, owner, name="Held")
    free = make_event_rule(tenant, owner, name="Free")
    other = other_connection()
    try:
        # another batch holds the first rule's row, as a concurrent stamp or totals update does
        other.execute("BEGIN")
        other.execute("SELECT id FROM automation_rules WHERE id = %s FOR UPDATE", [held.pk])
        now = timezone.now()
        # this batch would have waited on it (and, with the other waiting back, deadlocked): a wait of
        # more than 200 ms would raise here
        with lock_wait(200), transaction.atomic():
            stamped = rules_mark_triggered({held.pk, free.pk}, now)
    finally:
        other.rollback()
        other.close()
    assert stamped == 1
    assert AutomationRule.all_objects.get(pk=free.pk).last_triggered_at == now
    assert AutomationRule.all_objects.get(pk=held.pk).last_triggered_at is None


def test_rules_are_stamped_on_sqlite_and_postgresql(tenant, owner):
    rules = [make_event_rule(tenant, owner, name=f"Rule {n}") for n in range(3)]
    now = timezone.now()
    with transaction.atomic():
        assert rules_mark_triggered({rule.pk for rule in rules}, now) == 3
    assert set(AutomationRule.all_objects.values_list("last_triggered_at", flat=True)) == {now}


def test_events_are_accepted_while_the_executions_table_is_locked(tenant, owner):
    # given another connection holding the executions table (a long migration, a manual LOCK TABLE)
    if connection.vendor != "postgresql":
        pytest.skip("table locks: PostgreSQL only (SQLite has one lock for the whole file; test_db_locks covers it)")
    client = token_client(owner)
    with write_lock_held("automation_executions"), lock_wait(500):
        # when an event is posted: its insert takes no lock on that table, at once or at commit
        response = post_json(
            client, "/api/events", {"tenant_id": tenant.pk, "event_type": "product_added", "idempotency_key": "k1"}
        )
    # then it is accepted (a wait past 500 ms would have answered 503)
    assert response.status_code == 202, response.content
    assert Event.objects.filter(idempotency_key="k1").exists()


def test_a_list_whose_key_another_transaction_is_inserting_waits_and_answers_its_event(tenant):
    # given another connection inserting an event with key "held", not yet committed
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only (SQLite's one writer cannot interleave; the race test covers it)")
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as StillRunning

    from executions.services import emit_events

    def post(items: list[dict[str, str]]) -> list[EmitResult]:
        try:
            return emit_events(items)
        finally:
            connection.close()  # this thread's own connection

    other = other_connection()
    try:
        other.execute("BEGIN")
        other.execute(
            "INSERT INTO automation_events (tenant_id, event_type, source, payload, customer_id, idempotency_key, "
            "occurred_at, received_at, causation_depth) VALUES (%s, 'product_added', '', '{}', '', 'held', now(), "
            "now(), 0) RETURNING id",
            [tenant.pk],
        )
        held_id = other.execute("SELECT currval(pg_get_serial_sequence('automation_events', 'id'))").fetchone()[0]
        # when a list with that key and a fresh one is posted: its one INSERT waits for the other transaction
        items = [{"tenant_id": tenant.pk, "event_type": "product_added", "idempotency_key": k} for k in ("held", "new")]
        with ThreadPoolExecutor(max_workers=1) as pool:
            posting = pool.submit(post, items)
            with pytest.raises(StillRunning):
                posting.result(timeout=0.3)
            other.commit()
            results = posting.result(timeout=10)
    finally:
        other.rollback()
        other.close()
    # then the held key answers the other transaction's event as a duplicate, the fresh one is stored
    assert [(r.id == held_id, r.duplicate) for r in results] == [(True, True), (False, False)]
    assert Event.objects.filter(tenant=tenant).count() == 2


class FrozenBroker:
    """A TCP port that takes connections and never answers: a broker stopped with SIGSTOP, as seen."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.url = f"redis://127.0.0.1:{self.server.getsockname()[1]}/0"
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.accepted.append(self.server.accept()[0])

    def thaw(self) -> None:
        """Close everything: the clients waiting on it get an error at once, new ones are refused."""
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone leaves it listening)
        self.server.close()
        for conn in self.accepted:
            conn.close()


def test_a_frozen_broker_never_holds_up_an_accepted_event(tenant, owner, celery_app_on_broker):
    assert publisher.wait_idle(30)  # nothing of earlier tests still being sent
    broker = FrozenBroker()
    client = token_client(owner)
    try:
        # max_retries: once thawed (connections refused), the publish gives up instead of reconnecting for ever
        with celery_app_on_broker(broker.url, {"socket_connect_timeout": 2, "socket_timeout": 30, "max_retries": 1}):
            # when an event is posted while the broker takes connections but answers nothing
            response = post_json(
                client, "/api/events", {"tenant_id": tenant.pk, "event_type": "product_added", "idempotency_key": "f1"}
            )
            # then it is accepted while its wake-up message is still stuck on the broker, not before
            assert response.status_code == 202, response.content
            assert publisher.messages.unfinished_tasks == 1
            assert Event.objects.get(idempotency_key="f1").dispatched_at is None  # the outbox row waits
            # (after the thaw the stuck message is given up or sent in the background; how long kombu's
            # reconnects take is kombu's business, not this test's)
            broker.thaw()
    finally:
        broker.thaw()
        reset_broker_state()
