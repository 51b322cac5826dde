"""Group commit for event ingestion: the posts that reach one web process together share one transaction.

Where a post's events and its quota count are stored in one transaction (SQLite, and any database that
counts quotas itself; on PostgreSQL a post of one event is a single autocommit INSERT instead), each post
takes the database's write lock for a transaction of its own; on SQLite that is the one lock of the whole
file. Concurrent posts then queue for it one by one, each paying its own BEGIN and COMMIT while the
worker's transactions wait behind them.

Here the first post to arrive leads: it takes the posts queued by then (itself first, up to
``MAX_GROUP_EVENTS`` events), stores each in a savepoint of one transaction, so a post refused by its
quota or failing is undone alone, commits once and hands every post its own answer. A post that arrives
meanwhile waits for the next group, which the oldest of them leads. A post answers only after the
transaction holding its events committed; if taking the lock or the commit fails, no post of the group
was stored and each gets that error (a 503 for the API). Measured with ``make bench BENCH=embedded``
(docs/operations.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from governance.common.db_locks import write_transaction

# At most this many events in one group (a single post may hold more: it then makes a group alone).
MAX_GROUP_EVENTS = 500

T = TypeVar("T")


class _Post(Generic[T]):
    __slots__ = ("done", "error", "lead", "result", "size", "work")

    def __init__(self, work: Callable[[], T], size: int) -> None:
        self.work = work
        self.size = size
        self.done = threading.Event()
        self.lead = False
        self.result: T | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[T]):
    """Runs each caller's ``work`` in a transaction shared with the callers that came at the same time."""

    def __init__(self, max_group_events: int = MAX_GROUP_EVENTS) -> None:
        self._lock = threading.Lock()
        self._queued: list[_Post[T]] = []
        self._leading = False
        self._max_group_events = max_group_events

    def run(self, work: Callable[[], T], size: int = 1) -> T:
        """``work()`` (writing ``size`` events) in a savepoint of a transaction shared with the posts queued
        beside it; its result once that transaction committed, else its own error or the group's."""
        post: _Post[T] = _Post(work, size)
        with self._lock:
            self._queued.append(post)
            post.lead = not self._leading
            self._leading = True
        if not post.lead:
            post.done.wait()  # set when its group ended, or when it is made the next leader
        if post.lead:
            self._lead()
        if post.error is not None:
            raise post.error
        return post.result  # type: ignore[return-value]

    def _lead(self) -> None:
        with self._lock:
            group = self._take()
        try:
            _commit(group)
        finally:
            with self._lock:
                if self._queued:
                    self._queued[0].lead = True
                    self._queued[0].done.set()  # wakes it to lead the next group
                else:
                    self._leading = False
            for post in group:
                post.done.set()

    def _take(self) -> list[_Post[T]]:
        """The oldest queued posts up to the group's size (the first always); call holding the lock."""
        taken, events = 0, 0
        for post in self._queued:
            if taken and events + post.size > self._max_group_events:
                break
            taken += 1
            events += post.size
        group, self._queued = self._queued[:taken], self._queued[taken:]
        return group


def _commit(group: list[_Post[T]]) -> None:
    """One transaction for the group; each post's work in a savepoint of its own (none for a lone post,
    whose error undoes the whole transaction anyway)."""
    try:
        with write_transaction():
            if len(group) == 1:
                group[0].result = group[0].work()
                return
            for post in group:
                try:
                    with write_transaction():  # a savepoint: this post alone is undone on its error
                        post.result = post.work()
                except Exception as error:  # handed to the post's own caller
                    post.error = error
                    post.result = None
    except BaseException as error:
        for post in group:  # nothing of the group was committed
            if post.error is None:
                post.error = error
                post.result = None
        if not isinstance(error, Exception):
            raise
