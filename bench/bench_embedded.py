"""``make run``'s defaults under load: one event per HTTP call, end to end (issue 14, item 2).

Setup, as a newcomer's ``make run`` has it: a fresh var/ directory (SQLite, kombu's filesystem broker),
``migrate``, ``seed_demo``, then ``manage.py serve`` (web, one worker with its default processes, beat)
with local settings. One rule of the demo tenant matches ``bench_ping`` events and sends a signed
webhook to a local HTTP receiver (this process), so "delivered" means the receiver answered 200.

Figures:
- ``closed_loop_*``: ``BENCH_EMBEDDED_CLIENTS`` (8) clients each posting one event per request back to
  back for ``BENCH_EMBEDDED_SECONDS``; accepted/s, and delivered/s from the first event accepted to the
  last webhook delivered (the backlog included), and the latency from each event's acceptance to its
  webhook answered, p50 / p99.
- ``open_loop_*``: events offered at ``BENCH_EMBEDDED_RATE`` (200/s) by 8 client threads for the same
  time; delivered/s and the latency from each event's acceptance (its ``received_at``) to its execution's
  action finished (webhook answered), p50 / p99, read from the database afterwards.

Target: >= 200 events/s delivered with p99 <= 1 s at 8 clients.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECONDS = float(os.environ.get("BENCH_EMBEDDED_SECONDS", "15"))
RATE = float(os.environ.get("BENCH_EMBEDDED_RATE", "200"))
CLIENTS = int(os.environ.get("BENCH_EMBEDDED_CLIENTS", "8"))
# Extra arguments for serve, e.g. "--concurrency 2" (make run passes none).
SERVE_ARGS = os.environ.get("BENCH_EMBEDDED_SERVE_ARGS", "").split()
TENANT = "tenant_demo"

SETUP = """
from automations.services import rule_create
from executions.delivery.services.endpoints import endpoint_create
from governance.models import Tenant
tenant = Tenant.objects.get(pk=%(tenant)r)
rule_create(tenant, {
    "name": "Bench ping", "category": "store", "trigger_type": "event",
    "trigger_config": {"event_type": "bench_ping"}, "conditions": [],
    "action_type": "start_workflow", "action_config": {"workflow_type_id": "bench"}, "risk_level": "low",
})
endpoint_create(tenant, %(url)r, action_type="start_workflow")
"""


class Receiver:
    """The tenant's webhook receiver: answers 200 at once and counts what arrives."""

    def __init__(self) -> None:
        received = self.received = [0]
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with lock:
                    received[0] += 1

            def log_message(self, format: str, *args: object) -> None:
                pass

        server_class = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 256, "daemon_threads": True})
        self.server = server_class(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    def __init__(self, port: int, token: str) -> None:
        self.port = port
        # An API token, as integrations send events (Basic auth hashes the password on every request).
        self.auth = f"Token {token}"
        self.counter = 0
        self.lock = threading.Lock()

    def post(self, tag: str) -> int:
        with self.lock:
            self.counter += 1
            n = self.counter
        body = json.dumps({"tenant_id": TENANT, "event_type": "bench_ping", "payload": {"n": n, "tag": tag}})
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(
                "POST", "/api/events", body, {"Content-Type": "application/json", "Authorization": self.auth}
            )
            response = connection.getresponse()
            response.read()
            return response.status
        except OSError:
            return 0
        finally:
            connection.close()


def _closed_loop(client: Client, seconds: float) -> dict[str, int]:
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop() -> None:
        while time.monotonic() < deadline:
            status = client.post("closed")
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=loop) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def _open_loop(client: Client, rate: float, seconds: float) -> dict[str, int]:
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    total = int(rate * seconds)
    start = time.monotonic() + 0.2
    next_index = [0]

    def loop() -> None:
        while True:
            with lock:
                index = next_index[0]
                next_index[0] += 1
            if index >= total:
                return
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            status = client.post("open")
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=loop) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def _delivered(db: Path, tag: str) -> tuple[int, list[float], float]:
    """(executions whose webhook was answered, their latencies in s, seconds from first accepted to last done)."""
    with sqlite3.connect(db, timeout=30) as connection:
        rows = connection.execute(
            """
            SELECT julianday(x.action_completed_at) * 86400.0, julianday(e.received_at) * 86400.0
            FROM automation_executions x JOIN automation_events e ON e.id = x.event_id
            WHERE e.event_type = 'bench_ping' AND json_extract(e.payload, '$.tag') = ? AND x.status = 'succeeded'
            """,
            (tag,),
        ).fetchall()
    if not rows:
        return 0, [], 0.0
    latencies = sorted(done - accepted for done, accepted in rows)
    span = max(done for done, _ in rows) - min(accepted for _, accepted in rows)
    return len(rows), latencies, span


def _wait_drained(db: Path, tag: str, expected: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _delivered(db, tag)[0] < expected:
        time.sleep(0.5)


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(fraction * (len(values) - 1)))]


def run() -> dict[str, object]:
    receiver = Receiver()
    var = Path(tempfile.mkdtemp(prefix="bench-embedded-"))
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env.update(
        {
            "AUTOMATIONS_VAR_DIR": str(var),
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "AUTOMATIONS_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",  # the receiver is on loopback
            "API_THROTTLE_RATE": "100000000/minute",
            "LOG_LEVEL": "WARNING",
            "DEMO_STORE": "off",  # measure the posted events only, not the demo store's stream
        }
    )
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run([*manage, *command], env=env, check=True, capture_output=True, cwd=ROOT)
    made = subprocess.run(
        [*manage, "shell", "-c", SETUP % {"tenant": TENANT, "url": receiver.url}],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if made.returncode != 0:
        raise RuntimeError(f"setting up the bench rule failed: {made.stderr[-3000:]}")
    made = subprocess.run(
        [*manage, "api_token", "demo_owner", "--tenant", TENANT], env=env, capture_output=True, text=True, cwd=ROOT
    )
    token = made.stdout.strip().splitlines()[-1]
    port = _free_port()
    log = (var / "serve.log").open("wb")
    serve = subprocess.Popen(
        [*manage, "serve", "--addr", f"127.0.0.1:{port}", *SERVE_ARGS],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    db = var / "db.sqlite3"
    client = Client(port, token)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and b" ready." not in (var / "serve.log").read_bytes():
            time.sleep(0.2)
        while client.post("warmup") != 202:
            time.sleep(0.2)
        _wait_drained(db, "warmup", 1)

        open_statuses = _open_loop(client, RATE, SECONDS)
        _wait_drained(db, "open", open_statuses.get(202, 0))
        open_done, open_latencies, open_span = _delivered(db, "open")

        closed_statuses = _closed_loop(client, SECONDS)
        _wait_drained(db, "closed", closed_statuses.get(202, 0))
        closed_done, closed_latencies, closed_span = _delivered(db, "closed")
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            serve.kill()
        log.close()
        receiver.server.shutdown()
    return {
        "clients": CLIENTS,
        "seconds": SECONDS,
        "open_loop_offered_per_s": RATE,
        "open_loop_accepted": open_statuses.get(202, 0),
        "open_loop_refused": sum(n for status, n in open_statuses.items() if status != 202),
        "open_loop_delivered": open_done,
        "open_loop_delivered_per_s": round(open_done / open_span, 1) if open_span else 0.0,
        "open_loop_latency_p50_ms": round(_percentile(open_latencies, 0.5) * 1000, 1),
        "open_loop_latency_p99_ms": round(_percentile(open_latencies, 0.99) * 1000, 1),
        "closed_loop_accepted_per_s": round(closed_statuses.get(202, 0) / SECONDS, 1),
        "closed_loop_refused": sum(n for status, n in closed_statuses.items() if status != 202),
        "closed_loop_delivered_per_s": round(closed_done / closed_span, 1) if closed_span else 0.0,
        "closed_loop_latency_p50_ms": round(_percentile(closed_latencies, 0.5) * 1000, 1),
        "closed_loop_latency_p99_ms": round(_percentile(closed_latencies, 0.99) * 1000, 1),
        "webhooks_received": receiver.received[0],
    }
