"""The HTTP event path as users drive it: one ``POST /api/events`` per event, production stack (issue 18).

    make bench BENCH=http        # DATABASE_URL=postgres://.../<name>_bench, CELERY_BROKER_URL=redis://...

Setup, as the README's "Production" section runs it: ``python -m config.web`` (granian, production
settings), one Celery worker with its default processes (one per CPU), PostgreSQL
(``DATABASE_URL``, a ``*_bench`` database: its automation tables are emptied) and Redis
(``CELERY_BROKER_URL``, flushed; the API throttle counts there too, as production settings default).
Beat is not started (its sweepers only add noise here). One tenant, one rule: ``product_updated`` events
from the store, two conditions (the store is active; the payload's price is above 10), a signed
``update_product`` webhook to a local HTTP sink in this process. Clients authenticate with an API token.

Phases (``BENCH_HTTP_SECONDS`` each, default 20):
- ``closed``: ``BENCH_HTTP_CLIENTS`` (8) client processes, one event per call, back to back, each keeping
  its connection alive when the server allows;
- ``open``: ``BENCH_HTTP_RATE`` (100) events/s offered over a pool of ``BENCH_HTTP_CONNECTIONS`` (64)
  connections opened up front; latencies from each call's scheduled start;
- ``serial``: one client, one event at a time, the next sent once the sink has the last one's webhook
  (``BENCH_HTTP_SERIAL_EVENTS``, 200): what one event costs when nothing queues in front of it;
- ``batched``: ``BENCH_HTTP_BATCH_CLIENTS`` (4) clients posting lists of ``BENCH_HTTP_BATCH`` (100) events.

``BENCH_HTTP_PHASES=open,serial`` runs only those.

Figures per phase: calls and failed calls; events accepted, delivered (the sink answered), missing and
duplicated (webhooks received twice for one execution); ``delivered_per_s`` from the first call's start
to the last webhook; call -> sink and response (call -> 202) p50 / p99 / max in ms; CPU per event in ms
of the web processes, the worker processes and this database's PostgreSQL backends, read from /proc
(the processes this benchmark started, so other work on a shared machine is not counted, though it
still slows everything down); web worker processes that died during the phase (granian's "Unexpected
exit from worker" lines: a worker killed or crashed, then started again).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import cpu
from bench.bench_api import _env as production_env
from bench.bench_api import _free_port, _wait
from bench.bench_pipeline import (
    SinkServer,
    _environment_problem,
    _prepare,
    _setup_tenant,
    _start_workers,
    _stop_workers,
)
from bench.http_load import Call, EventPoster, closed_loop, open_loop, percentile

ROOT = Path(__file__).resolve().parent.parent
SECONDS = float(os.environ.get("BENCH_HTTP_SECONDS", "20"))
CLIENTS = int(os.environ.get("BENCH_HTTP_CLIENTS", "8"))
RATE = float(os.environ.get("BENCH_HTTP_RATE", "100"))
CONNECTIONS = int(os.environ.get("BENCH_HTTP_CONNECTIONS", "64"))
SERIAL_EVENTS = int(os.environ.get("BENCH_HTTP_SERIAL_EVENTS", "200"))
BATCH = int(os.environ.get("BENCH_HTTP_BATCH", "100"))
BATCH_CLIENTS = int(os.environ.get("BENCH_HTTP_BATCH_CLIENTS", "4"))
# The README's web command (config/web.py).
WEB_COMMAND = [sys.executable, "-m", "config.web"]
PHASES = os.environ.get("BENCH_HTTP_PHASES", "closed,open,serial,batched").split(",")


def backlog_lane_wanted(default: str) -> bool:
    """BENCH_BACKLOG_LANE (1 / 0): AUTOMATIONS_BACKLOG_LANE on and a backlog worker at nice 10 (README, Production)."""
    return os.environ.get("BENCH_BACKLOG_LANE", default) not in ("0", "false", "")


BACKLOG_LANE = backlog_lane_wanted("0")
DRAIN_TIMEOUT = float(os.environ.get("BENCH_HTTP_DRAIN_TIMEOUT", "300"))
TENANT = "bench_http"
RULE = {
    "name": "Reprice updated products",
    "category": "product",
    "trigger_type": "event",
    "trigger_config": {"event_type": "product_updated", "source": "store"},
    "conditions": [
        {"type": "store_status", "operator": "=", "value": "active"},
        {"type": "price", "operator": ">", "value": 10},
    ],
    "action_type": "update_product",
    "action_config": {"updates": {"tags": ["repriced"]}},
    "risk_level": "low",
}


def event(tag: str, client: int, number: int) -> dict[str, Any]:
    return {
        "tenant_id": TENANT,
        "event_type": "product_updated",
        "source": "store",
        "payload": {"product_id": f"prod_{client}_{number}", "price": 25, "tag": tag},
    }


def one_event(tag: str) -> Any:
    return lambda client, number: json.dumps(event(tag, client, number)).encode()


def event_list(tag: str, size: int) -> Any:
    return lambda client, number: json.dumps([event(tag, client, number * size + i) for i in range(size)]).encode()


class Stack:
    """The web server and the Celery worker, started as the README's production section runs them."""

    def __init__(self, database_url: str, broker: str, backlog_lane: bool = BACKLOG_LANE) -> None:
        self.env = {**production_env(), "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker}
        self.backlog_lane = backlog_lane  # the workers' setting (_start_workers): the web processes never read it
        self.port = _free_port()
        self.log_dir = ROOT / "var"
        self.log_dir.mkdir(exist_ok=True)
        self.web_log_path = self.log_dir / "bench-http-web.log"
        self.database = database_url.rsplit("/", 1)[1]

    def start(self) -> None:
        self.web_log = self.web_log_path.open("wb")
        self.web = subprocess.Popen(
            WEB_COMMAND,
            cwd=ROOT,
            env={**self.env, "WEB_BIND": f"127.0.0.1:{self.port}"},
            stdout=self.web_log,
            stderr=subprocess.STDOUT,
        )
        worker_env = {key: self.env[key] for key in ("DJANGO_SETTINGS_MODULE", "SECRET_KEY", "LOG_LEVEL")}
        self.workers = _start_workers(
            self.env["DATABASE_URL"], self.env["CELERY_BROKER_URL"], self.log_dir, worker_env, self.backlog_lane
        )
        _wait(self.port, timeout=60)
        self.cpu_tracker = self._track_cpu()

    def stop(self) -> None:
        self.cpu_tracker.stop()
        self.web.send_signal(signal.SIGTERM)
        try:
            self.web.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.web.kill()
        self.web_log.close()
        _stop_workers(self.workers)

    def web_worker_deaths(self) -> int:
        return self.web_log_path.read_bytes().count(b"Unexpected exit from worker")

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of the web processes, the worker processes and this database's backends."""
        return self.cpu_tracker.read()

    def _track_cpu(self) -> cpu.CPUTracker:
        from django.db import connections

        own = connections["default"]  # this thread's connection object (not the per-thread proxy): not counted

        def backends() -> list[int]:
            mine = own.connection.info.backend_pid if own.connection is not None else None
            return [pid for pid in cpu.database_backends(self.database) if pid != mine]

        return cpu.CPUTracker(
            {
                "web": lambda: cpu.descendants(self.web.pid),
                "worker": lambda: [pid for process in self.workers for pid in cpu.descendants(process.pid)],
                "postgres": backends,
            }
        ).start()


def _deliveries(calls: list[Call], sink: SinkServer) -> dict[int, float]:
    """Each accepted event's webhook arrival (wall time) at the sink, for those that arrived."""
    from executions.models import AutomationExecution

    event_ids = [event_id for call in calls for event_id in call.event_ids]
    executions: dict[int, int] = {}
    for start in range(0, len(event_ids), 5000):
        chunk = event_ids[start : start + 5000]
        executions.update(AutomationExecution.objects.filter(event_id__in=chunk).values_list("event_id", "pk"))
    with sink.lock:
        arrivals = dict(sink.arrivals)
    return {event_id: arrivals[pk] for event_id, pk in executions.items() if pk in arrivals}


def _drain(sink: SinkServer, expected: int) -> None:
    """Wait until the sink has ``expected`` webhooks, or nothing arrived for a minute, or DRAIN_TIMEOUT."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    last_count, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(sink.arrivals)
        if count >= expected:
            return
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > 60:
            return
        time.sleep(0.1)


def _reset(sink: SinkServer) -> None:
    with sink.lock:
        sink.arrivals = {}
        sink.requests = 0


def _ms(values: list[float], fraction: float) -> float:
    return round(percentile(values, fraction) * 1000, 1)


def measure(name: str, stack: Stack, sink: SinkServer, run_calls: Any) -> dict[str, Any]:
    """Run one phase (``run_calls()`` returns its calls), wait for its webhooks, and compute its figures."""
    _reset(sink)
    deaths_before = stack.web_worker_deaths()
    cpu_before = stack.cpu()
    calls: list[Call] = run_calls()
    accepted = sum(len(call.event_ids) for call in calls)
    _drain(sink, accepted)
    cpu_after = stack.cpu()
    arrived = _deliveries(calls, sink)
    latencies = [
        arrived[event_id] - call.started for call in calls for event_id in call.event_ids if event_id in arrived
    ]
    span = max(arrived.values(), default=0.0) - min((call.started for call in calls), default=0.0)
    responses = [call.seconds for call in calls]
    return {
        f"{name}_calls": len(calls),
        f"{name}_calls_failed": sum(call.status != 202 for call in calls),
        f"{name}_events_accepted": accepted,
        f"{name}_events_delivered": len(arrived),
        f"{name}_events_missing": accepted - len(arrived),
        f"{name}_webhooks_duplicated": sink.requests - len(sink.arrivals),
        f"{name}_delivered_per_s": round(len(arrived) / span, 1) if span > 0 else 0.0,
        f"{name}_call_to_sink_p50_ms": _ms(latencies, 0.5),
        f"{name}_call_to_sink_p99_ms": _ms(latencies, 0.99),
        f"{name}_call_to_sink_max_ms": _ms(latencies, 1.0),
        f"{name}_response_p50_ms": _ms(responses, 0.5),
        f"{name}_response_p99_ms": _ms(responses, 0.99),
        f"{name}_response_max_ms": _ms(responses, 1.0),
        **cpu.per_item_ms(cpu_before, cpu_after, accepted, name),
        f"{name}_web_worker_deaths": stack.web_worker_deaths() - deaths_before,
    }


def serial(port: int, token: str, sink: SinkServer, count: int) -> list[Call]:
    """One event at a time: each call waits for the previous event's webhook (or 5 s) before it starts."""
    poster = EventPoster(port, token)
    make = one_event("serial")
    calls = []
    for number in range(count):
        before = sink.requests
        started = time.time()
        status, ids = poster.post(make(0, number))
        calls.append(Call(started, time.time(), status, ids))
        deadline = time.monotonic() + 5
        while sink.requests == before and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(0.01)
    poster.close()
    return calls


def run() -> dict[str, Any]:
    from django.conf import settings
    from django.core.management import call_command

    problem = _environment_problem()
    if problem is not None:
        return {"skipped": problem}
    broker = settings.CELERY_BROKER_URL
    _prepare(broker)
    sink = SinkServer().start()
    _setup_tenant(sink.url, tenant_id=TENANT, rule_fields=RULE)
    output = io.StringIO()
    call_command("api_token", "bench_http", "--tenant", TENANT, "--role", "owner", stdout=output)
    token = output.getvalue().strip().splitlines()[-1]
    stack = Stack(os.environ["DATABASE_URL"], broker)
    figures: dict[str, Any] = {
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "web_command": " ".join(["python", *WEB_COMMAND[1:]]),
        "seconds_each": SECONDS,
    }
    stack.start()
    try:
        warm = closed_loop(stack.port, token, 2, 2, one_event("warmup"))
        _drain(sink, sum(len(call.event_ids) for call in warm))
        port = stack.port
        phases = {
            "closed": lambda: closed_loop(port, token, CLIENTS, SECONDS, one_event("closed")),
            "open": lambda: open_loop(port, token, RATE, SECONDS, CONNECTIONS, one_event("open")),
            "serial": lambda: serial(port, token, sink, SERIAL_EVENTS),
            "batched": lambda: closed_loop(port, token, BATCH_CLIENTS, SECONDS / 2, event_list("batched", BATCH)),
        }
        for name in PHASES:
            figures.update(measure(name, stack, sink, phases[name]))
        figures["load_average_at_end"] = round(os.getloadavg()[0], 2)
    finally:
        stack.stop()
        sink.close()
    return figures
