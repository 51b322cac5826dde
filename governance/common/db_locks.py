"""Database lock timeouts: recognise them, retry taking SQLite's write lock, answer 503 (never 500).

SQLite has one write lock for the whole file. With ``transaction_mode = IMMEDIATE`` every
``transaction.atomic()`` takes it at ``BEGIN IMMEDIATE`` and waits for it up to the busy timeout
(``DATABASE_LOCK_TIMEOUT``); PostgreSQL waits for a row or table lock up to ``lock_timeout`` (the
same setting). A write that still meets a lock:

- ``write_transaction()`` retries taking the lock (SQLite's ``BEGIN IMMEDIATE``: about every
  millisecond, for up to two busy timeouts; elsewhere once, after a backoff); the body then runs once,
  so a retry never repeats any of its work;
- a web request that still fails answers ``503`` with ``Retry-After`` and ``{"detail": ...}``
  (``api_errors.api_exception_handler`` under /api/, ``DatabaseLockMiddleware`` elsewhere);
- a Celery task that still fails leaves its rows where the sweepers find them (docs/pipeline.md).
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import sqlite3
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from governance.common.api_paths import is_api_request

logger = logging.getLogger(__name__)

# PostgreSQL SQLSTATEs of a lock wait cut short: lock_not_available (lock_timeout, NOWAIT),
# query_canceled (statement_timeout) and deadlock_detected.
LOCK_SQLSTATES = frozenset({"55P03", "57014", "40P01"})
SQLITE_LOCK_MESSAGES = ("database is locked", "database table is locked")
LOCK_ATTEMPTS = 2  # taking the lock: one try and one retry, each waiting up to DATABASE_LOCK_TIMEOUT
LOCK_BACKOFF_SECONDS = 0.1
LOCK_DETAIL = "The database is busy; nothing was changed. Try again shortly."


def is_lock_timeout(error: BaseException | None) -> bool:
    """True for a database error that only says a lock could not be had in time (worth a retry)."""
    if not isinstance(error, OperationalError):
        return False
    cause = error.__cause__
    if isinstance(cause, sqlite3.OperationalError):
        return str(cause).startswith(SQLITE_LOCK_MESSAGES)
    return getattr(cause, "sqlstate", None) in LOCK_SQLSTATES


def caused_by_lock_timeout(error: BaseException | None) -> bool:
    """True when ``error`` is a lock timeout or was raised while handling one (Django turns a session
    save that met a lock into ``SessionInterrupted``, say)."""
    seen = 0
    while error is not None and seen < 10:
        if is_lock_timeout(error):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def retry_after_seconds() -> int:
    """What ``Retry-After`` tells a client: about one lock wait."""
    return max(1, math.ceil(float(settings.DATABASE_LOCK_TIMEOUT)))


@contextlib.contextmanager
def write_transaction() -> Iterator[None]:
    """``transaction.atomic()`` for a short write: taking SQLite's write lock is retried.

    Only the ``BEGIN`` is retried, so the body runs once (nothing in it is repeated). Nested in
    another transaction it is a savepoint, as ``atomic()`` is. On SQLite the outermost ``BEGIN
    IMMEDIATE`` is asked again about every millisecond (``_begin_polling``); elsewhere a lock timeout is
    retried once after a backoff (on PostgreSQL ``BEGIN`` takes no lock: a lock timeout there comes from
    a statement and is raised as it is).
    """
    atomic = transaction.atomic()
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        _begin_polling(atomic)
    else:
        _begin(atomic)
    try:
        yield
    except BaseException as error:
        atomic.__exit__(type(error), error, error.__traceback__)
        raise
    atomic.__exit__(None, None, None)


def _begin(atomic: transaction.Atomic) -> None:
    for attempt in range(1, LOCK_ATTEMPTS + 1):
        try:
            atomic.__enter__()
            return
        except OperationalError as error:
            if attempt == LOCK_ATTEMPTS or not is_lock_timeout(error):
                raise
            delay = LOCK_BACKOFF_SECONDS * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            logger.warning("database write lock busy (%s); retry %s in %.2fs", error, attempt, delay)
            time.sleep(delay)


# Seconds between two tries of SQLite's BEGIN IMMEDIATE (drawn at random, so waiters do not try in step).
POLL_SECONDS = (0.0005, 0.0015)


def _begin_polling(atomic: transaction.Atomic) -> None:
    """SQLite's ``BEGIN IMMEDIATE``, tried again every millisecond or so until the write lock is had, for
    up to LOCK_ATTEMPTS times the connection's busy timeout (what the retried BEGIN waited before; one
    warning when the first has passed); then the lock timeout is raised.

    TRICKY: SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ... 100 ms between its tries, so
    under contention (a web process and a worker taking turns many times a second) the lock stood free
    while every waiter slept: measured with ``make bench BENCH=embedded``, docs/operations.md. The
    connection's busy timeout is 0 while we poll, and put back after.
    """
    connection.ensure_connection()
    raw = connection.connection
    (busy_timeout_ms,) = raw.execute("PRAGMA busy_timeout").fetchone()
    wait = busy_timeout_ms / 1000
    started = time.monotonic()
    warned = False
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                atomic.__enter__()
                return
            except OperationalError as error:
                waited = time.monotonic() - started
                if not is_lock_timeout(error) or waited >= wait * LOCK_ATTEMPTS:
                    raise
                if not warned and waited >= wait:
                    logger.warning(
                        "database write lock busy (%s) for %.1fs; retry 1, for up to %.1fs more",
                        error,
                        waited,
                        wait * (LOCK_ATTEMPTS - 1),
                    )
                    warned = True
            time.sleep(random.uniform(*POLL_SECONDS))
    finally:
        raw.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")


def lock_timeout_response(request: HttpRequest) -> HttpResponse:
    """503 with ``Retry-After``: JSON ``{"detail": ...}`` for the API and for clients asking for JSON,
    a short page otherwise."""

    wants_json = is_api_request(request) or "json" in request.headers.get("Accept", "")
    if wants_json:
        response: HttpResponse = JsonResponse({"detail": LOCK_DETAIL}, status=503)
    else:
        response = HttpResponse(
            f"<!doctype html><title>Busy</title><h1>Busy</h1><p>{LOCK_DETAIL}</p>",
            status=503,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = str(retry_after_seconds())
    return response


class DatabaseLockMiddleware:
    """A view that meets a lock timeout answers 503 with ``Retry-After``, never a 500 or a debug page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not caused_by_lock_timeout(exception):
            return None
        logger.warning("%s %s: database lock timeout, answered 503: %s", request.method, request.path, exception)
        return lock_timeout_response(request)
