"""The production web server (README, "Production"): granian serving ``config.wsgi``.

    python -m config.web        # binds 0.0.0.0:8000; WEB_BIND, WEB_WORKERS, WEB_THREADS override

One module, so the README's command, ``make bench BENCH=http``, ``make schemathesis`` and the tests run the
same server with the same settings.

Why granian (docs/operations.md, "The web server"): it reads and writes HTTP in Rust, off the interpreter
lock, and waits for every connection's next request in its own event loop, so idle pooled connections
never hold a Python thread, and connections are kept alive between calls (a request's body is read by
the application: a slow body holds a thread, so a buffering proxy belongs in front). Only the
WSGI application runs in Python, in a few threads per process. Measured with ``make bench BENCH=http``
on a 2-CPU machine (8 clients, one event per call): 1.9-2.5 ms of web CPU per event, against 3.8-4.3 ms
under gunicorn's gthread workers, which parse HTTP in Python.
"""

from __future__ import annotations

import os
from typing import Any

TARGET = "config.wsgi:application"
# Idle keep-alive connections, and a client sending its request's headers, are given this long.
HEADER_READ_TIMEOUT_MS = 20_000
# The request line and headers must fit in this many bytes (longer ones are answered 431, with no body,
# before the application sees them).
HEADER_BUFFER_BYTES = 64 * 1024
# A stopping worker gets this long to finish the requests it has (SIGTERM), then is killed.
WORKERS_KILL_TIMEOUT_SECONDS = 30


def bind_address(value: str) -> tuple[str, int]:
    """``host:port`` (an IPv6 host in brackets) as granian's address and port."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"WEB_BIND must be host:port, not {value!r}")
    return host.strip("[]"), int(port)


def server_options(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """granian's settings for this service, from the environment (``WEB_BIND``, ``WEB_WORKERS``, ``WEB_THREADS``)."""
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    environ = dict(os.environ if environ is None else environ)
    address, port = bind_address(environ.get("WEB_BIND", "0.0.0.0:8000"))
    return {
        "address": address,
        "port": port,
        "interface": Interfaces.WSGI,
        # One process per CPU (each has its own interpreter lock); threads for requests waiting on the
        # database or Redis meanwhile.
        "workers": int(environ.get("WEB_WORKERS", os.cpu_count() or 1)),
        "blocking_threads": int(environ.get("WEB_THREADS", "4")),
        "websockets": False,
        "http1_settings": HTTP1Settings(
            header_read_timeout=HEADER_READ_TIMEOUT_MS, keep_alive=True, max_buffer_size=HEADER_BUFFER_BYTES
        ),
        # A worker process that dies (killed, out of memory) is started again, as gunicorn's arbiter does.
        "respawn_failed_workers": True,
        "workers_kill_timeout": WORKERS_KILL_TIMEOUT_SECONDS,
        # Requests are logged by the application (django-structlog), once.
        "log_access": False,
    }


def main() -> None:
    from granian.server import Server

    Server(TARGET, **server_options()).serve()


if __name__ == "__main__":
    main()
