"""gunicorn worker classes for clients that post many events: a new connection per call vs keep-alive.

gunicorn's sync workers close the connection after every response, so a client posting events one by
one pays a TCP connect (and, behind TLS, a handshake) per event. The gthread worker class keeps
connections open (``--keep-alive``). Same setup as ``bench_api`` (production settings, PostgreSQL,
token authentication; the broker from ``CELERY_BROKER_URL``, no worker consuming: this measures
ingestion only). ``BENCH_API_CLIENTS`` client processes post ``POST /api/events`` (one event each)
back to back for ``BENCH_API_SECONDS``, for each of:

- ``sync``: ``--workers 2*CPUs+1``, a new connection per request (sync closes it anyway);
- ``gthread_new_connection``: ``--worker-class gthread --workers CPUs+1 --threads 4``, a new connection
  per request;
- ``gthread_keep_alive``: the same server, each client reusing one connection.

Figures: requests/s, p99 latency, and the web processes' CPU per request (ms).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.bench_api import (
    CLIENTS,
    ROOT,
    SECONDS,
    TENANT,
    _env,
    _free_port,
    _recreate_database,
    _seed,
    _server_cpu_seconds,
    _wait,
)
from bench.http_load import closed_loop, percentile

CPUS = os.cpu_count() or 1
SERVERS = {
    "sync": ["--workers", str(2 * CPUS + 1)],
    "gthread": ["--worker-class", "gthread", "--workers", str(CPUS + 1), "--threads", "4", "--keep-alive", "5"],
}


def _body(client: int, number: int) -> bytes:
    return json.dumps(
        {"tenant_id": TENANT, "event_type": "bench_ping", "payload": {"n": client * 1_000_000 + number}}
    ).encode()


def _measure(port: int, token: str, keep_alive: bool, master_pid: int) -> dict[str, float]:
    cpu_before = _server_cpu_seconds(master_pid)
    started = time.perf_counter()
    calls = closed_loop(port, token, CLIENTS, SECONDS, _body, keep_alive=keep_alive)
    elapsed = time.perf_counter() - started
    cpu = _server_cpu_seconds(master_pid) - cpu_before
    return {
        "requests_per_second": round(len(calls) / elapsed, 1),
        "errors": sum(call.status != 202 for call in calls),
        "p99_ms": round(percentile([call.seconds for call in calls], 0.99) * 1000, 1),
        "server_cpu_ms_per_request": round(cpu / max(1, len(calls)) * 1000, 2),
    }


def run() -> dict[str, object]:
    env = _env()
    _recreate_database()
    token = _seed(env)["token"]
    figures: dict[str, object] = {"client_processes": CLIENTS, "seconds_each": SECONDS}
    runs = [
        ("sync", "sync", False),
        ("gthread_new_connection", "gthread", False),
        ("gthread_keep_alive", "gthread", True),
    ]
    for name, server_kind, keep_alive in runs:
        port = _free_port()
        command = [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}"]
        server = subprocess.Popen(
            [*command, *SERVERS[server_kind], "--log-level", "warning", "--no-control-socket"], cwd=ROOT, env=env
        )
        try:
            _wait(port)
            figures[name] = _measure(port, token, keep_alive, server.pid)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    return figures
