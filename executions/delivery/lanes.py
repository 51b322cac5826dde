"""One lane per endpoint over a process's pool of webhook threads, so a receiver that hangs holds a few
threads, never the pool (issue 14: a hanging receiver froze every tenant's deliveries).

``EndpointLanes.submit(endpoint_id, call)`` runs ``call`` on the pool when fewer than ``limit`` calls to
that endpoint are running; otherwise the call waits in the endpoint's own queue, which the endpoint's
running threads work through one after the other. Other endpoints' calls never wait behind it: with a
pool of ``P`` threads and a limit of ``L`` per endpoint, ``P // L`` receivers must hang at once before
anyone else waits for a thread.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class EndpointLanes:
    def __init__(self, pool: ThreadPoolExecutor, limit: int) -> None:
        self.pool = pool
        self.limit = max(1, limit)
        self.lock = threading.Lock()
        self.running: dict[Any, int] = {}
        self.waiting: dict[Any, deque[tuple[Callable[[], Any], Future[Any]]]] = {}

    def submit(self, endpoint_id: Any, call: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        with self.lock:
            if self.running.get(endpoint_id, 0) >= self.limit:
                self.waiting.setdefault(endpoint_id, deque()).append((call, future))
                return future
            self.running[endpoint_id] = self.running.get(endpoint_id, 0) + 1
        self.pool.submit(self._work, endpoint_id, call, future)
        return future

    def in_flight(self, endpoint_id: Any) -> int:
        """Calls to the endpoint running now (not those waiting in its queue)."""
        with self.lock:
            return self.running.get(endpoint_id, 0)

    def _work(self, endpoint_id: Any, call: Callable[[], Any], future: Future[Any]) -> None:
        while True:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except BaseException as error:  # handed to whoever waits on the future
                    future.set_exception(error)
            with self.lock:
                queue = self.waiting.get(endpoint_id)
                if not queue:
                    self.waiting.pop(endpoint_id, None)
                    self.running[endpoint_id] -= 1
                    if not self.running[endpoint_id]:
                        del self.running[endpoint_id]
                    return
                call, future = queue.popleft()
