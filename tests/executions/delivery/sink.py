"""A real HTTP server on 127.0.0.1 (random port) that records requests and answers from a script.

Every webhook a sink receives is verified with the published ``standardwebhooks`` package when the sink
closes in a test (``assert_webhooks_verified``, called by the ``sink`` fixtures): signature interop with
the Standard Webhooks scheme is tested on every real delivery, not assumed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import standardwebhooks


@dataclass
class Reply:
    """One scripted answer. ``delay`` waits before answering; ``hang`` waits until the sink closes;
    ``drip`` sends the body one byte every ``drip`` seconds."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok": true}'
    delay: float = 0.0
    hang: bool = False
    drip: float = 0.0


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def is_webhook(self) -> bool:
        """A signed webhook received whole (not a plain request some HTTP-client test sends, nor one whose
        body a killed worker cut short: no receiver could verify that)."""
        complete = len(self.body) >= int(self.headers.get("content-length") or 0)
        return "webhook-signature" in self.headers and complete


class Sink:
    """Start with ``Sink().start()``; script replies with ``reply(...)``; read ``requests``; ``close()``."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: deque[Reply] = deque()
        self.default = Reply()
        self.released = threading.Event()
        self.arrived = threading.Condition()
        self._lock = threading.Lock()
        # A listen backlog like a real receiver's (Python's default of 5 resets connections when a batch of
        # webhook POSTs arrives at once).
        server_class = type("SinkHTTPServer", (ThreadingHTTPServer,), {"request_queue_size": 256})
        self.server = server_class(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def start(self) -> Sink:
        self._thread.start()
        return self

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def reply(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.arrived.wait(remaining)
        return True

    def unverified_webhooks(self, secrets: Iterable[str]) -> list[Received]:
        """The webhooks received that ``standardwebhooks`` does not verify with any of ``secrets``."""
        receivers = [standardwebhooks.Webhook(secret) for secret in secrets if secret]
        failed = []
        for received in list(self.requests):
            if not received.is_webhook:
                continue
            for receiver in receivers:
                try:
                    receiver.verify(received.body, received.headers)
                    break
                except standardwebhooks.WebhookVerificationError:
                    continue
            else:
                failed.append(received)
        return failed

    def _next_reply(self) -> Reply:
        with self._lock:
            return self.script.popleft() if self.script else self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                received = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with sink.arrived:
                    sink.requests.append(received)
                    sink.arrived.notify_all()
                reply = sink._next_reply()
                if reply.hang:
                    sink.released.wait(60)
                    return
                if reply.delay:
                    sink.released.wait(reply.delay)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
                    self._answer(reply)

            def _answer(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if not reply.drip:
                    self.wfile.write(reply.body)
                    return
                for byte in reply.body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    if sink.released.wait(reply.drip):
                        return

            do_GET = do_POST

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


def endpoint_secrets() -> list[str]:
    """Every signing secret of every webhook endpoint in the test database (current and previous)."""
    from executions.delivery.models import WebhookEndpoint

    return [secret for pair in WebhookEndpoint.objects.values_list("secret", "previous_secret") for secret in pair]


def assert_webhooks_verified(*sinks: Sink) -> None:
    """Every webhook the sinks received verifies with ``standardwebhooks`` and an endpoint's secret.

    Call while the test's database rows still exist (the ``sink`` fixtures make sure of it).
    """
    if not any(received.is_webhook for sink in sinks for received in sink.requests):
        return
    secrets = endpoint_secrets()
    failed = [received for sink in sinks for received in sink.unverified_webhooks(secrets)]
    assert not failed, f"standardwebhooks refused {len(failed)} webhook(s): " + ", ".join(
        f"{received.path} {received.headers.get('webhook-id')}" for received in failed
    )
