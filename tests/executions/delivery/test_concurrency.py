"""At least once, never silently twice: concurrent claims, a worker killed mid-request, a stale worker.

These run with real commits (threads and a subprocess need to see each other's rows).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from executions.choices import AttemptOutcome, DeliveryStatus
from executions.delivery.services import claim_lease, delivery_create, delivery_send_attempt, send_due_deliveries
from tests.executions.delivery.sink import Reply

pytestmark = pytest.mark.django_db(transaction=True)

REPO_ROOT = Path(django_settings.BASE_DIR)


def outcomes(delivery) -> list[str]:
    return list(delivery.attempts.order_by("attempt_number").values_list("outcome", flat=True))


def in_thread(function, *args, **kwargs):
    """Run ``function`` in a thread with its own database connection; return (thread, results list)."""
    results: list = []

    def run() -> None:
        try:
            results.append(function(*args, **kwargs))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, results


def test_concurrent_sends_of_one_delivery_send_it_once(execution, endpoint_with_secret, sink):
    # given a slow receiver and eight workers woken for the same delivery at the same moment
    delivery = delivery_create(execution, endpoint_with_secret.endpoint, {"n": 1})
    sink.default = Reply(delay=0.3)
    now = timezone.now()
    barrier = threading.Barrier(8)

    def send():
        barrier.wait()
        return delivery_send_attempt(delivery.pk, now=now)

    # when they all try
    workers = [in_thread(send) for _ in range(8)]
    for thread, _ in workers:
        thread.join(30)

    # then exactly one claimed it and sent one request; one attempt row, one success
    results = [result for _, found in workers for result in found]
    assert len(results) == 8
    assert sum(result.attempted for result in results) == 1
    assert len(sink.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.SUCCEEDED, 1)
    assert outcomes(delivery) == [AttemptOutcome.SUCCEEDED]


def test_a_stale_worker_finishing_after_a_resend_is_recorded_as_a_duplicate(execution, endpoint_with_secret, sink):
    # given worker A whose request is slow, and worker B that takes over once A's lease has run out
    delivery = delivery_create(execution, endpoint_with_secret.endpoint, {"n": 1})
    sink.reply(Reply(delay=1.0), Reply())
    started = timezone.now()
    worker_a, results_a = in_thread(delivery_send_attempt, delivery.pk, now=started)
    assert sink.wait_for_requests(1)

    # when B sends after the lease (A is still waiting for its answer)
    later = started + claim_lease() + dt.timedelta(seconds=1)
    result_b = delivery_send_attempt(delivery.pk, now=later)
    worker_a.join(30)

    # then both requests carried one webhook-id, and only one attempt is the recorded success
    assert result_b.attempted and result_b.succeeded
    assert results_a[0].attempted and results_a[0].succeeded
    assert [request.headers["webhook-id"] for request in sink.requests] == [delivery.webhook_id] * 2
    assert outcomes(delivery) == [AttemptOutcome.DUPLICATE, AttemptOutcome.SUCCEEDED]


def test_a_stale_worker_failing_after_a_success_does_not_undo_it(execution, endpoint_with_secret, sink):
    delivery = delivery_create(execution, endpoint_with_secret.endpoint, {"n": 1})
    sink.reply(Reply(status=503, delay=1.0), Reply())
    started = timezone.now()
    worker_a, _ = in_thread(delivery_send_attempt, delivery.pk, now=started)
    assert sink.wait_for_requests(1)

    delivery_send_attempt(delivery.pk, now=started + claim_lease() + dt.timedelta(seconds=1))
    worker_a.join(30)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.next_attempt_at) == (DeliveryStatus.SUCCEEDED, None)
    assert outcomes(delivery) == [AttemptOutcome.RETRYABLE, AttemptOutcome.SUCCEEDED]


def subprocess_database_url() -> str:
    """The URL of the database this test runs on, for a separate worker process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    if connection.vendor == "postgresql":
        user = db.get("USER") or "postgres"
        return f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    pytest.skip(f"no subprocess URL for {connection.vendor}")


WORKER = "import sys, django; django.setup(); from executions.delivery.services import delivery_send_attempt; " + (
    "delivery_send_attempt(int(sys.argv[1]))"
)


@pytest.mark.slow
def test_a_worker_killed_mid_request_is_resent_by_the_sweeper_after_its_lease(execution, endpoint_with_secret, sink):
    # given a worker process whose request never gets an answer
    delivery = delivery_create(execution, endpoint_with_secret.endpoint, {"n": 1})
    sink.reply(Reply(hang=True))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": subprocess_database_url(),
        "AUTOMATIONS_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
    }
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(delivery.pk)], cwd=REPO_ROOT, env=env)
    try:
        assert sink.wait_for_requests(1, timeout=60), "the worker never sent its request"
        # when it is killed while the request is in flight
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == -signal.SIGKILL
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and outcomes(delivery) == [AttemptOutcome.IN_FLIGHT]

    # then the sweeper leaves it alone while the claim's lease runs
    assert send_due_deliveries(timezone.now()).due == 0
    # and sends it again, with the same webhook-id, once the lease is over
    counts = send_due_deliveries(timezone.now() + claim_lease() + dt.timedelta(seconds=1))

    assert (counts.due, counts.succeeded) == (1, 1)
    assert [request.headers["webhook-id"] for request in sink.requests] == [delivery.webhook_id] * 2
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert outcomes(delivery) == [AttemptOutcome.UNKNOWN, AttemptOutcome.SUCCEEDED]
