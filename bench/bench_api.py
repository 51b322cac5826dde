"""API benchmark: requests/s and p99 latency of list, get, create and test-conditions.

Setup (README "Production"): PostgreSQL database ``automations_api_bench`` (recreated), migrated,
1,000 rules in one tenant; the README's web server (``python -m config.web``) with production settings
and ``BENCH_API_WORKERS`` processes (default: one per CPU, its default), token authentication.

For each endpoint:
1. Throughput: closed loop, ``BENCH_API_CLIENTS`` client processes each sending requests back to back
   for ``BENCH_API_SECONDS``; requests/s is completed requests over wall time.
2. Latency: open loop at a fixed rate (``BENCH_API_RATE``, default 150 req/s, half the 300 req/s
   target), latency measured from each request's scheduled time, so a stalled server is not hidden
   (no coordinated omission); p50/p99 reported.

Targets (issue 7): get and test-conditions >= 300 req/s, and p99 <= 50 ms at half that rate.
Environment: BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/automations_api_bench).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/automations_api_bench")
RULES = 1000
SECONDS = float(os.environ.get("BENCH_API_SECONDS", "8"))
RATE = float(os.environ.get("BENCH_API_RATE", "150"))
CLIENTS = int(os.environ.get("BENCH_API_CLIENTS", "4"))
WORKERS = int(os.environ.get("BENCH_API_WORKERS", str(os.cpu_count() or 1)))
TENANT = "tenant_bench"

RULE_BODY = {
    "tenant_id": TENANT,
    "name": "Bench rule",
    "category": "product",
    "trigger_type": "threshold",
    "trigger_config": {"metric": "product_count", "operator": "<", "value": 3},
    "conditions": [{"type": "store_status", "operator": "=", "value": "active"}],
    "action_type": "send_notification",
    "action_config": {"recipients": ["owner"], "message": "Low product count"},
    "risk_level": "low",
}

SEED = r"""
import json, sys
import django
django.setup()
from io import StringIO
from django.core.management import call_command
call_command("migrate", verbosity=0)
out = StringIO()
call_command("api_token", "bencher", "--tenant", "%(tenant)s", "--role", "owner", stdout=out)
from automations.models import AutomationRule
from automations.services import rule_create
from governance.models import Tenant
tenant = Tenant.objects.get(pk="%(tenant)s")
body = json.loads(sys.argv[1])
body.pop("tenant_id")
ids = [rule_create(tenant, {**body, "name": f"Bench rule {i}"}).pk for i in range(%(rules)d)]
print(json.dumps({"token": out.getvalue().strip(), "rules": ids}))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": "bench-only-secret-key-not-for-production-use-0123456789abcdef",
            # Plain HTTP on a loopback port: no HTTPS redirect, no HSTS, cookies over HTTP.
            "SECURE_COOKIES": "0",
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_HSTS_SECONDS": "0",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": DATABASE_URL,
            "API_THROTTLE_RATE": "100000000/minute",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def _recreate_database() -> None:
    import psycopg

    parsed = urllib.parse.urlparse(DATABASE_URL)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def _seed(env: dict[str, str]) -> dict[str, Any]:
    script = SEED % {"tenant": TENANT, "rules": RULES}
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(RULE_BODY)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"seeding failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/api/schema/")
            if connection.getresponse().status == 401:  # up: the schema is for signed-in users
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the web server did not come up")


def _request(port: int, spec: dict[str, Any], index: int) -> int:
    """Send one request of ``spec`` (the index picks the rule); return the status code."""
    path = spec["path"].format(rule=spec["rules"][index % len(spec["rules"])])
    body = json.dumps(spec["body"]) if spec.get("body") is not None else None
    headers = {"Authorization": f"Token {spec['token']}", "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(spec["method"], path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _closed_loop_worker(port: int, spec: dict[str, Any], seconds: float, offset: int, queue: Any) -> None:
    done, errors, latencies = 0, 0, []
    end = time.monotonic() + seconds
    index = offset
    while time.monotonic() < end:
        started = time.perf_counter()
        status = _request(port, spec, index)
        latencies.append(time.perf_counter() - started)
        index += 1
        done += 1
        errors += status >= 400
    queue.put((done, errors, latencies))


def _server_cpu_seconds(master_pid: int) -> float:
    """User + system CPU time of the web server's main process and its workers, from /proc (Linux only)."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [master_pid]
    try:
        with open(f"/proc/{master_pid}/task/{master_pid}/children") as handle:
            pids += [int(pid) for pid in handle.read().split()]
    except OSError:
        return float("nan")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _throughput(port: int, spec: dict[str, Any], seconds: float, clients: int) -> dict[str, float]:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    processes = [
        context.Process(target=_closed_loop_worker, args=(port, spec, seconds, i * 7919, queue)) for i in range(clients)
    ]
    started = time.perf_counter()
    for process in processes:
        process.start()
    results = [queue.get() for _ in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    done = sum(result[0] for result in results)
    latencies = sorted(latency for result in results for latency in result[2])
    return {
        "requests": done,
        "requests_per_second": round(done / elapsed, 1),
        "errors": sum(result[1] for result in results),
        "closed_loop_p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
    }


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(fraction * len(values)))]


def _open_loop(port: int, spec: dict[str, Any], rate: float, seconds: float, threads: int = 16) -> dict[str, float]:
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker(first: int) -> None:
        for index in range(first, total, threads):
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            status = _request(port, spec, index)
            latency = time.perf_counter() - scheduled
            with lock:
                latencies.append(latency)
                errors[0] += status >= 400

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    latencies.sort()
    return {
        "rate": rate,
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
        "errors": errors[0],
    }


def run() -> dict[str, object]:
    env = _env()
    _recreate_database()
    seeded = _seed(env)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "config.web"],
        cwd=ROOT,
        env={**env, "WEB_BIND": f"127.0.0.1:{port}", "WEB_WORKERS": str(WORKERS)},
    )
    figures: dict[str, object] = {
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "rules_in_tenant": RULES,
        "web_workers": WORKERS,
        "client_processes": CLIENTS,
        "database": "postgresql",
    }
    try:
        _wait(port)
        common = {"token": seeded["token"], "rules": seeded["rules"]}
        specs = {
            "get": {"method": "GET", "path": "/api/automations/{rule}"},
            "test_conditions": {
                "method": "POST",
                "path": "/api/automations/{rule}/test-conditions",
                "body": {"context": {"product_count": 2, "store_status": "active"}},
            },
            "list": {"method": "GET", "path": f"/api/automations?tenant_id={TENANT}"},
            "create": {"method": "POST", "path": "/api/automations", "body": RULE_BODY},
        }
        for name, spec in specs.items():
            spec = {**common, **spec}
            if _request(port, spec, 0) >= 500:
                figures[name] = "unavailable (the endpoint answers 5xx on this branch)"
                continue
            light = name in ("get", "test_conditions")
            cpu_before = _server_cpu_seconds(server.pid)
            result = _throughput(port, spec, SECONDS if light else SECONDS / 2, CLIENTS)
            # Web-process CPU per request: what the figure would be on an otherwise idle machine
            # (capacity ~ cores / this), since the machine running the benchmark may be shared.
            cpu = _server_cpu_seconds(server.pid) - cpu_before
            result["server_cpu_ms_per_request"] = round(cpu / max(1, result["requests"]) * 1000, 2)
            rate = RATE if light else min(RATE, max(1.0, result["requests_per_second"] / 2))
            result["open_loop"] = _open_loop(port, spec, rate, SECONDS if light else SECONDS / 2)
            figures[name] = result
        for name in ("get", "test_conditions"):
            result = figures.get(name)
            if isinstance(result, dict):
                result["meets_target"] = result["requests_per_second"] >= 300 and result["open_loop"]["p99_ms"] <= 50
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
