"""Run the demo store: open the tenant's store (its webhook endpoint pointing at this server's receiver),
then step the simulator until SIGTERM or Ctrl-C. ``serve`` runs it when ``DEMO_STORE`` is on (make run)."""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from automations.demo import DEMO_TENANT_ID
from executions.demo.simulator import DEFAULT_INTERVAL_SECONDS, MIN_INTERVAL_SECONDS, DemoStoreSimulator, run_simulator
from executions.demo.store import demo_store_open
from governance.models import Tenant

logger = logging.getLogger("executions.demo")

SERVER_WAIT_SECONDS = 60.0


def wait_for_server(url: str, stop: threading.Event, timeout: float = SERVER_WAIT_SECONDS) -> bool:
    """Whether the server at ``url`` accepts connections within ``timeout`` (False on a stop)."""
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=1):
                return True
        except OSError:
            stop.wait(0.5)
    return False


class Command(BaseCommand):
    help = "Simulate the demo store: events and metric samples for the demo tenant, webhooks to its receiver."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", default=DEMO_TENANT_ID, help="the tenant whose store this is")
        parser.add_argument("--server", default="http://127.0.0.1:8000", help="this server's base URL (receiver)")
        parser.add_argument("--seed", type=int, default=None, help="random seed (default: DEMO_STORE_SEED)")
        parser.add_argument(
            "--interval",
            type=float,
            default=DEFAULT_INTERVAL_SECONDS,
            help=f"seconds between steps (at least {MIN_INTERVAL_SECONDS:g})",
        )
        parser.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: until stopped)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["interval"] < MIN_INTERVAL_SECONDS:
            raise CommandError(f"--interval must be at least {MIN_INTERVAL_SECONDS:g} seconds")
        tenant = Tenant.objects.filter(pk=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant {options['tenant']!r}: run manage.py seed_demo first.")
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, frame: stop.set())
        store = demo_store_open(tenant, options["server"])
        seed = settings.DEMO_STORE_SEED if options["seed"] is None else options["seed"]
        logger.info(
            "demo store of %s: seed %s, a step every %g s; receiver at %s",
            tenant.pk,
            seed,
            options["interval"],
            store.endpoint.url if store.endpoint else "-",
        )
        if not wait_for_server(options["server"], stop):
            logger.warning("%s does not answer yet; the store starts anyway (webhooks are retried)", options["server"])
        simulator = DemoStoreSimulator(store, seed)
        limit = options["steps"]

        def on_step(done: list[str]) -> None:
            logger.info("demo store step %s: %s", simulator.steps, "; ".join(done))
            if limit and simulator.steps >= limit:
                stop.set()

        taken = run_simulator(simulator, stop, options["interval"], on_step=on_step)
        logger.info("demo store stopped after %s step(s)", taken)
