"""Real Celery worker processes for pipeline tests, on Redis or the embedded filesystem broker.

The worker is ``celery -A config worker`` in a subprocess with the test settings, pointed through
its environment at the test database (a file the worker can open: var/test.sqlite3 with SQLite, the
test_... database with PostgreSQL) and at the same broker this process publishes to.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from executions.worker import AutomationWorker
from tests.services import patient_locks, require_rabbitmq, require_redis


def filesystem_transport_options(folder: Path) -> dict[str, Any]:
    for name in ("queue", "processed", "control"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
        "polling_interval": 0.05,
    }


def _reset_connections(app: Any) -> None:
    """Drop pooled broker connections so the next publish connects to the broker now configured."""
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@contextlib.contextmanager
def app_on_broker(url: str, transport_options: dict[str, Any] | None = None) -> Iterator[Any]:
    """Point this process's Celery app at ``url`` (eager off) inside the block; restore it after."""
    from config.celery import app
    from executions.dispatch import publisher, reset_broker_state

    saved = (app.conf.broker_url, app.conf.broker_transport_options, app.conf.task_always_eager)
    app.conf.broker_url = url
    app.conf.broker_transport_options = transport_options or {"socket_connect_timeout": 2, "socket_timeout": 10}
    app.conf.task_always_eager = False
    _reset_connections(app)
    reset_broker_state()
    try:
        yield app
    finally:
        publisher.wait_idle(30)  # what the block published goes to its broker, not the next test's
        app.conf.broker_url, app.conf.broker_transport_options, app.conf.task_always_eager = saved
        _reset_connections(app)
        reset_broker_state()


def test_database_url() -> str:
    """A URL for the database this test process uses (the test database), for a worker subprocess."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


class WorkerProcess:
    """One ``celery -A config worker`` subprocess, in its own process group so kill -9 takes it all."""

    def __init__(self, broker_url: str, broker_dir: Path | None, log_path: Path, extra_env: dict[str, str]) -> None:
        self.broker_url = broker_url
        self.broker_dir = broker_dir
        self.log_path = log_path
        self.extra_env = extra_env
        self.process: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "DATABASE_URL": test_database_url(),
            "CELERY_BROKER_URL": self.broker_url,
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        if self.broker_dir is not None:
            env["AUTOMATIONS_BROKER_DIR"] = str(self.broker_dir)
        return env

    def start(self, concurrency: int = 2, queues: tuple[str, ...] | None = None) -> WorkerProcess:
        options = {} if queues is None else {"queues": queues}
        command = AutomationWorker(concurrency=concurrency, loglevel="INFO", **options).command(
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--hostname",
            f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
        )
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command,
            cwd=str(settings.BASE_DIR),
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log()}")
            if b" ready." in self.log_path.read_bytes():
                return
            time.sleep(0.1)
        raise RuntimeError(f"worker not ready after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def kill(self) -> None:
        """kill -9 the worker and its pool processes."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # Warm shutdown: the main process stops its pool; SIGKILL for whatever is left after the grace period.
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


class Broker:
    """Where a test's worker and this process meet: a fresh filesystem folder, a Redis database or
    RabbitMQ's default virtual host (its queues purged)."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        if kind == "redis":
            self.url = require_redis()
            self.folder = None
            self.transport_options = {"visibility_timeout": 3600, "socket_connect_timeout": 2, "socket_timeout": 10}
        elif kind == "rabbitmq":
            self.url = require_rabbitmq()
            self.folder = None
            self.transport_options = {"confirm_publish": True}
        else:
            self.url = "filesystem://"
            self.folder = tmp_path / "broker"
            self.transport_options = filesystem_transport_options(self.folder)

    def purge(self) -> None:
        if self.kind == "redis":
            import redis

            redis.Redis.from_url(self.url).flushdb()
        elif self.kind == "rabbitmq":
            from django.conf import settings
            from kombu import Connection

            with Connection(self.url, connect_timeout=5) as conn:
                for queue in settings.CELERY_TASK_QUEUES:
                    # a queue not declared yet has nothing in it (the error closes only its own channel)
                    with contextlib.suppress(Exception), conn.channel() as channel:
                        channel.queue_purge(queue)

    def worker(self, extra_env: dict[str, str] | None = None, name: str = "worker") -> WorkerProcess:
        return WorkerProcess(self.url, self.folder, self.tmp_path / f"{name}.log", extra_env or {})


def wait_for(condition: Callable[[], Any], timeout: float = 60, interval: float = 0.1, message: str = "") -> Any:
    """Poll ``condition`` until it returns something truthy; fail with ``message`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message or condition}")


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Start every call at the same moment, each on its own thread and connection; return results or errors."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            outcomes[index] = call()
        except Exception as error:  # collected for the assertions
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    with patient_locks():  # each thread's connection waits its turn for a lock, however slow the machine
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    return outcomes
