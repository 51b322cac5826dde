"""Clients that post many events: a new connection per call vs keep-alive, on the README's web server.

A client posting events one by one over new connections pays a TCP connect (and, behind TLS, a
handshake) per event; the web server (``python -m config.web``) keeps connections open. Same setup as
``bench_api`` (production settings, PostgreSQL, token authentication; the broker from
``CELERY_BROKER_URL``, no worker consuming: this measures ingestion only). ``BENCH_API_CLIENTS`` client
processes post ``POST /api/events`` (one event each) back to back for ``BENCH_API_SECONDS``, for each of:

- ``new_connection``: a new connection per request;
- ``keep_alive``: each client reusing one connection.

Figures: requests/s, p99 latency, and the web processes' CPU per request (ms).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

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
    for name, keep_alive in (("new_connection", False), ("keep_alive", True)):
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "config.web"], cwd=ROOT, env={**env, "WEB_BIND": f"127.0.0.1:{port}"}
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
