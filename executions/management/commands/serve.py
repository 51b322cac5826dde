"""Serve the whole product: the web server, a Celery worker and Celery beat, as three supervised processes,
and with ``DEMO_STORE`` on (the local settings: ``make run``) a fourth, the demo store (docs/demo.md).

``make run`` calls this after migrating and seeding. Each child runs in its own process group.

- A child that exits is logged and started again after a backoff (1 s, doubling up to 30 s; back to
  1 s once it has run for a minute); the others keep running.
- A worker that is alive but not consuming (a wedged pool) is found by the readiness canary
  (executions/health.py): every ``--canary-interval`` seconds a canary task goes through the broker;
  when ``--canary-misses`` in a row get no answer within ``--canary-timeout``, the worker's process
  group is killed and started again. Nothing is lost while a child restarts: events and executions are
  rows, and the sweepers re-queue what a lost message left behind.
- Ctrl-C (SIGINT) or SIGTERM stops every child: SIGTERM (Celery's warm shutdown), then SIGKILL after a
  grace period.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from executions.worker import AutomationWorker

logger = logging.getLogger(__name__)

GRACE_SECONDS = 15.0
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
HEALTHY_AFTER = 60.0  # a child that ran this long starts its backoff over


def metrics_dir() -> Path:
    """The children's shared Prometheus directory (multi-process mode), emptied: counts start at zero."""
    path = Path(settings.VAR_DIR) / "prometheus"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@dataclass
class Child:
    """One supervised process: its command, the running process, and its restart schedule."""

    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = BACKOFF_FIRST
    restart_at: float | None = None
    restarts: int = 0


@dataclass
class CanaryWatch:
    """Sends canaries from a thread of its own and counts the ones no worker answered."""

    interval: float
    timeout: float
    misses: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        from executions.health import canary_round_trip

        while not self.stop.wait(self.interval):
            try:
                answered = canary_round_trip(self.timeout) is not None
            except Exception:  # the broker is down: that is not the worker's fault, and it retries itself
                answered = True
            finally:
                connections.close_all()
            with self.lock:
                self.misses = 0 if answered else self.misses + 1

    def take_misses(self) -> int:
        with self.lock:
            return self.misses

    def reset(self) -> None:
        with self.lock:
            self.misses = 0


def loopback_url(addr: str) -> str:
    """The URL this machine reaches the web server at: a wildcard address becomes loopback."""
    host, _, port = addr.rpartition(":")
    if host in {"0.0.0.0", ""}:
        host = "127.0.0.1"
    elif host.strip("[]") == "::":
        host = "[::1]"
    return f"http://{host}:{port}"


def address_in_use(addr: str) -> bool:
    """Whether something already listens on ``host:port``."""
    host, _, port = addr.rpartition(":")
    with socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), int(port)))
        except OSError as error:
            return error.errno == errno.EADDRINUSE
    return False


def worker_processes(asked: int | None) -> int:
    """The worker's processes: ``asked``, else 1 on SQLite and 2 on a database that takes concurrent writes.

    SQLite has one write lock for the file: a second worker process only queues for it beside the web
    server, and each process then takes smaller batches (measured with ``make bench BENCH=embedded``, one
    process delivers about a fifth more; docs/operations.md).
    """
    if asked is not None:
        return asked
    return 1 if connections["default"].vendor == "sqlite" else 2


class Command(BaseCommand):
    help = "Run the web server, a Celery worker and Celery beat together, restarting any that stops, until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="address:port for the web server")
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help="worker processes (default: 1 on SQLite, whose one write lock two processes only queue for; else 2)",
        )
        parser.add_argument("--loglevel", default="INFO")
        parser.add_argument("--canary-interval", type=float, default=20.0, help="seconds between worker canaries")
        parser.add_argument("--canary-timeout", type=float, default=30.0, help="seconds a canary may take")
        parser.add_argument(
            "--canary-misses", type=int, default=2, help="unanswered canaries in a row before the worker is replaced"
        )

    def commands(self, addr: str, concurrency: int, loglevel: str) -> dict[str, list[str]]:
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        # JSON logs: no banners (Celery's --quiet), so every line of the children's logs is one JSON object.
        quiet = ["--quiet"] if settings.LOG_FORMAT == "json" else []
        celery = [python, "-m", "celery", "-A", "config", *quiet]
        demo = [python, manage, "demo_store", "--server", loopback_url(addr)] if settings.DEMO_STORE else None
        return {
            "web": [python, manage, "runserver", addr, "--noreload"],
            "worker": AutomationWorker(concurrency=concurrency, loglevel=loglevel).command(
                "--hostname", f"automations-{os.getpid()}@%h", global_options=quiet
            ),
            "beat": [
                *celery,
                "beat",
                "--loglevel",
                loglevel,
                "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler",
            ],
            **({"demo": demo} if demo else {}),
        }

    def handle(self, *args: Any, **options: Any) -> None:
        addr = options["addr"]
        if ":" not in addr or not addr.rpartition(":")[2].isdigit():
            raise CommandError(f"--addr must be host:port, such as 127.0.0.1:8000 (got {addr!r})")
        if address_in_use(addr):
            raise CommandError(
                f"{addr} is already in use: stop what runs there, or choose another port, "
                "e.g. make run PORT=8080 (or ADDR=127.0.0.1:8080)"
            )
        call_command("setup_periodic_tasks", verbosity=0, stdout=io.StringIO())  # its list is for humans
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local"),
            "PROMETHEUS_MULTIPROC_DIR": os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(metrics_dir()),
        }
        stopping: dict[str, int | None] = {"signal": None}

        def request_stop(signum: int, frame: Any) -> None:
            stopping["signal"] = signum

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        processes = worker_processes(options["concurrency"])
        children = {
            name: Child(name, command) for name, command in self.commands(addr, processes, options["loglevel"]).items()
        }
        watch = CanaryWatch(interval=options["canary_interval"], timeout=options["canary_timeout"])
        watcher = threading.Thread(target=watch.run, name="canary", daemon=True)
        try:
            for child in children.values():
                self._start(child)
            logger.info("serving on http://%s/ ; Ctrl-C stops %s", addr, ", ".join(children))
            watcher.start()
            while stopping["signal"] is None:
                self._supervise(children, watch, options["canary_misses"])
                time.sleep(0.3)
        finally:
            watch.stop.set()
            self._stop(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        logger.info("stopped %s", ", ".join(children))

    def _start(self, child: Child) -> None:
        # Own process group: a child's own children (worker pool, ...) are stopped with it. With JSON logs
        # the web server's stdout (runserver's banner; its request lines are logged) is dropped.
        banner = subprocess.DEVNULL if settings.LOG_FORMAT == "json" and child.name == "web" else None
        # Debug pages are the web server's; elsewhere DEBUG only records every query (on SQLite with one more
        # statement each, inside the transaction) and Celery warns of it. Off there unless DEBUG is set.
        env = self.env if child.name == "web" else {**self.env, "DEBUG": os.environ.get("DEBUG", "off")}
        child.process = subprocess.Popen(
            child.command, env=env, cwd=str(settings.BASE_DIR), start_new_session=True, stdout=banner
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        logger.info("started %s (pid %s): %s", child.name, child.process.pid, " ".join(child.command))

    def _supervise(self, children: dict[str, Child], watch: CanaryWatch, allowed_misses: int) -> None:
        now = time.monotonic()
        for child in children.values():
            process = child.process
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restarts += 1
                    self._start(child)
                    if child.name == "worker":
                        watch.reset()
                continue
            if process is not None and process.poll() is not None:
                self._schedule_restart(child, f"{child.name} exited with status {process.returncode}")
        worker = children["worker"]
        if worker.restart_at is None and worker.process is not None and watch.take_misses() >= allowed_misses:
            # TRICKY: a pool process killed while holding billiard's queue lock leaves the worker alive
            # but consuming nothing; only killing its whole group and starting again recovers it.
            self._signal_group(worker.process, signal.SIGKILL)
            worker.process.wait()
            watch.reset()
            self._schedule_restart(worker, f"worker answered no canary {allowed_misses} times in a row (wedged)")

    def _schedule_restart(self, child: Child, reason: str) -> None:
        if child.process is not None:
            self._signal_group(child.process, signal.SIGKILL)  # whatever it left in its group
        ran = time.monotonic() - child.started_at
        if ran >= HEALTHY_AFTER:
            child.backoff = BACKOFF_FIRST
        logger.warning("%s; restarting it in %g s", reason, child.backoff)
        child.restart_at = time.monotonic() + child.backoff
        child.backoff = min(child.backoff * 2, BACKOFF_MAX)

    def _stop(self, children: dict[str, Child]) -> None:
        running = [child.process for child in children.values() if child.process is not None]
        for process in running:
            if process.poll() is None:
                # The child's main process only: Celery's warm shutdown stops its own pool.
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for child in children.values():
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in %gs; killing it", child.name, GRACE_SECONDS)
                self._signal_group(child.process, signal.SIGKILL)
                child.process.wait()
            # Whatever the child left in its group (pool processes) goes too.
            self._signal_group(child.process, signal.SIGKILL)

    @staticmethod
    def _signal_group(process: subprocess.Popen | None, signum: int) -> None:
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signum)
