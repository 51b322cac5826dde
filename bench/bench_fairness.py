"""Fairness between tenants on the production stack: tenant A floods, tenant B posts one event a second (issue 20).

    make bench BENCH=fairness    # DATABASE_URL=postgres://.../<name>_bench, CELERY_BROKER_URL=redis://...

The stack is ``make bench BENCH=http``'s (``bench.bench_http.Stack``): ``python -m config.web``
(granian), one Celery worker with its default processes (one per CPU), PostgreSQL and
Redis, a local webhook sink in this process. Two tenants, each with the HTTP benchmark's rule
(``product_updated`` from the store, two conditions, a signed ``update_product`` webhook to the sink)
and an API token of its own.

Phases:
- ``unloaded``: B alone, one event per call at ``BENCH_FAIR_B_RATE`` (1) events/s for
  ``BENCH_FAIR_UNLOADED_SECONDS`` (120: at one event a second, 30 s made the unloaded p99 the single
  slowest event, and the bar is read against it);
- ``loaded``: A posts ``BENCH_FAIR_A_EVENTS`` (50,000) events as fast as it can, as lists of
  ``BENCH_FAIR_A_BATCH`` (500) per call over ``BENCH_FAIR_A_CONNECTIONS`` (4) client processes posting back
  to back, while B keeps its rate; B goes on until A's last webhook arrived (A's whole backlog) or
  ``BENCH_FAIR_DRAIN_TIMEOUT`` (900) seconds after A's last call, then stops. B's events still without a
  webhook 30 s later count as missing (their latency is then not in the percentiles: read both).

Figures: B's event -> webhook (call start -> sink arrival) p50 / p99 / max in each phase, and the loaded
over unloaded ratio of each (the bar: p99 within 2x); B's events that overlapped A's backlog; A's posting
rate (events accepted per second, first call to last answer) and delivery rate (first call to last
webhook), missing and duplicated webhooks of both; the load average (the machine is shared: 1-minute load
at start, at the loaded phase's start and end) and the worker's ``PIPELINE_BATCH_SIZE``.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from typing import Any

from bench.bench_http import RULE, Stack, _deliveries, _ms, backlog_lane_wanted
from bench.bench_pipeline import SinkServer, _environment_problem, _prepare, _setup_tenant
from bench.http_load import Call, EventPoster, calls_in_processes

A_EVENTS = int(os.environ.get("BENCH_FAIR_A_EVENTS", "50000"))
A_BATCH = int(os.environ.get("BENCH_FAIR_A_BATCH", "500"))
A_CONNECTIONS = int(os.environ.get("BENCH_FAIR_A_CONNECTIONS", "4"))
B_RATE = float(os.environ.get("BENCH_FAIR_B_RATE", "1"))
UNLOADED_SECONDS = float(os.environ.get("BENCH_FAIR_UNLOADED_SECONDS", "120"))
DRAIN_TIMEOUT = float(os.environ.get("BENCH_FAIR_DRAIN_TIMEOUT", "900"))
BACKLOG_LANE = backlog_lane_wanted("1")  # on unless BENCH_BACKLOG_LANE=0
TENANT_A = "bench_fair_a"
TENANT_B = "bench_fair_b"


def _body(tenant: str, tag: str, numbers: range) -> bytes:
    events = [
        {
            "tenant_id": tenant,
            "event_type": "product_updated",
            "source": "store",
            "payload": {"product_id": f"prod_{tag}_{number}", "price": 25},
        }
        for number in numbers
    ]
    return json.dumps(events[0] if len(events) == 1 else events).encode()


class SteadyPoster(threading.Thread):
    """Tenant B: one event per call at ``rate``/s on one kept-alive connection until ``stop`` is set; each
    call's ``started`` is its scheduled time (a call that is late counts its lateness)."""

    def __init__(self, port: int, token: str, rate: float, tag: str) -> None:
        super().__init__(daemon=True)
        self.poster = EventPoster(port, token)
        self.rate = rate
        self.tag = tag
        self.calls: list[Call] = []
        self.stop = threading.Event()

    def run(self) -> None:
        start = time.time()
        number = 0
        while not self.stop.is_set():
            scheduled = start + number / self.rate
            pause = scheduled - time.time()
            if pause > 0 and self.stop.wait(pause):
                break
            status, ids = self.poster.post(_body(TENANT_B, self.tag, range(number, number + 1)))
            self.calls.append(Call(scheduled, time.time(), status, ids))
            number += 1
        self.poster.close()


def _flood_client(port: int, token: str, client: int, calls: int, results: Any) -> None:
    poster = EventPoster(port, token)
    made = []
    for number in range(calls):
        first = (client * calls + number) * A_BATCH
        body = _body(TENANT_A, "flood", range(first, first + A_BATCH))
        started = time.time()
        status, ids = poster.post(body)
        made.append(Call(started, time.time(), status, ids))
    poster.close()
    results.put(made)


def flood(port: int, token: str) -> list[Call]:
    """A's ``A_EVENTS`` events as lists of ``A_BATCH``, over ``A_CONNECTIONS`` processes posting back to back."""
    per_client = max(1, A_EVENTS // (A_BATCH * A_CONNECTIONS))
    return calls_in_processes(_flood_client, [(port, token, client, per_client) for client in range(A_CONNECTIONS)])


def latencies(calls: list[Call], sink: SinkServer) -> list[float]:
    arrived = _deliveries(calls, sink)
    return [arrived[event_id] - call.started for call in calls for event_id in call.event_ids if event_id in arrived]


def _wait_delivered(calls: list[Call], sink: SinkServer, timeout: float) -> None:
    """Wait until every event of ``calls`` has its webhook at the sink, or ``timeout`` seconds."""
    expected = sum(len(call.event_ids) for call in calls)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(_deliveries(calls, sink)) < expected:
        time.sleep(0.1)


def _token(tenant: str) -> str:
    from django.core.management import call_command

    output = io.StringIO()
    call_command("api_token", tenant, "--tenant", tenant, "--role", "owner", stdout=output)
    return output.getvalue().strip().splitlines()[-1]


def _b_figures(name: str, calls: list[Call], sink: SinkServer) -> dict[str, Any]:
    values = latencies(calls, sink)
    accepted = sum(len(call.event_ids) for call in calls)
    return {
        f"b_{name}_events": accepted,
        f"b_{name}_events_missing": accepted - len(values),
        f"b_{name}_p50_ms": _ms(values, 0.5),
        f"b_{name}_p99_ms": _ms(values, 0.99),
        f"b_{name}_max_ms": _ms(values, 1.0),
    }


def run() -> dict[str, Any]:
    from django.conf import settings

    from executions.dispatch import batch_size
    from governance.models import MAX_QUOTA, Tenant

    problem = _environment_problem()
    if problem is not None:
        return {"skipped": problem}
    broker = settings.CELERY_BROKER_URL
    _prepare(broker)
    sink = SinkServer().start()
    for tenant in (TENANT_A, TENANT_B):
        _setup_tenant(sink.url, tenant_id=tenant, rule_fields=RULE)
    # A floods as fast as it can: its events quota lifted, so the queues are measured, not the 429s.
    Tenant.objects.filter(pk=TENANT_A).update(events_per_minute_quota=MAX_QUOTA, executions_per_hour_quota=MAX_QUOTA)
    token_a, token_b = _token(TENANT_A), _token(TENANT_B)
    stack = Stack(os.environ["DATABASE_URL"], broker, backlog_lane=BACKLOG_LANE)
    figures: dict[str, Any] = {
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "pipeline_batch_size": batch_size(),
        "backlog_lane": BACKLOG_LANE,
        "a_events": A_EVENTS,
        "a_batch_per_call": A_BATCH,
        "a_connections": A_CONNECTIONS,
        "b_rate_per_s": B_RATE,
    }
    stack.start()
    try:
        warm = SteadyPoster(stack.port, token_b, 10, "warmup")
        warm.start()
        time.sleep(1)
        warm.stop.set()
        warm.join()
        _wait_delivered(warm.calls, sink, 60)

        unloaded = SteadyPoster(stack.port, token_b, B_RATE, "unloaded")
        unloaded.start()
        time.sleep(UNLOADED_SECONDS)
        unloaded.stop.set()
        unloaded.join()
        _wait_delivered(unloaded.calls, sink, 60)
        figures.update(_b_figures("unloaded", unloaded.calls, sink))

        figures["load_average_loaded_start"] = round(os.getloadavg()[0], 2)
        loaded = SteadyPoster(stack.port, token_b, B_RATE, "loaded")
        loaded.start()
        flood_calls = flood(stack.port, token_a)
        accepted = sum(len(call.event_ids) for call in flood_calls)
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while time.monotonic() < deadline and len(_deliveries(flood_calls, sink)) < accepted:
            time.sleep(1)
        figures["load_average_loaded_end"] = round(os.getloadavg()[0], 2)
        loaded.stop.set()
        loaded.join()
        _wait_delivered(loaded.calls, sink, 30)
        figures.update(_b_figures("loaded", loaded.calls, sink))
        for key in ("p50", "p99", "max"):
            base = figures[f"b_unloaded_{key}_ms"]
            figures[f"b_{key}_ratio"] = round(figures[f"b_loaded_{key}_ms"] / base, 2) if base else float("nan")

        arrived = _deliveries(flood_calls, sink)
        first = min(call.started for call in flood_calls)
        posted_span = max(call.ended for call in flood_calls) - first
        delivered_span = max(arrived.values(), default=first) - first
        figures.update(
            {
                "a_calls_failed": sum(call.status != 202 for call in flood_calls),
                "a_events_accepted": accepted,
                "a_events_delivered": len(arrived),
                "a_accepted_per_s": round(accepted / posted_span, 1) if posted_span > 0 else 0.0,
                "a_delivered_per_s": round(len(arrived) / delivered_span, 1) if delivered_span > 0 else 0.0,
                "a_backlog_seconds": round(delivered_span, 1),
                "webhooks_duplicated": sink.requests - len(sink.arrivals),
                "web_worker_deaths": stack.web_worker_deaths(),
                "load_average_at_end": round(os.getloadavg()[0], 2),
            }
        )
    finally:
        stack.stop()
        sink.close()
    return figures
