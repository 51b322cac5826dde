"""A Redis outage: ingestion keeps answering, the worker reconnects by itself once Redis is back, and the
outbox sweeper drains what was stored while the broker was down. Uses its own redis-server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time

import pytest

from executions import task_names
from executions.choices import ExecutionStatus
from executions.dispatch import broker_marked_down, publish, publisher, reset_broker_state
from executions.models import AutomationExecution, Event, MetricSample
from executions.services import emit_event
from tests.executions.conftest import make_event_rule
from tests.executions.workers import WorkerProcess, app_on_broker, wait_for
from tests.services import missing_service, port_is_open

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FAST_SWEEP_ENV = {"AUTOMATIONS_SWEEP_AFTER_SECONDS": "2"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of the test's own, on a port picked once (a free one, so two suites running at once
    never meet) and kept across stop() and start()."""

    def __init__(self, folder) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            missing_service("redis-server is not installed")
        if port_is_open("127.0.0.1", self.port):
            missing_service(f"port {self.port} is taken")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: port_is_open("127.0.0.1", self.port), timeout=20, message="redis-server to listen")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        wait_for(lambda: not port_is_open("127.0.0.1", self.port), timeout=20, message="redis-server to stop")


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def succeeded(event_id: int, timeout: float = 60) -> AutomationExecution:
    return wait_for(
        lambda: AutomationExecution.objects.filter(event_id=event_id, status=ExecutionStatus.SUCCEEDED).first(),
        timeout=timeout,
        message=f"event {event_id} to be executed",
    )


def test_the_worker_recovers_after_a_redis_restart_and_nothing_is_lost(redis_server, tmp_path, tenant, owner):
    MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")
    make_event_rule(tenant, owner)
    worker = WorkerProcess(redis_server.url, None, tmp_path / "worker.log", FAST_SWEEP_ENV)
    with app_on_broker(redis_server.url):
        worker.start()
        try:
            worker.wait_ready()
            before = emit_event(tenant.pk, "product_added", {}, source="store").id
            succeeded(before)

            # when Redis goes away, ingestion still answers and keeps the event
            redis_server.stop()
            answered: list[int] = []
            thread = threading.Thread(
                target=lambda: answered.append(emit_event(tenant.pk, "product_added", {}, source="store").id),
                daemon=True,
            )
            thread.start()
            thread.join(timeout=30)
            assert answered, "emit_event hung while Redis was down"
            during = answered[0]
            assert publisher.wait_idle(30)  # its publish, in the background, failed
            assert broker_marked_down()
            assert Event.objects.get(pk=during).dispatched_at is None

            # and Redis comes back (empty: the outage lost nothing that was not in the database)
            redis_server.start()
            reset_broker_state()
            time.sleep(1)

            # then the same worker consumes again without a restart
            after = emit_event(tenant.pk, "product_added", {}, source="store").id
            succeeded(after, timeout=90)

            # and the sweeper drains the event stored during the outage
            def drained() -> bool:
                publish(task_names.SWEEP_OUTBOX)
                time.sleep(1)
                return AutomationExecution.objects.filter(event_id=during, status=ExecutionStatus.SUCCEEDED).exists()

            wait_for(drained, timeout=60, interval=0.5, message="the outbox sweeper to drain the outage backlog")
            assert worker.process.poll() is None, worker.log()
        finally:
            worker.stop()
