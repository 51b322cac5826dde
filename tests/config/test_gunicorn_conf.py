"""The README's web server (``gunicorn config.wsgi -c config/gunicorn.conf.py``): quiet client connections
never stop it, and a client posting many events keeps one connection.

Sync workers failed the first test: each of them sat on an idle pooled connection until gunicorn's
worker timeout killed it (docs/operations.md, "The web server").
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.api import token_for
from tests.executions.workers import test_database_url as subprocess_database_url
from tests.executions.workers import wait_for
from tests.services import require_redis

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKERS = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def status_of(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return 0
    finally:
        connection.close()


@pytest.fixture
def production_server(tmp_path):
    """gunicorn with the production config file (one worker process), production settings."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "x" * 60,
        "DATABASE_URL": subprocess_database_url(),
        "CELERY_BROKER_URL": require_redis(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    command = [gunicorn, "config.wsgi", "-c", "config/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
    server = subprocess.Popen(
        [*command, "--workers", str(WORKERS)], cwd=str(settings.BASE_DIR), env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for(lambda: status_of(port, "/healthz") == 200, timeout=60, message="gunicorn")
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert b"WORKER TIMEOUT" not in (tmp_path / "gunicorn.log").read_bytes()


def test_idle_pooled_connections_do_not_stop_the_server(production_server):
    # given more open, quiet connections than the server has threads (a client pool opened up front)
    threads = 4 * WORKERS
    idle = [socket.create_connection(("127.0.0.1", production_server)) for _ in range(threads * 3)]
    try:
        # when another client makes requests on fresh connections
        statuses = [status_of(production_server, "/healthz") for _ in range(5)]
        # then each is answered (a sync worker would wait on a quiet connection until its timeout)
        assert statuses == [200] * 5
    finally:
        for sock in idle:
            sock.close()


def test_a_client_posts_many_events_over_one_connection(production_server, owner, tenant):
    token = token_for(owner)
    connection = http.client.HTTPConnection("127.0.0.1", production_server, timeout=10)
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
