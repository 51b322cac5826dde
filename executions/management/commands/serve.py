"""Serve the whole product: the web server, a Celery worker and Celery beat, as three processes.

``make run`` calls this after migrating and seeding. Each child runs in its own process group; on
Ctrl-C (SIGINT) or SIGTERM every child gets SIGTERM (Celery's warm shutdown), then SIGKILL after a
grace period. If any child exits on its own, the others are stopped too and the command fails, so
a half-running product never looks healthy.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from executions.worker import AutomationWorker

GRACE_SECONDS = 15.0


class Command(BaseCommand):
    help = "Run the web server, a Celery worker and Celery beat together until Ctrl-C."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="address:port for the web server")
        parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
        parser.add_argument("--loglevel", default="INFO")

    def commands(self, addr: str, concurrency: int, loglevel: str) -> dict[str, list[str]]:
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        celery = [python, "-m", "celery", "-A", "config"]
        return {
            "web": [python, manage, "runserver", addr, "--noreload"],
            "worker": AutomationWorker(concurrency=concurrency, loglevel=loglevel).command(
                "--hostname", f"automations-{os.getpid()}@%h"
            ),
            "beat": [
                *celery,
                "beat",
                "--loglevel",
                loglevel,
                "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler",
            ],
        }

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("setup_periodic_tasks", verbosity=0)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local"),
        }
        stopping = {"signal": None}

        def request_stop(signum: int, frame: Any) -> None:
            stopping["signal"] = signum

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        children: dict[str, subprocess.Popen] = {}
        failed = ""
        try:
            for name, command in self.commands(options["addr"], options["concurrency"], options["loglevel"]).items():
                # Own process group: a child's own children (worker pool, ...) are stopped with it.
                children[name] = subprocess.Popen(command, env=env, cwd=str(settings.BASE_DIR), start_new_session=True)
                self.stdout.write(f"started {name} (pid {children[name].pid}): {' '.join(command)}")
            self.stdout.write(f"serving on http://{options['addr']}/ ; Ctrl-C stops web, worker and beat")
            while stopping["signal"] is None and not failed:
                for name, child in children.items():
                    if child.poll() is not None:
                        failed = f"{name} exited with status {child.returncode}"
                        break
                time.sleep(0.3)
        finally:
            self._stop(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failed:
            raise CommandError(f"{failed}; stopped the others")
        self.stdout.write("stopped web, worker and beat")

    def _stop(self, children: dict[str, subprocess.Popen]) -> None:
        for child in children.values():
            if child.poll() is None:
                # The child's main process only: Celery's warm shutdown stops its own pool.
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for name, child in children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in {GRACE_SECONDS:g}s; killing it")
                self._signal_group(child, signal.SIGKILL)
                child.wait()
            # Whatever the child left in its group (pool processes) goes too.
            self._signal_group(child, signal.SIGKILL)

    @staticmethod
    def _signal_group(child: subprocess.Popen, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signum)
