"""The README's production web server (``python -m config.web``) in a subprocess, for the tests that need it."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from tests.executions.workers import test_database_url as subprocess_database_url
from tests.executions.workers import wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def status_of(port: int, path: str) -> int:
    """The status of ``GET path`` on a fresh connection, or 0 when the server does not answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return 0
    finally:
        connection.close()


@dataclass(frozen=True)
class RunningServer:
    port: int
    process: subprocess.Popen[bytes]


@contextlib.contextmanager
def production_web_server(log_path: Path, broker_url: str, workers: int = 1, **environ: str) -> Iterator[RunningServer]:
    """``python -m config.web`` with production settings on a free port, until the block ends.

    ``environ`` adds to the server's environment (``API_THROTTLE_RATE``, say); its output goes to ``log_path``.
    """
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "x" * 60,
        "DATABASE_URL": subprocess_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_WORKERS": str(workers),
        **environ,
    }
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "config.web"],
            cwd=str(settings.BASE_DIR),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: status_of(port, "/healthz") == 200, timeout=60, message="the web server")
            yield RunningServer(port, server)
        finally:
            server.terminate()
            server.wait(timeout=60)
