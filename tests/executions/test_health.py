"""/healthz and /readyz (executions/health.py) with a real worker on the embedded broker and on Redis:
ready while a worker answers the canary and beat is recent, 503 naming the failing check otherwise."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from tests.executions.workers import Broker, app_on_broker

pytestmark = pytest.mark.slow


@pytest.fixture(params=["filesystem", "redis"])
def broker(request, tmp_path):
    broker = Broker(request.param, tmp_path)
    broker.purge()
    with app_on_broker(broker.url, broker.transport_options):
        yield broker
    broker.purge()


@pytest.fixture
def beat_recent(transactional_db):
    from django.core.management import call_command
    from django_celery_beat.models import PeriodicTask

    call_command("setup_periodic_tasks", verbosity=0)
    PeriodicTask.objects.update(last_run_at=timezone.now())


def test_healthz_answers_without_touching_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_follows_the_worker(broker, beat_recent, settings):
    settings.READYZ_CANARY_SECONDS = 1  # with no worker there is never an answer: a longer wait only waits
    client = Client()
    # given no worker: the canary gets no answer
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"]["ok"] and checks["broker"]["ok"] and checks["beat"]["ok"]
    assert not checks["worker"]["ok"] and "no worker answered" in checks["worker"]["detail"]

    # when a worker runs, the canary makes the round trip
    worker = broker.worker().start(concurrency=1)
    try:
        worker.wait_ready()
        settings.READYZ_CANARY_SECONDS = 20  # the first answer may wait for the worker's first poll
        response = client.get("/readyz")
        assert response.status_code == 200, response.json()
        assert response.json()["checks"]["worker"]["ok"]
    finally:
        worker.stop()

    # and when it stops, readiness fails again
    settings.READYZ_CANARY_SECONDS = 1
    assert client.get("/readyz").status_code == 503


def test_readyz_fails_when_beat_is_stale(transactional_db, settings):
    from django.core.management import call_command
    from django_celery_beat.models import PeriodicTask

    from executions.health import readiness

    call_command("setup_periodic_tasks", verbosity=0)
    PeriodicTask.objects.update(last_run_at=timezone.now() - dt.timedelta(hours=2))
    settings.READYZ_BEAT_MAX_AGE_SECONDS = 600
    result = readiness()
    assert not result.checks["beat"]["ok"] and "ago" in result.checks["beat"]["detail"]


def test_readyz_reports_an_unreachable_broker(transactional_db, beat_recent):
    with app_on_broker("redis://127.0.0.1:1/0", {"socket_connect_timeout": 1, "socket_timeout": 1}):
        response = Client().get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert not checks["broker"]["ok"] and not checks["worker"]["ok"] and checks["database"]["ok"]


def test_a_canary_unanswered_while_a_wedged_process_holds_sqlites_write_lock_is_a_miss(transactional_db, tmp_path):
    """serve's watch replaces a wedged worker after unanswered canaries; one stopped while it held SQLite's
    write lock made the canary's clean-up raise a lock timeout, which the watch took for a broker error
    ("answered"), so that worker was never replaced. The clean-up is best effort: the answer stays None."""
    from django.db import connection

    from executions.health import canary_round_trip

    if connection.vendor != "sqlite":
        pytest.skip("the write lock of the whole file is SQLite's; on PostgreSQL the clean-up meets no such lock")
    import sqlite3

    broker = Broker("filesystem", tmp_path)
    holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # the write lock of the whole file, as a stopped pool process may hold it
    try:
        with app_on_broker(broker.url, broker.transport_options):
            assert canary_round_trip(0.3) is None  # no worker answered, and the clean-up's lock timeout is not raised
    finally:
        holder.rollback()
        holder.close()
