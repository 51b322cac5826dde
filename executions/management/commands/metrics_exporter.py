"""Serve this host's process counts to Prometheus where no web process runs (a worker-only host).

    PROMETHEUS_MULTIPROC_DIR=/run/automations-metrics python manage.py metrics_exporter --addr 127.0.0.1:9464

It reads the same multi-process directory the host's Celery workers write to and answers every GET with
their counters and histograms (no database gauges: the web's ``/metrics`` serves those once for all
hosts). Bind it to an address only Prometheus reaches; it has no token of its own.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector


class Command(BaseCommand):
    help = "Serve the Prometheus counts of this host's worker processes (PROMETHEUS_MULTIPROC_DIR)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:9464", help="host:port to listen on")

    def handle(self, *args: Any, **options: Any) -> None:
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
        if not directory or not os.path.isdir(directory):
            raise CommandError("set PROMETHEUS_MULTIPROC_DIR to the directory this host's workers write to")
        host, _, port = str(options["addr"]).rpartition(":")
        if not port.isdigit():
            raise CommandError(f"--addr must be host:port, such as 127.0.0.1:9464 (got {options['addr']!r})")
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)
        server, _thread = start_http_server(int(port), addr=host or "127.0.0.1", registry=registry)
        self.stdout.write(f"serving {directory} on http://{host or '127.0.0.1'}:{port}/ ; Ctrl-C stops")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            server.shutdown()
