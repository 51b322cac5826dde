"""``manage.py serve`` (what ``make run`` starts): web, worker and beat on SQLite and the filesystem
broker, an event posted to the web server is executed by the worker, and Ctrl-C stops all three."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

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


def test_serve_runs_web_worker_and_beat_and_stops_them_on_ctrl_c(tmp_path):
    # given a fresh install under its own var/ directory, migrated and seeded as make run does
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env.update({"AUTOMATIONS_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings.local"})
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run([*manage, *command], env=env, check=True, capture_output=True, timeout=120)
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        serve = subprocess.Popen(
            [*manage, "serve", "--addr", f"127.0.0.1:{port}", "--concurrency", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(settings.BASE_DIR),
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: http(f"{base}/admin/login/")[0] == 200, timeout=60, message="the web server")
        pids = {name: int(pid) for name, pid in re.findall(r"started (\w+) \(pid (\d+)\)", log_path.read_text())}
        assert set(pids) == {"web", "worker", "beat"}
        wait_for(lambda: b" ready." in log_path.read_bytes(), timeout=60, message="the worker")

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
        with sqlite3.connect(tmp_path / "db.sqlite3") as db:
            beat_entries = db.execute("SELECT count(*) FROM django_celery_beat_periodictask WHERE enabled").fetchone()
        assert beat_entries[0] >= 2
        assert all(alive(pid) for pid in pids.values())

        # and Ctrl-C stops web, worker and beat
        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=60) == 0, log_path.read_text()[-3000:]
        wait_for(lambda: not any(alive(pid) for pid in pids.values()), timeout=10, message="every child to exit")
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
