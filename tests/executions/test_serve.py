"""``manage.py serve`` (what ``make run`` starts): web, worker and beat on SQLite and the filesystem
broker, an event posted to the web server is executed by the worker, and Ctrl-C stops all three."""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.executions.delivery.sink import Sink
from tests.executions.workers import wait_for

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie waiting for its parent to reap it is not running
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def stop(serve: subprocess.Popen) -> None:
    """Stop serve as Ctrl-C does, so it stops its children (each in a session of its own, which a
    SIGKILL of serve would leave running); SIGKILL only if it does not stop."""
    if serve.poll() is None:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()


def http(url: str, body: dict | None = None, auth: str = "") -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


MANAGE = [sys.executable, str(settings.BASE_DIR / "manage.py")]


def install_env(var_dir: Path, **extra_env: str) -> dict[str, str]:
    """The environment of make run's install under ``var_dir`` (local settings, SQLite, filesystem broker)."""
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env.update(
        {
            "AUTOMATIONS_VAR_DIR": str(var_dir),
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DEMO_STORE": "off",
            **extra_env,
        }
    )
    return env


_migrated: list[Path] = []


def migrated_database() -> Path:
    """A database file ``manage.py migrate`` made, once per test process (a dozen migrations take seconds
    each on a busy machine): each install starts from a copy of it, as from its own migrate. No migration
    reads the environment or settings, so the copy is what migrate would have made under any install."""
    if not _migrated:
        folder = Path(tempfile.mkdtemp(prefix="migrated-install-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        subprocess.run(
            [*MANAGE, "migrate", "--noinput"], env=install_env(folder), check=True, capture_output=True, timeout=300
        )
        _migrated.append(folder / "db.sqlite3")
    return _migrated[0]


def install(tmp_path: Path, seed: bool = True, **extra_env: str) -> dict[str, str]:
    """make run's install under its own var/ directory (migrated, and seeded as make run does); its env.

    The demo store is off unless ``DEMO_STORE="on"`` is passed: these tests count what they post themselves.
    """
    env = install_env(tmp_path, **extra_env)
    # SQLite's backup API: a whole, consistent copy, whatever the journal mode left beside the file
    source, copy = sqlite3.connect(migrated_database()), sqlite3.connect(tmp_path / "db.sqlite3")
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()
    if seed:
        subprocess.run([*MANAGE, "seed_demo"], env=env, check=True, capture_output=True, timeout=120)
    return env


def start_serve(env: dict[str, str], tmp_path: Path, *options: str) -> tuple[subprocess.Popen, str, Path]:
    """``manage.py serve`` on a free port, its output in serve.log: (process, base URL, log path)."""
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        serve = subprocess.Popen(
            [*MANAGE, "serve", "--addr", f"127.0.0.1:{port}", *options],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(settings.BASE_DIR),
        )
    return serve, f"http://127.0.0.1:{port}", log_path


def test_serve_runs_web_worker_and_beat_and_stops_them_on_ctrl_c(tmp_path):
    # given a fresh install under its own var/ directory, migrated and seeded as make run does
    serve, base, log_path = start_serve(install(tmp_path), tmp_path, "--concurrency", "1")
    try:
        wait_for(lambda: http(f"{base}/admin/login/")[0] == 200, timeout=60, message="the web server")
        pids = {name: int(pid) for name, pid in re.findall(r"started (\w+) \(pid (\d+)\)", log_path.read_text())}
        assert set(pids) == {"web", "worker", "beat"}
        wait_for(lambda: b" ready." in log_path.read_bytes(), timeout=60, message="the worker")
        # DEBUG (debug pages) is the web server's; the worker and beat run without it unless it is set
        debug = {name: environ_of(pid).get("DEBUG") for name, pid in pids.items()}
        assert debug == {
            "web": os.environ.get("DEBUG"),
            **dict.fromkeys(("worker", "beat"), os.environ.get("DEBUG", "off")),
        }

        # when an event is posted to the web server
        status, body = http(
            f"{base}/api/events",
            {"tenant_id": "tenant_demo", "event_type": "product_added", "source": "store"},
            auth=f"demo_owner:{os.environ.get('DEMO_PASSWORD', 'demo-password')}",
        )
        assert status == 202, body
        event_id = json.loads(body)["events"][0]["id"]

        # then the separate worker process runs it
        def executed() -> str | None:
            with sqlite3.connect(tmp_path / "db.sqlite3", timeout=30) as db:
                row = db.execute("SELECT status FROM automation_executions WHERE event_id = ?", (event_id,)).fetchone()
            return row[0] if row and row[0] == "succeeded" else None

        assert wait_for(executed, timeout=60, message="the worker to run the event") == "succeeded"

        # and /metrics (loopback, no token under make run) adds up what web and worker processes counted;
        # a run no webhook endpoint received is counted under its own status label, recorded_only
        with sqlite3.connect(tmp_path / "db.sqlite3", timeout=30) as db:
            counts = dict(
                db.execute(
                    "SELECT recorded_only, count(*) FROM automation_executions WHERE status = 'succeeded' "
                    "AND trigger_source = 'event' GROUP BY recorded_only"  # the lines read below: beat's runs apart
                ).fetchall()
            )
        by_label = {"succeeded": counts.get(0, 0), "recorded_only": counts.get(1, 0)}
        ran = sum(by_label.values())

        def scraped() -> str | None:
            status, text = http(f"{base}/metrics")
            assert status == 200, text[:500]
            expected = [
                f'automations_executions_ended_total{{status="{label}",trigger_source="event"}} {float(count)}'
                for label, count in by_label.items()
                if count
            ]
            return text if all(line in text for line in expected) else None

        text = wait_for(scraped, timeout=30, message="the worker's counts in /metrics")
        assert "automations_events_accepted_total 1.0" in text
        assert f'automations_pipeline_latency_seconds_count{{trigger_source="event"}} {float(ran)}' in text
        assert "automations_oldest_undispatched_event_age_seconds 0.0" in text
        with sqlite3.connect(tmp_path / "db.sqlite3") as db:
            beat_entries = db.execute("SELECT count(*) FROM django_celery_beat_periodictask WHERE enabled").fetchone()
        assert beat_entries[0] >= 2
        assert all(alive(pid) for pid in pids.values())

        # and Ctrl-C stops web, worker and beat
        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=60) == 0, log_path.read_text()[-3000:]
        wait_for(lambda: not any(alive(pid) for pid in pids.values()), timeout=10, message="every child to exit")
    finally:
        stop(serve)


def environ_of(pid: int) -> dict[str, str]:
    """A process's environment, as it was started (Linux /proc)."""
    entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(entry.decode().split("=", 1) for entry in entries if b"=" in entry)


def started_pids(log_path: Path) -> dict[str, list[int]]:
    """Every child serve started, in order: {"web": [pid, ...], ...}."""
    pids: dict[str, list[int]] = {}
    for name, pid in re.findall(r"started (\w+) \(pid (\d+)\)", log_path.read_text()):
        pids.setdefault(name, []).append(int(pid))
    return pids


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_serve_restarts_a_child_that_dies_or_wedges_and_loses_no_event(tmp_path):
    # given make run's install, served with a quick canary so a wedged worker is found in seconds, and
    # sweepers that re-queue what a killed worker held after seconds instead of a minute
    env = install(tmp_path, AUTOMATIONS_SWEEP_AFTER_SECONDS="5", AUTOMATIONS_EXECUTION_LEASE_SECONDS="15")
    canary = ["--canary-interval", "2", "--canary-timeout", "3", "--canary-misses", "2"]
    serve, base, log_path = start_serve(env, tmp_path, "--concurrency", "2", *canary)
    auth = f"demo_owner:{os.environ.get('DEMO_PASSWORD', 'demo-password')}"

    def post_events(prefix: str, count: int, retry_for: float = 0) -> list[int]:
        """Post events as a client does: with an idempotency key, and (for ``retry_for`` seconds) again with
        the same key when the server does not answer 202 (a stopped pool process may hold SQLite's write
        lock until serve replaces the worker)."""
        ids = []
        for index in range(count):
            body = {"tenant_id": "tenant_demo", "event_type": "product_added", "source": "store"}
            body["idempotency_key"] = f"{prefix}-{index}"
            deadline = time.monotonic() + retry_for
            status, text = http(f"{base}/api/events", body, auth=auth)
            while status != 202 and time.monotonic() < deadline:
                time.sleep(1)
                status, text = http(f"{base}/api/events", body, auth=auth)
            assert status == 202, text
            ids.append(json.loads(text)["events"][0]["id"])
        return ids

    def executions_per_event(ids: list[int]) -> dict[int, int]:
        with sqlite3.connect(tmp_path / "db.sqlite3", timeout=30) as db:
            rows = db.execute(
                f"SELECT event_id, count(*) FROM automation_executions WHERE event_id IN ({','.join('?' * len(ids))}) "
                "AND status = 'succeeded' GROUP BY event_id",
                ids,
            ).fetchall()
        return dict(rows)

    try:
        wait_for(lambda: http(f"{base}/admin/login/")[0] == 200, timeout=60, message="the web server")
        wait_for(lambda: b" ready." in log_path.read_bytes(), timeout=60, message="the worker")
        first = {name: pids[0] for name, pids in started_pids(log_path).items()}

        # when web and beat are killed, each comes back and the others stay up
        for name in ("web", "beat"):
            os.killpg(started_pids(log_path)[name][-1], signal.SIGKILL)
            wait_for(lambda name=name: len(started_pids(log_path)[name]) == 2, timeout=30, message=f"{name} back")
        assert alive(first["worker"])
        wait_for(lambda: http(f"{base}/admin/login/")[0] == 200, timeout=60, message="the restarted web server")

        # when the worker is killed during a burst of events, no event is lost or run twice
        burst = post_events("burst", 10)
        os.killpg(started_pids(log_path)["worker"][-1], signal.SIGKILL)
        burst += post_events("after-kill", 10)
        wait_for(lambda: len(started_pids(log_path)["worker"]) == 2, timeout=30, message="the worker back")
        wait_for(lambda: len(executions_per_event(burst)) == len(burst), timeout=180, message="every event run")
        assert set(executions_per_event(burst).values()) == {1}

        # when the worker's pool stops consuming (alive, but wedged), the canary finds it and serve replaces it
        worker_pid = started_pids(log_path)["worker"][-1]
        for pool_pid in children_of(worker_pid):
            os.kill(pool_pid, signal.SIGSTOP)
        wedged = post_events("wedged", 3, retry_for=90)
        wait_for(lambda: len(started_pids(log_path)["worker"]) == 3, timeout=90, message="the wedged worker replaced")
        assert "answered no canary" in log_path.read_text()
        wait_for(lambda: len(executions_per_event(wedged)) == 3, timeout=180, message="the wedged events run")
        assert all(alive(started_pids(log_path)[name][-1]) for name in ("web", "worker", "beat"))

        # and Ctrl-C still stops all three
        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=60) == 0, log_path.read_text()[-3000:]
    finally:
        stop(serve)
        for pids in started_pids(log_path).values():
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)


def test_serve_says_when_the_port_is_taken(tmp_path):
    env = install(tmp_path, seed=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*MANAGE, "serve", "--addr", f"127.0.0.1:{port}"], env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode != 0
    assert f"127.0.0.1:{port} is already in use" in result.stderr and "make run PORT=" in result.stderr
    assert "Traceback" not in result.stderr


def test_json_logs_of_a_full_run_parse_carry_the_ids_and_hold_no_secrets(tmp_path):
    # given make run's install with LOG_FORMAT=json, a webhook receiver with a signing secret, an API token
    env = install(tmp_path, LOG_FORMAT="json", AUTOMATIONS_WEBHOOK_ALLOW_PRIVATE_NETWORKS="true")
    sink = Sink().start()
    create_endpoint = (
        "from executions.delivery.services.endpoints import endpoint_create; from governance.models import Tenant; "
        f"print(endpoint_create(Tenant.objects.get(pk='tenant_demo'), {sink.url()!r}, "
        "action_type='create_landing_page').secret)"
    )
    made = subprocess.run(
        [*MANAGE, "shell", "-c", create_endpoint], env=env, capture_output=True, text=True, timeout=60
    )
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_"), made.stdout + made.stderr
    made = subprocess.run(
        [*MANAGE, "api_token", "demo_owner", "--tenant", "tenant_demo"], env=env, capture_output=True, text=True
    )
    token = made.stdout.strip().splitlines()[-1]
    password = os.environ.get("DEMO_PASSWORD", "demo-password")
    marker = "payload-marker-5f0c2d"
    serve, base, log_path = start_serve(env, tmp_path, "--concurrency", "1")
    try:
        wait_for(lambda: http(f"{base}/admin/login/")[0] == 200, timeout=60, message="the web server")
        wait_for(lambda: b" ready." in log_path.read_bytes(), timeout=60, message="the worker")

        # when events are posted with Basic auth and with the token, and the worker delivers the webhooks
        event = {"tenant_id": "tenant_demo", "event_type": "product_added", "source": "store"}
        status, body = http(f"{base}/api/events", {**event, "payload": {"note": marker}}, auth=f"demo_owner:{password}")
        assert status == 202, body
        request = urllib.request.Request(
            f"{base}/api/events",
            data=json.dumps({**event, "payload": {"note": marker + "-2"}}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 202
        assert sink.wait_for_requests(2, timeout=60), "the webhooks"
        assert not sink.unverified_webhooks([secret]), "standardwebhooks verifies what the worker sent"
        signature = sink.requests[0].headers["webhook-signature"]
        webhook_body = sink.requests[0].body.decode()
        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=60) == 0
    finally:
        sink.close()
        stop(serve)

    # then every line is one JSON object with a level, a logger and a timestamp, but for the notice Celery
    # prints straight to the terminal from its signal handler (documented in docs/operations.md)
    text = log_path.read_text()
    raw = [line for line in text.splitlines() if line.strip()]
    assert [line for line in raw if not line.startswith("{")] == ["worker: Warm shutdown (MainProcess)"]
    lines = [json.loads(line) for line in raw if line.startswith("{")]
    assert all({"event", "level", "logger", "timestamp"} <= set(line) for line in lines)
    # pipeline lines carry the tenant, rule and event ids; web lines the request id, user and address
    matched = [line for line in lines if line["logger"] == "executions.pipeline.match"]
    assert len(matched) >= 2
    assert all(line["tenant_id"] == "tenant_demo" and line["rule_id"] and line["event_id"] for line in matched)
    finished = [line for line in lines if line["event"] == "request_finished" and "/api/events" in line["request"]]
    assert len(finished) == 2
    assert all(line["request_id"] and line["user_id"] and line["ip"] == "127.0.0.1" for line in finished)
    assert {line["code"] for line in finished} == {202}
    # and nothing secret or private is in the logs: passwords, tokens, signing secrets, signatures, webhook
    # bodies, event payloads
    for private in (password, token, secret, signature, webhook_body, marker):
        assert private not in text, private


@pytest.mark.django_db
def test_the_worker_runs_one_process_on_sqlite_and_two_elsewhere_unless_asked():
    from django.db import connection

    from executions.management.commands.serve import worker_processes

    # SQLite has one write lock: a second process only queues for it (docs/operations.md)
    assert worker_processes(None) == (1 if connection.vendor == "sqlite" else 2)
    assert worker_processes(3) == 3
