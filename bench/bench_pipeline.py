"""End-to-end pipeline benchmark on PostgreSQL + Redis with real Celery worker processes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/automations_act_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/8 python -m bench pipeline

Figures (issue 4):
- ``throughput_events_per_s``: events accepted (``emit_events``, the service behind POST /api/events)
  -> matched -> conditions -> governance -> action -> signed webhook delivered to a local HTTP sink,
  every execution logged and recorded ``succeeded``; measured from the first event accepted to the
  last execution recorded. Target >= 250/s.
- ``latency_p50_ms`` / ``latency_p99_ms``: from an event accepted (``emit_event`` returned) to its
  webhook arriving at the sink, with events offered one by one at 100/s. Target p99 <= 250 ms.
  ``latency_at_low_rate_*``: the same at 5/s (below capacity: no queue in front of an event).
- ``neighbour_*``: tenant A's endpoint hangs (answers after ``BENCH_HANG_SECONDS``, past the read
  timeout) while tenants A and B each offer ``NEIGHBOUR_RATE`` events/s; B's event -> webhook latency.
  Target: B's p99 under 1 s (issue 14: a hanging receiver must not stall other tenants' deliveries).
- ``match_lookup_*``: the time of ``match_event``'s rule lookup (``rules_matching_event``) with 10 rules
  in the database, then with 100,000 rules over 10,000 tenants. Target: within 2x.

The database name must end in ``_bench`` (its automation tables are emptied first).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

THROUGHPUT_EVENTS = int(os.environ.get("BENCH_PIPELINE_EVENTS", "2000"))
LATENCY_RATE = 100  # events per second
LATENCY_SECONDS = int(os.environ.get("BENCH_PIPELINE_LATENCY_SECONDS", "10"))
LOW_RATE = int(os.environ.get("BENCH_PIPELINE_LOW_RATE", "5"))
WORKERS = int(os.environ.get("BENCH_PIPELINE_WORKERS", "1"))
# Celery's own default, as the README's production command runs it: one worker process per CPU.
CONCURRENCY = int(os.environ.get("BENCH_PIPELINE_CONCURRENCY", str(os.cpu_count() or 1)))
# Pin worker i to the i-th CPU list (taskset -c), e.g. "0,1" for two workers on separate cores; empty: unpinned.
WORKER_CPUS = [cpus for cpus in os.environ.get("BENCH_WORKER_CPUS", "").split(";") if cpus]
NEIGHBOUR_RATE = int(os.environ.get("BENCH_NEIGHBOUR_RATE", "20"))  # events per second and tenant
HANG_SECONDS = float(os.environ.get("BENCH_HANG_SECONDS", "20"))
MATCH_TENANTS = 10_000
MATCH_RULES_PER_TENANT = 10
TABLES = (
    "webhook_delivery_attempts",
    "webhook_deliveries",
    "webhook_endpoints",
    "automation_notifications",
    "automation_approval_requests",
    "automation_executions",
    "automation_events",
    "automation_metric_samples",
    "automation_rule_versions",
    "automation_rules",
)


class SinkServer:
    """A local HTTP receiver: records (arrival time, execution id) per request, answers 200.

    ``hang_seconds``: wait that long before answering (a receiver that hangs); the arrival is still recorded.
    """

    def __init__(self, hang_seconds: float = 0.0) -> None:
        self.arrivals: dict[int, float] = {}
        self.requests = 0
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrived = time.time()
                webhook_id = self.headers.get("webhook-id", "")
                execution_id = int(webhook_id.removeprefix("execution_")) if webhook_id else 0
                with sink.lock:
                    sink.requests += 1
                    sink.arrivals.setdefault(execution_id, arrived)
                del body
                if hang_seconds:
                    time.sleep(hang_seconds)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # a hanging answer after the sender's timeout: it has gone, as intended

            def log_message(self, format: str, *args: object) -> None:
                pass

        # A listen backlog like a real receiver's (Python's default of 5 resets connections when a batch of
        # webhook POSTs arrives at once).
        server_class = type("SinkHTTPServer", (ThreadingHTTPServer,), {"request_queue_size": 256})
        self.server = server_class(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> SinkServer:
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def stray_bench_processes() -> list[int]:
    """Pids of what an earlier benchmark started and that still runs: Celery workers (``--hostname
    bench-...``), which would take this run's messages, and web servers (``python -m config.web`` on a
    ``*_bench`` database), which would take this run's CPU. An interrupted run leaves them in their own
    sessions."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            web = b"config.web" in argv and _serves_a_bench_database(entry)
        except OSError:
            continue
        if web or (b"celery" in b" ".join(argv) and any(arg.startswith(b"bench-") for arg in argv)):
            found.append(int(entry.name))
    return found


def _serves_a_bench_database(process: Path) -> bool:
    """True when the process's environment names a ``*_bench`` database (``DATABASE_URL``)."""
    for variable in (process / "environ").read_bytes().split(b"\0"):
        if variable.startswith(b"DATABASE_URL="):
            return variable.rsplit(b"/", 1)[-1].split(b"?")[0].endswith(b"_bench")
    return False


def _environment_problem() -> str | None:
    """Why this benchmark can't run here (it needs PostgreSQL, and Redis or RabbitMQ, and no worker left by an
    earlier run), or None."""
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql" or not str(connection.settings_dict["NAME"]).endswith("_bench"):
        return "needs DATABASE_URL=postgres://.../<name>_bench (its tables are emptied)"
    strays = stray_bench_processes()
    if strays:
        return f"processes of an earlier benchmark still run (pids {strays}): stop them first (kill {strays[0]} ...)"
    if not settings.CELERY_BROKER_URL.startswith(("redis://", "amqp://")):
        return "needs CELERY_BROKER_URL=redis://127.0.0.1:6379/<db> (or amqp://... for RabbitMQ)"
    return None


def _prepare(broker: str) -> None:
    import redis
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
    if broker.startswith("redis://"):
        redis.Redis.from_url(broker).flushdb()
    else:  # RabbitMQ: empty the pipeline's queues
        from executions.celery_app import celery_app

        celery_app().control.purge()


def _start_workers(
    database_url: str,
    broker: str,
    log_dir: Path,
    extra_env: dict[str, str] | None = None,
    backlog_lane: bool = False,
) -> list[subprocess.Popen]:
    """``WORKERS`` Celery workers of ``CONCURRENCY`` processes each; ``extra_env`` adds to their environment.

    ``backlog_lane``: AUTOMATIONS_BACKLOG_LANE on, and one more worker of ``CONCURRENCY`` processes for the
    backlog queue at ``nice -n 10``, as the README's production section runs it."""
    from django.conf import settings

    from executions.worker import QUEUES, AutomationWorker

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local"),
        "DEBUG": "false",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker,
        "AUTOMATIONS_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        "AUTOMATIONS_NOTICE_CHANNELS": "",
        "DATABASE_CONN_MAX_AGE": os.environ.get("DATABASE_CONN_MAX_AGE", "60"),
        **(extra_env or {}),
    }
    if backlog_lane:
        env["AUTOMATIONS_BACKLOG_LANE"] = "true"
    processes = []
    lanes = [("worker", index, QUEUES) for index in range(WORKERS)]
    if backlog_lane:
        lanes.append(("backlog", 0, ("backlog",)))
    for name, index, queues in lanes:
        log = (log_dir / f"bench-pipeline-{name}-{index}.log").open("wb")
        command = AutomationWorker(concurrency=CONCURRENCY, loglevel="WARNING", queues=queues).command(
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--hostname",
            f"bench-{name}-{index}-{os.getpid()}@%h",
        )
        if WORKER_CPUS:
            command = ["taskset", "-c", WORKER_CPUS[index % len(WORKER_CPUS)], *command]
        if name == "backlog":
            command = ["nice", "-n", "10", *command]
        processes.append(
            subprocess.Popen(
                command,
                cwd=str(settings.BASE_DIR),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    return processes


def _stop_workers(processes: list[subprocess.Popen]) -> None:
    import signal

    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _wait(condition: Any, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


BENCH_RULE = {
    "name": "Restock after a new product",
    "trigger_type": "event",
    "trigger_config": {"event_type": "product_added", "source": "store"},
    "conditions": [{"type": "store_status", "operator": "=", "value": "active"}],
    "action_type": "add_product",
    "action_config": {"template_id": "holiday_product", "count": 2, "category": "seasonal"},
    "risk_level": "low",
}


def _setup_tenant(sink_url: str, tenant_id: str = "bench_pipeline", rule_fields: dict[str, Any] | None = None) -> Any:
    """A fresh tenant whose store is active, one rule (``BENCH_RULE``, or ``rule_fields``) and a webhook
    endpoint at ``sink_url`` for the rule's action type."""
    from executions.delivery.services import endpoint_create
    from executions.models import MetricSample
    from governance.models import Tenant
    from tests.factories import make_rule

    Tenant.objects.filter(id=tenant_id).delete()
    tenant = Tenant.objects.create(id=tenant_id, name=f"Bench shop {tenant_id}", timezone="UTC")
    MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")
    rule = make_rule(tenant, None, **(rule_fields or BENCH_RULE))
    from django.conf import settings
    from django.test.utils import override_settings

    # The sink is on loopback; override_settings tells app_settings (a plain assignment would not).
    override_settings(AUTOMATIONS={**settings.AUTOMATIONS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True}).enable()
    endpoint_create(tenant, sink_url, action_type=rule.action_type)
    return tenant, rule


def _succeeded(rule: Any) -> int:
    from executions.choices import ExecutionStatus
    from executions.models import AutomationExecution

    return AutomationExecution.objects.filter(automation_rule=rule, status=ExecutionStatus.SUCCEEDED).count()


def bench_throughput(tenant: Any, rule: Any, sink: SinkServer) -> dict[str, Any]:
    from django.db.models import Max

    from bench import cpu
    from executions.models import AutomationExecution
    from executions.services import emit_events

    already = _succeeded(rule)
    cpu_before = cpu.snapshot()
    started = time.time()
    batch = 100
    for offset in range(0, THROUGHPUT_EVENTS, batch):
        emit_events(
            [
                {"tenant_id": tenant.pk, "event_type": "product_added", "source": "store", "payload": {"n": offset + i}}
                for i in range(min(batch, THROUGHPUT_EVENTS - offset))
            ]
        )
    accepted = time.time() - started
    done = _wait(lambda: _succeeded(rule) - already >= THROUGHPUT_EVENTS, timeout=600, interval=0.2)
    last = AutomationExecution.objects.filter(automation_rule=rule).aggregate(last=Max("action_completed_at"))["last"]
    elapsed = (last.timestamp() if last else time.time()) - started
    cpu_used = cpu.per_item_ms(cpu_before, cpu.snapshot(), THROUGHPUT_EVENTS, "throughput")
    return {
        "throughput_events": THROUGHPUT_EVENTS,
        "throughput_all_succeeded": done,
        "throughput_accept_events_per_s": round(THROUGHPUT_EVENTS / accepted, 1),
        "throughput_events_per_s": round(THROUGHPUT_EVENTS / elapsed, 1),
        "throughput_seconds": round(elapsed, 2),
        "sink_requests": sink.requests,
        **cpu_used,
    }


def bench_latency(
    tenant: Any, rule: Any, sink: SinkServer, rate: int, seconds: int, label: str, alongside: Any = None
) -> dict[str, Any]:
    """Events offered one by one at ``rate``/s for ``seconds``; each one's accepted -> webhook latency.

    ``alongside``: another tenant that sends one event beside each measured one (not measured).
    """
    from executions.models import AutomationExecution
    from executions.services import emit_event

    already = _succeeded(rule)
    accepted_at: dict[int, float] = {}
    total = rate * seconds
    interval = 1.0 / rate
    start = time.monotonic()
    for index in range(total):
        due = start + index * interval
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        if alongside is not None:
            emit_event(alongside.pk, "product_added", {"n": index}, source="store")
        result = emit_event(tenant.pk, "product_added", {"n": index}, source="store")
        accepted_at[result.id] = time.time()
    offered_rate = total / (time.monotonic() - start)
    done = _wait(lambda: _succeeded(rule) - already >= total, timeout=300, interval=0.2)
    pairs = dict(AutomationExecution.objects.filter(event_id__in=list(accepted_at)).values_list("event_id", "pk"))
    latencies = [
        (sink.arrivals[pairs[event_id]] - accepted) * 1000
        for event_id, accepted in accepted_at.items()
        if event_id in pairs and pairs[event_id] in sink.arrivals
    ]
    return {
        f"{label}_events": total,
        f"{label}_offered_events_per_s": round(offered_rate, 1),
        f"{label}_all_delivered": done and len(latencies) == total,
        f"{label}_p50_ms": round(_percentile(latencies, 0.5), 1),
        f"{label}_p90_ms": round(_percentile(latencies, 0.9), 1),
        f"{label}_p99_ms": round(_percentile(latencies, 0.99), 1),
        f"{label}_max_ms": round(max(latencies, default=float("nan")), 1),
    }


def bench_neighbour(tenant_b: Any, rule_b: Any, sink_b: SinkServer, seconds: int) -> dict[str, Any]:
    """Tenant A's receiver hangs; both tenants offer events at the same rate; B's event -> webhook latency."""
    hanging = SinkServer(hang_seconds=HANG_SECONDS).start()
    try:
        tenant_a, _rule_a = _setup_tenant(hanging.url, tenant_id="bench_hanging")
        figures = bench_latency(tenant_b, rule_b, sink_b, NEIGHBOUR_RATE, seconds, "neighbour_b", alongside=tenant_a)
        return {"neighbour_hang_seconds": HANG_SECONDS, "neighbour_hanging_posts_received": hanging.requests, **figures}
    finally:
        hanging.close()


def _lookup_ms(event: Any, runs: int = 300) -> float:
    from executions.selectors import rules_matching_event

    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        rules_matching_event(event)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def bench_matching() -> dict[str, Any]:
    from django.db import connection

    from automations.models import AutomationRule
    from executions.models import Event
    from governance.models import Tenant

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
    Tenant.objects.filter(id__startswith="match_").delete()
    tenants = [Tenant(id=f"match_{i:05d}", name=f"Match {i}", timezone="UTC") for i in range(MATCH_TENANTS)]
    Tenant.objects.bulk_create(tenants, batch_size=5000)

    def rule(tenant_id: str, n: int) -> AutomationRule:
        return AutomationRule(
            tenant_id=tenant_id,
            name=f"rule {n}",
            trigger_type="event",
            trigger_config={"event_type": "product_added" if n % 2 == 0 else "order_placed", "source": "store"},
            event_type="product_added" if n % 2 == 0 else "order_placed",
            conditions=[],
            action_type="add_product",
            action_config={"template_id": "t"},
        )

    probe_tenant = tenants[MATCH_TENANTS // 2].pk
    AutomationRule.objects.bulk_create([rule(probe_tenant, n) for n in range(MATCH_RULES_PER_TENANT)])
    event = Event.objects.create(tenant_id=probe_tenant, event_type="product_added", source="store", payload={})
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE automation_rules")
    small_ms = _lookup_ms(event)
    small_matches = len(__import__("executions.selectors", fromlist=["x"]).rules_matching_event(event))

    started = time.perf_counter()
    others = (t.pk for t in tenants if t.pk != probe_tenant)
    batch: list[AutomationRule] = []
    for tenant_id in others:
        batch.extend(rule(tenant_id, n) for n in range(MATCH_RULES_PER_TENANT))
        if len(batch) >= 10_000:
            AutomationRule.objects.bulk_create(batch, batch_size=5000)
            batch = []
    AutomationRule.objects.bulk_create(batch, batch_size=5000)
    load_s = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE automation_rules")
    large_ms = _lookup_ms(event)
    total_rules = AutomationRule.objects.count()
    return {
        "match_rules_small": MATCH_RULES_PER_TENANT,
        "match_rules_large": total_rules,
        "match_tenants_large": MATCH_TENANTS,
        "match_rules_load_s": round(load_s, 1),
        "match_rules_matched": small_matches,
        "match_lookup_10_rules_ms": round(small_ms, 3),
        "match_lookup_100k_rules_ms": round(large_ms, 3),
        "match_lookup_ratio": round(large_ms / small_ms, 2),
    }


def run() -> dict[str, Any]:
    from django.conf import settings

    problem = _environment_problem()
    if problem is not None:
        return {"skipped": problem}
    database_url, broker = os.environ["DATABASE_URL"], settings.CELERY_BROKER_URL
    _prepare(broker)
    figures: dict[str, Any] = {"workers": WORKERS, "worker_concurrency": CONCURRENCY}
    sink = SinkServer().start()
    log_dir = Path(settings.BASE_DIR) / "var"
    log_dir.mkdir(exist_ok=True)
    processes = _start_workers(database_url, broker, log_dir)
    try:
        tenant, rule = _setup_tenant(sink.url)
        # warm up: worker processes up, connections made, code paths imported
        from executions.services import emit_event

        emit_event(tenant.pk, "product_added", {"warmup": True}, source="store")
        if not _wait(lambda: _succeeded(rule) >= 1, timeout=120, interval=0.2):
            raise SystemExit(f"the workers did not process the warm-up event; see {log_dir}")
        figures.update(bench_throughput(tenant, rule, sink))
        time.sleep(1)
        figures.update(bench_latency(tenant, rule, sink, LATENCY_RATE, LATENCY_SECONDS, "latency"))
        time.sleep(1)
        # Below capacity: what one event costs end to end when nothing queues in front of it.
        figures.update(bench_latency(tenant, rule, sink, LOW_RATE, LATENCY_SECONDS, "latency_at_low_rate"))
        time.sleep(1)
        figures.update(bench_neighbour(tenant, rule, sink, LATENCY_SECONDS))
    finally:
        _stop_workers(processes)
        sink.close()
    figures.update(bench_matching())
    return figures


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    for key, value in run().items():
        print(f"{key}: {value}")
