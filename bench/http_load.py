"""Clients that post events to ``POST /api/events`` the way integrations do, shared by the HTTP benchmarks.

- ``EventPoster``: one client connection; it keeps the connection alive when the server allows it (as
  ``requests.Session`` or any pooled client does) and opens a new one when the server closes it.
- ``closed_loop``: client processes each posting back to back (the next call when the last answered).
- ``open_loop``: calls offered at a fixed rate over a pool of connections opened up front and reused
  last-returned first, as client pools do; each call's latency is taken from its *scheduled* start, so a
  server that falls behind cannot hide its queue.
- ``Call``: what one call did (start, end, status, the event ids it got back).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import queue
import select
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

# One event's body, from (client index, call number): the benchmark says what an event looks like.
MakeBody = Callable[[int, int], bytes]


@dataclass
class Call:
    """One HTTP call: ``started`` is wall time (its scheduled start in an open loop), ``ended`` when answered."""

    started: float
    ended: float
    status: int
    event_ids: list[int] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.ended - self.started


class EventPoster:
    """One client connection posting JSON bodies to /api/events with an API token."""

    def __init__(self, port: int, token: str, keep_alive: bool = True, timeout: float = 30) -> None:
        self.port = port
        self.keep_alive = keep_alive
        self.timeout = timeout
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.connection: http.client.HTTPConnection | None = None

    def connect(self) -> None:
        """Open the connection now (a pool that connects up front); a failure is left to the first post."""
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            self.connection.connect()
        except OSError:
            self.close()

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def dropped(self) -> bool:
        """True when the server closed the idle connection (it is readable: EOF), as pools check before reuse."""
        sock = self.connection.sock if self.connection is not None else None
        return sock is not None and bool(select.select([sock], [], [], 0)[0])

    def post(self, body: bytes) -> tuple[int, list[int]]:
        """(status, the event ids answered); status 0 when the connection failed or timed out."""
        if self.connection is not None and self.dropped():
            self.close()
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            self.connection.request("POST", "/api/events", body=body, headers=self.headers)
            response = self.connection.getresponse()
            content = response.read()
            if not self.keep_alive or response.will_close:
                self.close()
        except (OSError, http.client.HTTPException):
            self.close()
            return 0, []
        ids: list[int] = []
        if response.status == 202:
            ids = [event["id"] for event in json.loads(content)["events"]]
        return response.status, ids


def _closed_loop_client(
    port: int, token: str, seconds: float, client: int, make_body: MakeBody, keep_alive: bool, results: Any
) -> None:
    poster = EventPoster(port, token, keep_alive)
    calls = []
    end = time.monotonic() + seconds
    number = 0
    while time.monotonic() < end:
        body = make_body(client, number)
        started = time.time()
        status, ids = poster.post(body)
        calls.append(Call(started, time.time(), status, ids))
        number += 1
    poster.close()
    results.put(calls)


def closed_loop(
    port: int, token: str, clients: int, seconds: float, make_body: MakeBody, keep_alive: bool = True
) -> list[Call]:
    """``clients`` processes, each posting back to back for ``seconds``; every call made."""
    return calls_in_processes(
        _closed_loop_client, [(port, token, seconds, client, make_body, keep_alive) for client in range(clients)]
    )


def calls_in_processes(client: Callable[..., None], arguments: list[tuple[Any, ...]]) -> list[Call]:
    """One forked process per argument tuple, running ``client(*arguments, results)``, each putting its list
    of calls on ``results``; every call made, once all have ended."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    processes = [context.Process(target=client, args=(*args, results)) for args in arguments]
    for process in processes:
        process.start()
    calls = [call for _ in processes for call in results.get()]
    for process in processes:
        process.join()
    return calls


def _open_loop_client(
    port: int, token: str, rate: float, seconds: float, connections: int, make_body: MakeBody, results: Any
) -> None:
    total = int(rate * seconds)
    calls: list[Call] = []
    lock = threading.Lock()
    # TRICKY: a pool hands out the connection returned last (urllib3's pool is a LifoQueue, aiohttp's
    # connector reuses the most recent too), so below its capacity the same few connections carry the
    # calls and the rest stay open and idle: a server must not tie a worker to an idle connection.
    idle: queue.LifoQueue[EventPoster] = queue.LifoQueue()
    for _ in range(connections):
        poster = EventPoster(port, token)
        poster.connect()
        idle.put(poster)
    start = time.time() + 0.2

    def call(index: int, poster: EventPoster) -> None:
        status, ids = poster.post(make_body(0, index))
        with lock:
            calls.append(Call(start + index / rate, time.time(), status, ids))
        idle.put(poster)

    with ThreadPoolExecutor(max_workers=connections) as pool:
        for index in range(total):
            pause = start + index / rate - time.time()
            if pause > 0:
                time.sleep(pause)
            pool.submit(call, index, idle.get())  # no free connection: wait for one (the latency grows)
    while not idle.empty():
        idle.get().close()
    results.put(calls)


def open_loop(port: int, token: str, rate: float, seconds: float, connections: int, make_body: MakeBody) -> list[Call]:
    """Calls offered at ``rate``/s for ``seconds`` over ``connections`` kept-alive connections opened up front
    (in a process of its own); each call's ``started`` is its scheduled time."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    process = context.Process(
        target=_open_loop_client, args=(port, token, rate, seconds, connections, make_body, results)
    )
    process.start()
    calls = results.get()
    process.join()
    return calls


def percentile(values: list[float], fraction: float) -> float:
    """The value at ``fraction`` (0-1) of ``values`` (nearest rank); NaN for none."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]
