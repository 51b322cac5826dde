"""A write that meets a database lock: retried briefly, then 503 with Retry-After, never a 500 (issue 12,
item 6). Another real connection holds the lock (SQLite: ``BEGIN IMMEDIATE`` on the test database file;
PostgreSQL: ``LOCK TABLE``) for longer than this connection waits."""

from __future__ import annotations

import logging
import sqlite3
import threading

import psycopg
import pytest
from django.db import OperationalError, connection
from django.test import Client

from automations.models import AutomationRule
from executions.models import Event
from governance.common.db_locks import is_lock_timeout, write_transaction
from tests.api import post_json, token_client
from tests.services import lock_wait, write_lock_held


def wrapped(cause: Exception) -> OperationalError:
    """The error Django raises for a driver's ``cause``."""
    error = OperationalError(str(cause))
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "is_lock"),
    [
        (wrapped(sqlite3.OperationalError("database is locked")), True),
        (wrapped(sqlite3.OperationalError("database table is locked: automation_events")), True),
        (wrapped(sqlite3.OperationalError("no such table: automation_events")), False),
        (wrapped(psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")), True),
        (wrapped(psycopg.errors.QueryCanceled("canceling statement due to statement timeout")), True),
        (wrapped(psycopg.errors.DeadlockDetected("deadlock detected")), True),
        (wrapped(psycopg.errors.UndefinedTable('relation "x" does not exist')), False),
        (OperationalError("database is locked"), False),  # no driver error behind it: not ours to judge
        (ValueError("database is locked"), False),
    ],
)
def test_only_lock_waits_cut_short_count_as_lock_timeouts(error, is_lock):
    assert is_lock_timeout(error) is is_lock


EVENTS = [
    {"tenant_id": "tenant_test", "event_type": "product_added", "idempotency_key": "locked-1"},
    {"tenant_id": "tenant_test", "event_type": "product_added", "idempotency_key": "locked-2"},
]


def assert_busy_json(response) -> None:
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert int(response["Retry-After"]) >= 1
    assert "busy" in response.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_posting_events_under_a_held_write_lock_retries_then_answers_503_and_stores_nothing(
    tenant, owner, caplog, settings
):
    # given: another connection holds the write lock for longer than this one waits
    settings.DEBUG = True  # no debug page either
    client = token_client(owner)
    with write_lock_held(Event._meta.db_table), lock_wait(200), caplog.at_level(logging.WARNING):
        # when
        response = post_json(client, "/api/events", EVENTS)

    # then: taking the lock was retried once (SQLite) and the caller is told to come back
    assert_busy_json(response)
    retries = [r for r in caplog.records if "retry 1" in r.getMessage()]
    assert len(retries) == (1 if connection.vendor == "sqlite" else 0)
    assert not Event.objects.exists()
    # and once the lock is gone the same request goes through
    assert post_json(client, "/api/events", EVENTS).status_code == 202
    assert Event.objects.count() == 2


class ReleaseOnRetry(logging.Handler):
    """Releases the held lock the moment the service logs that it will retry."""

    def __init__(self, release) -> None:
        super().__init__(logging.WARNING)
        self.release = release

    def emit(self, record: logging.LogRecord) -> None:
        if "retry 1" in record.getMessage():
            self.release()


@pytest.mark.django_db(transaction=True)
def test_a_write_lock_released_during_the_backoff_costs_the_caller_nothing(tenant, owner):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's BEGIN IMMEDIATE is what is retried; PostgreSQL takes no lock at BEGIN")
    logger = logging.getLogger("governance.common.db_locks")
    client = token_client(owner)
    with write_lock_held(Event._meta.db_table) as release, lock_wait(200):
        handler = ReleaseOnRetry(release)
        logger.addHandler(handler)
        try:
            response = post_json(client, "/api/events", EVENTS)
        finally:
            logger.removeHandler(handler)

    assert response.status_code == 202, response.content
    assert Event.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_waiting_for_the_write_lock_leaves_the_connections_busy_timeout_as_it_was(tenant):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's BEGIN IMMEDIATE is what is polled; PostgreSQL takes no lock at BEGIN")

    def busy_timeout() -> int:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout")
            return cursor.fetchone()[0]

    with lock_wait(300):
        # a BEGIN that got the lock at once, one that waited until the holder let go, one that gave up
        with write_transaction():
            Event.objects.create(tenant=tenant, event_type="product_added", idempotency_key="k1", payload={})
        assert busy_timeout() == 300
        with write_lock_held(Event._meta.db_table) as release:
            threading.Timer(0.1, release).start()
            with write_transaction():
                Event.objects.create(tenant=tenant, event_type="product_added", idempotency_key="k2", payload={})
        assert busy_timeout() == 300
        with write_lock_held(Event._meta.db_table), pytest.raises(OperationalError) as raised, write_transaction():
            Event.objects.create(tenant=tenant, event_type="product_added", idempotency_key="k3", payload={})
        assert is_lock_timeout(raised.value) and busy_timeout() == 300
    assert Event.objects.count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("debug", [False, True])
def test_a_portal_post_under_a_held_write_lock_answers_503_and_changes_nothing(tenant, owner, rule, settings, debug):
    # given: a signed-in owner whose session already knows its tenant
    settings.DEBUG = debug
    client = Client()
    client.force_login(owner)
    assert client.get("/portal/automations").status_code == 200
    assert rule.enabled

    # when: the toggle meets a lock held longer than it waits
    with write_lock_held(AutomationRule._meta.db_table), lock_wait(200):
        response = client.post(f"/portal/automations/{rule.pk}/toggle", {"enabled": "false"})
        json_response = client.post(
            f"/portal/automations/{rule.pk}/toggle", {"enabled": "false"}, HTTP_ACCEPT="application/json"
        )

    # then: a short 503 page (not Django's debug page or a 500), JSON for a client asking for it
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    assert response["Content-Type"].startswith("text/html")
    assert b"busy" in response.content and b"Traceback" not in response.content
    assert_busy_json(json_response)
    rule.refresh_from_db()
    assert rule.enabled


@pytest.mark.django_db
def test_database_lock_waits_are_bounded_by_settings(settings):
    timeout = float(settings.DATABASE_LOCK_TIMEOUT)
    assert 0 < timeout <= 10
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"  # readers never wait for the writer
            cursor.execute("PRAGMA busy_timeout")
            assert cursor.fetchone()[0] == int(timeout * 1000)
            assert connection.transaction_mode == "IMMEDIATE"
        else:
            cursor.execute("SHOW lock_timeout")
            assert cursor.fetchone()[0] == f"{int(timeout)}s"


@pytest.mark.django_db(transaction=True)
def test_a_lock_timeout_outside_the_view_answers_503_too(tenant, owner, rule):
    # given: a first visit, so the session learns its tenant and is saved after the view (SessionMiddleware)
    client = Client(raise_request_exception=False)
    client.force_login(owner)

    # when: that save meets a held write lock
    with write_lock_held("django_session"), lock_wait(200):
        response = client.get("/portal/automations")

    # then: Django turns the failed save into SessionInterrupted (a 400); handler400 sees the lock timeout behind it
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
