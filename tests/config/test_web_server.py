"""The README's web server (``python -m config.web``, granian): quiet client connections never stop it, a
slow client holds one thread only, a client posting many events keeps one connection, and a killed worker
process is replaced.

gunicorn's sync workers failed the first test: each of them sat on an idle pooled connection until the
worker timeout killed it (docs/operations.md, "The web server").
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket

import pytest

from tests.api import token_for
from tests.executions.workers import wait_for
from tests.services import require_redis
from tests.web_server import production_web_server, status_of

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

THREADS = 4  # config.web's default WEB_THREADS


@pytest.fixture
def production_server(tmp_path):
    """The production web server with one worker process."""
    with production_web_server(tmp_path / "web.log", require_redis(), workers=1) as server:
        yield server
    assert b"Unexpected exit" not in (tmp_path / "web.log").read_bytes()


def test_idle_pooled_connections_do_not_stop_the_server(production_server):
    # given more open, quiet connections than the server has threads (a client pool opened up front)
    idle = [socket.create_connection(("127.0.0.1", production_server.port)) for _ in range(THREADS * 3)]
    try:
        # when another client makes requests on fresh connections
        statuses = [status_of(production_server.port, "/healthz") for _ in range(5)]
        # then each is answered (a sync worker would wait on a quiet connection until its timeout)
        assert statuses == [200] * 5
    finally:
        for sock in idle:
            sock.close()


def test_a_client_sending_its_body_slowly_holds_one_thread_until_it_is_complete(production_server, owner, tenant):
    # given clients half-way through sending an event's body, one fewer than the server has threads:
    # each holds a thread (the application reads the body), so a proxy that buffers request bodies
    # belongs in front of a server open to slow clients (docs/operations.md, "The web server")
    body = json.dumps({"tenant_id": tenant.pk, "event_type": "product_added", "payload": {}}).encode()
    slow = []
    for _ in range(THREADS - 1):
        sock = socket.create_connection(("127.0.0.1", production_server.port), timeout=10)
        head = (
            f"POST /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token_for(owner)}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body[:10])
        slow.append(sock)
    try:
        # when another client makes requests meanwhile
        statuses = [status_of(production_server.port, "/healthz") for _ in range(5)]
        # then the thread left answers them
        assert statuses == [200] * 5
        # and the slow clients' events are accepted once their bodies are complete
        for sock in slow:
            sock.sendall(body[10:])
        answers = [sock.recv(65536) for sock in slow]
        assert all(answer.startswith(b"HTTP/1.1 202") for answer in answers), answers
    finally:
        for sock in slow:
            sock.close()


def test_a_client_posts_many_events_over_one_connection(production_server, owner, tenant):
    token = token_for(owner)
    connection = http.client.HTTPConnection("127.0.0.1", production_server.port, timeout=10)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    sockets = set()
    for n in range(3):
        body = json.dumps({"tenant_id": tenant.pk, "event_type": "product_added", "payload": {"n": n}})
        connection.request("POST", "/api/events", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        assert response.status == 202
        assert not response.will_close
        sockets.add(id(connection.sock))
    connection.close()
    assert len(sockets) == 1


def worker_pids(server_pid: int) -> set[int]:
    with open(f"/proc/{server_pid}/task/{server_pid}/children") as children:
        return {int(pid) for pid in children.read().split()}


def test_a_killed_worker_process_is_replaced(tmp_path):
    if not os.path.exists("/proc/self/task"):
        pytest.skip("reads worker processes from /proc (Linux)")
    with production_web_server(tmp_path / "web.log", require_redis(), workers=1) as server:
        # given the server's one worker process
        (worker,) = wait_for(lambda: worker_pids(server.process.pid), message="a worker process")
        # when it is killed (out of memory, an operator's kill -9)
        os.kill(worker, signal.SIGKILL)
        # then another takes its place and the server answers again
        wait_for(lambda: worker_pids(server.process.pid) - {worker}, timeout=30, message="a new worker process")
        wait_for(lambda: status_of(server.port, "/healthz") == 200, timeout=30, message="an answer")
