"""Skip, or under CI fail, when a test needs a service this machine does not run."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def missing_service(reason: str) -> None:
    """Skip with ``reason`` on a developer machine; fail under CI, where every service must run."""
    if IN_CI:
        pytest.fail(f"CI must run this test, but: {reason}")
    pytest.skip(reason)


def require_postgresql(why: str) -> None:
    """Skip a PostgreSQL-only test on another database: the suite's PostgreSQL run covers it (.ci/run). Under
    CI it fails instead when no PostgreSQL is reachable, since then no run would."""
    if connection.vendor == "postgresql":
        return
    if IN_CI and not port_is_open("127.0.0.1", 5432):
        pytest.fail(f"CI must run this test on PostgreSQL, but none is reachable at 127.0.0.1:5432: {why}")
    pytest.skip(f"PostgreSQL only ({why}); run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db>")


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_redis() -> str:
    """The Redis URL for tests, or skip/fail when Redis is not reachable."""
    from urllib.parse import urlparse

    parsed = urlparse(REDIS_URL)
    if not port_is_open(parsed.hostname or "127.0.0.1", parsed.port or 6379):
        missing_service(f"Redis is not reachable at {REDIS_URL} (set TEST_REDIS_URL)")
    return REDIS_URL


RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


def require_rabbitmq() -> str:
    """The RabbitMQ URL for tests, or skip/fail when RabbitMQ is not reachable."""
    from urllib.parse import urlparse

    parsed = urlparse(RABBITMQ_URL)
    if not port_is_open(parsed.hostname or "127.0.0.1", parsed.port or 5672):
        missing_service(f"RabbitMQ is not reachable at {RABBITMQ_URL} (set TEST_RABBITMQ_URL)")
    return RABBITMQ_URL


def database_vendor() -> str:
    return connection.vendor


@contextlib.contextmanager
def lock_wait(milliseconds: int) -> Iterator[None]:
    """Let this connection wait at most ``milliseconds`` for a lock (SQLite's busy timeout, PostgreSQL's
    lock_timeout), then put back what settings configure."""
    from django.conf import settings

    sqlite = connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        cursor.execute(
            f"PRAGMA busy_timeout = {int(milliseconds)}" if sqlite else f"SET lock_timeout = {int(milliseconds)}"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if sqlite:
                cursor.execute(f"PRAGMA busy_timeout = {int(float(settings.DATABASE_LOCK_TIMEOUT) * 1000)}")
            else:
                cursor.execute("RESET lock_timeout")


RACE_LOCK_WAIT_SECONDS = 30


@contextlib.contextmanager
def patient_locks(seconds: float = RACE_LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Connections opened inside the block (each racing thread opens its own) wait up to ``seconds`` for a
    lock: SQLite's busy timeout, PostgreSQL's lock_timeout. A race test proves what concurrent calls end in
    (one winner, the others a conflict); with the default wait (DATABASE_LOCK_TIMEOUT, 5 s) a thread on a
    starved CI machine (two suites on two cores) could give up on the lock before its turn and fail the test
    with "database is locked" for a reason the test is not about. test_db_locks covers the timeout itself."""
    db = connection.settings_dict
    saved = db.get("OPTIONS", {})
    options = dict(saved)
    if connection.vendor == "sqlite":
        options["timeout"] = seconds
    elif connection.vendor == "postgresql":
        kept = [part for part in str(options.get("options", "")).split("-c ") if part and "lock_timeout" not in part]
        options["options"] = " ".join(f"-c {part.strip()}" for part in [*kept, f"lock_timeout={int(seconds * 1000)}"])
    db["OPTIONS"] = options
    try:
        yield
    finally:
        db["OPTIONS"] = saved


@contextlib.contextmanager
def write_lock_held(table: str) -> Iterator[Callable[[], None]]:
    """Another connection holds a write lock until the block ends or the yielded ``release()`` is called.

    SQLite: ``BEGIN IMMEDIATE`` (the one write lock of the file; ``table`` does not matter). PostgreSQL:
    ``LOCK TABLE table IN EXCLUSIVE MODE`` (others may read the table, nobody may write it).
    """
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        import sqlite3

        other: Any = sqlite3.connect(db["NAME"], isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
    else:
        import psycopg

        other = psycopg.connect(
            dbname=db["NAME"],
            user=db.get("USER") or "postgres",
            password=db.get("PASSWORD") or None,
            host=db.get("HOST") or "127.0.0.1",
            port=db.get("PORT") or 5432,
        )
        other.execute(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')
    released = threading.Lock()

    def release() -> None:
        if released.acquire(blocking=False):
            if connection.vendor == "sqlite":
                other.execute("ROLLBACK")
            else:
                other.rollback()
            other.close()

    try:
        yield release
    finally:
        release()
