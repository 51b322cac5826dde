"""Queueing pipeline tasks: only after commit, with a bounded publish that never hangs the caller.

The broker carries wake-ups, not data: every task works from a row that is already committed, and
the sweepers re-queue rows whose message was never published or was lost. So a publish that fails
is logged and dropped, never raised to the caller (an API request, a signal receiver, a task).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from kombu.exceptions import KombuError

logger = logging.getLogger(__name__)

# TRICKY: after one failed publish every later publish in this process is skipped for a few seconds.
# A list of 500 events posted while Redis is down then costs one connect timeout, not 500; the
# outbox sweeper publishes them once the broker is back.
_broker_down_until = 0.0
_lock = threading.Lock()


def broker_marked_down() -> bool:
    return time.monotonic() < _broker_down_until


def mark_broker_down() -> None:
    global _broker_down_until
    with _lock:
        _broker_down_until = time.monotonic() + float(settings.AUTOMATIONS_PUBLISH_BACKOFF_SECONDS)


def reset_broker_state() -> None:
    """Forget an earlier publish failure (tests, and a process that knows the broker is back)."""
    global _broker_down_until
    with _lock:
        _broker_down_until = 0.0


def _task(name: str) -> Any:
    # Imported here: tasks import the services, which queue tasks.
    from executions import tasks

    return getattr(tasks, name)


def publish(task_name: str, *args: Any) -> bool:
    """Send one task message now; True when the broker took it, False when it is left to the sweeper."""
    task = _task(task_name)
    if task.app.conf.task_always_eager:
        task.apply_async(args=args)
        return True
    if broker_marked_down():
        logger.info("broker marked down; %s%r left to the sweeper", task.name, args)
        return False
    try:
        task.apply_async(args=args, retry=True, retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY)
    except (KombuError, OSError, ConnectionError, TimeoutError) as error:
        mark_broker_down()
        logger.warning("could not publish %s%r (%s); the sweeper will re-queue it", task.name, args, error)
        return False
    except Exception as error:  # the transport's own connection errors (redis.exceptions.*) land here
        if not _is_connection_error(error):
            raise
        mark_broker_down()
        logger.warning("could not publish %s%r (%s); the sweeper will re-queue it", task.name, args, error)
        return False
    return True


def _is_connection_error(error: BaseException) -> bool:
    from config.celery import app

    try:
        with app.connection_for_write() as connection:
            errors = connection.connection_errors + connection.channel_errors
    except Exception:  # building the error list must never mask the original error
        return False
    return isinstance(error, errors)


def batch_size() -> int:
    """AUTOMATIONS_PIPELINE_BATCH_SIZE: events or executions one pipeline task takes."""
    return max(1, int(settings.AUTOMATIONS_PIPELINE_BATCH_SIZE))


def chunks(ids: list[int], size: int | None = None) -> Iterator[list[int]]:
    """``ids`` in lists of ``size`` (default: a pipeline batch), one task message each."""
    size = size or batch_size()
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def publish_on_commit(task_name: str, *args: Any) -> None:
    """Queue ``task_name(*args)`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(publish, task_name, *args))
