"""Queueing pipeline tasks: only after commit, sent by a background thread so no caller waits on the broker.

The broker carries wake-ups, not data: every task works from a row that is already committed, and
the sweepers re-queue rows whose message was never published or was lost. So a publish that fails
is logged and dropped, never raised to the caller (an API request, a signal receiver, a task), and a
publish that hangs (a frozen broker) holds up only the publisher thread, never a request: the 202 of
``POST /api/events`` depends on the commit alone.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from kombu.exceptions import KombuError

from automations.conf import app_settings
from executions import task_names
from executions.celery_app import celery_app

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
        _broker_down_until = time.monotonic() + float(app_settings.PUBLISH_BACKOFF_SECONDS)


def reset_broker_state() -> None:
    """Forget an earlier publish failure (tests, and a process that knows the broker is back)."""
    global _broker_down_until
    with _lock:
        _broker_down_until = 0.0


def _task(name: str) -> Any:
    """The registered task called ``name`` (``executions.task_names``): looked up in the Celery app, never
    imported, so what queues a task does not depend on the module that defines it."""
    return celery_app().tasks[name]


def publish(task_name: str, *args: Any, eager: bool = True) -> bool:
    """Send one task message now; True when the broker took it, False when it is left to the sweeper.

    Tasks running eagerly (tests, ``CELERY_TASK_ALWAYS_EAGER``) run here and now, unless ``eager`` is
    off: the background publisher's messages were meant for a broker, and are dropped (left to the
    sweeper) if the app turned eager meanwhile (a test that restored it).
    """
    task = _task(task_name)
    if task.app.conf.task_always_eager:
        if eager:
            task.apply_async(args=args)
        return eager
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
    try:
        with celery_app().connection_for_write() as connection:
            errors = connection.connection_errors + connection.channel_errors
    except Exception:  # building the error list must never mask the original error
        return False
    return isinstance(error, errors)


def batch_size() -> int:
    """AUTOMATIONS["PIPELINE_BATCH_SIZE"]: events or executions one pipeline task takes."""
    return max(1, int(app_settings.PIPELINE_BATCH_SIZE))


def chunks(ids: list[int], size: int | None = None) -> Iterator[list[int]]:
    """``ids`` in lists of ``size`` (default: a pipeline batch), one task message each."""
    size = size or batch_size()
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


class BackgroundPublisher:
    """One daemon thread per process that sends task messages, so callers never wait on the broker.

    Wake-ups for matching and running (``COALESCED_TASKS``) go out at most once per
    ``AUTOMATIONS["PUBLISH_COALESCE_SECONDS"]`` (5 ms), as one message per batch of ids: the first after a
    quiet spell at once (a lone event waits for nothing), those that follow within the window gathered
    into the next message, so events posted one per call under load reach a worker as batches and the
    web process publishes once per batch.

    Its queue is bounded (``capacity``): when a stalled broker lets it fill, further messages are dropped
    with a log line, and the sweepers re-queue their rows. Made lazily, and again after a fork (web
    server and Celery prefork children each get their own thread). At exit it sends what it holds for up to
    ``EXIT_GRACE_SECONDS``; anything left then waits for the sweepers too.
    """

    EXIT_GRACE_SECONDS = 2.0

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self.pid = 0
        self.messages: queue.Queue[tuple[str, tuple[Any, ...]]] = queue.Queue(maxsize=capacity)
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self.coalesced_sent_at = -float("inf")  # time.monotonic() of the last coalesced send

    def submit(self, task_name: str, *args: Any) -> bool:
        """Hand a message to the thread; False when the queue is full (the sweepers will re-queue it)."""
        self._ensure_thread()
        try:
            self.messages.put_nowait((task_name, args))
        except queue.Full:
            logger.warning("publish queue full (%s): %s%r left to the sweeper", self.capacity, task_name, args)
            return False
        return True

    def wait_idle(self, timeout: float) -> bool:
        """True once every submitted message has been sent (or given up on), False after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.messages.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def _ensure_thread(self) -> None:
        if self.pid == os.getpid() and self.thread is not None and self.thread.is_alive():
            return
        with self.lock:
            if self.pid != os.getpid():  # a forked child: the parent's queue and thread are not ours
                self.messages = queue.Queue(maxsize=self.capacity)
                self.coalesced_sent_at = -float("inf")
                self.pid = os.getpid()
                self.thread = None
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="task-publisher", daemon=True)
                self.thread.start()

    def _run(self) -> None:
        messages = self.messages
        while True:
            batch = [messages.get()]
            if batch[0][0] in COALESCED_TASKS:
                window_ends = self.coalesced_sent_at + float(app_settings.PUBLISH_COALESCE_SECONDS)
                batch += self._gather(batch[0][0], window_ends - time.monotonic())
                self.coalesced_sent_at = time.monotonic()
            try:
                for task_name, args in coalesce(batch):
                    try:
                        publish(task_name, *args, eager=False)
                    except Exception:  # one bad message must not stop the thread
                        logger.exception("could not publish %s%r; the sweeper will re-queue it", task_name, args)
            finally:
                for _ in batch:
                    messages.task_done()

    def _gather(self, task_name: str, seconds: float) -> list[tuple[str, tuple[Any, ...]]]:
        """The messages submitted in the next ``seconds`` (those already waiting when ``seconds`` is not
        positive), or until a batch of ``task_name``'s ids is in."""
        gathered: list[tuple[str, tuple[Any, ...]]] = []
        deadline = time.monotonic() + seconds
        ids = 0
        while ids < batch_size():
            remaining = deadline - time.monotonic()
            try:
                message = self.messages.get(timeout=remaining) if remaining > 0 else self.messages.get_nowait()
            except queue.Empty:
                break
            gathered.append(message)
            ids += len(message[1][0]) if message[0] == task_name else 0
        return gathered


# Tasks whose one argument is a list of ids and that take any ids of theirs together (a batch).
COALESCED_TASKS = frozenset({task_names.MATCH_EVENTS, task_names.RUN_EXECUTIONS})


def coalesce(messages: list[tuple[str, tuple[Any, ...]]]) -> list[tuple[str, tuple[Any, ...]]]:
    """``messages`` with each coalesced task's id lists joined and cut into batches (one message each);
    other messages as they are, in order."""
    ids: dict[str, list[int]] = {}
    kept: list[tuple[str, tuple[Any, ...]]] = []
    for task_name, args in messages:
        if task_name in COALESCED_TASKS:
            ids.setdefault(task_name, []).extend(args[0])
        else:
            kept.append((task_name, args))
    return kept + [(task_name, (chunk,)) for task_name, joined in ids.items() for chunk in chunks(joined)]


publisher = BackgroundPublisher()
atexit.register(lambda: publisher.wait_idle(BackgroundPublisher.EXIT_GRACE_SECONDS))


def publish_soon(task_name: str, *args: Any) -> None:
    """Send ``task_name(*args)`` from the background publisher (at once, in this thread, when tasks run
    eagerly: tests and ``CELERY_TASK_ALWAYS_EAGER``)."""
    if _task(task_name).app.conf.task_always_eager:
        publish(task_name, *args)
    else:
        publisher.submit(task_name, *args)


def publish_on_commit(task_name: str, *args: Any) -> None:
    """Queue ``task_name(*args)`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(publish_soon, task_name, *args))
