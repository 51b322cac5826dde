"""An HTTP client for webhooks that connects only to checked addresses and never follows redirects.

``post_webhook`` parses the URL, resolves and checks every address (``addresses.resolve_destination``),
then opens the TCP connection to a checked IP itself, so a DNS answer that changes between the check
and the connect cannot redirect us (DNS rebinding). The request still carries the original ``Host``
header, and for https the original name as SNI and for certificate verification. Timeouts bound the
connect, each read, and the whole request; the response body is read up to a cap.

It never raises for network trouble: every outcome is an ``HTTPResult`` for the caller to classify.

Connections are kept alive between POSTs to the same destination (scheme, host, port and the checked
address it was pinned to): at most ``KEPT_PER_DESTINATION`` idle ones each per process, reused only
within ``KEPT_IDLE_SECONDS`` and only when the address is still among those the fresh check allows.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import http.client
import itertools
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from executions.delivery.addresses import (
    DestinationRefused,
    DestinationUnresolvable,
    InvalidWebhookURL,
    IPAddress,
    WebhookURL,
    parse_webhook_url,
    resolve_destination,
)


class ErrorKind:
    """Why no usable HTTP response came back. Retryable unless listed in PERMANENT_ERROR_KINDS."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    TLS = "tls"
    PROTOCOL = "protocol"
    UNRESOLVABLE = "unresolvable"
    REFUSED_DESTINATION = "refused_destination"
    INVALID_URL = "invalid_url"


PERMANENT_ERROR_KINDS = frozenset({ErrorKind.REFUSED_DESTINATION, ErrorKind.INVALID_URL})


@dataclass(frozen=True)
class ClientOptions:
    """Knobs of one request; ``executions.delivery.services`` fills them from settings."""

    allow_private: bool = False
    allow_loopback: bool = False
    require_https: bool = False
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_timeout: float = 30.0
    max_response_bytes: int = 64 * 1024
    ca_bundle: str | None = None


@dataclass(frozen=True)
class HTTPResult:
    """What one request came to: a status code and a capped body, or an error kind and message."""

    status_code: int | None
    duration_ms: float
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error_kind: str = ""
    error: str = ""
    connected_address: str = ""

    @property
    def header_retry_after(self) -> str | None:
        return self.headers.get("retry-after")

    @property
    def header_location(self) -> str | None:
        return self.headers.get("location")


class PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTPConnection for ``host`` whose socket goes to ``address``, a checked IP, without DNS."""

    def __init__(self, host: str, port: int, *, address: IPAddress, connect_timeout: float) -> None:
        super().__init__(host, port, timeout=connect_timeout)
        self.pinned_address = address

    def connect(self) -> None:
        family = socket.AF_INET6 if address_is_ipv6(self.pinned_address) else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect((str(self.pinned_address), self.port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class PinnedHTTPSConnection(PinnedHTTPConnection):
    """The https variant: TLS over the pinned socket, SNI and certificate checked against ``host``."""

    default_port = http.client.HTTPS_PORT

    def __init__(
        self, host: str, port: int, *, address: IPAddress, connect_timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, address=address, connect_timeout=connect_timeout)
        self.ssl_context = context

    def connect(self) -> None:
        super().connect()
        self.sock = self.ssl_context.wrap_socket(self.sock, server_hostname=self.host)


def ack_promptly(sock: socket.socket) -> None:
    """Acknowledge the response's segments at once (Linux's TCP_QUICKACK, set again for every request: the
    kernel drops it by itself), where the system has it.

    TRICKY: a receiver that writes its answer in two parts (headers, then body) without TCP_NODELAY, as
    Python's ``http.server`` does, holds the body back (Nagle) until the headers are acknowledged, and
    Linux delays that acknowledgement up to 40 ms on a connection it has seen as interactive. On a kept
    connection every POST to such a receiver took 44 ms (a fresh connection starts in quick-ack mode and
    did not). Measured with ``bench.bench_pipeline.SinkServer``: 44 ms per POST without, 0.2 ms with.
    """
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if quickack is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)


def address_is_ipv6(address: IPAddress) -> bool:
    return address.version == 6


@functools.cache
def ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Verification on, system trust store unless a CA bundle is configured; made once per bundle (loading
    the trust store costs milliseconds; a context is safe to share between threads)."""
    return ssl.create_default_context(cafile=ca_bundle)


# Idle connections kept per destination and process: the per-endpoint lanes (WEBHOOK_ENDPOINT_CONCURRENCY,
# 4) bound how many POSTs to one endpoint run at once, so more would never be used.
KEPT_PER_DESTINATION = 4
# Reused only this soon after the last answer: below common servers' keep-alive timeouts (nginx 75 s,
# Node 5 s, gunicorn 2 s by default... so a connection the server is about to close is rarely picked).
KEPT_IDLE_SECONDS = 4.0
Destination = tuple[bool, str, int, str, str | None]  # https, host, port, address, CA bundle


class KeptConnections:
    """Idle keep-alive connections by destination, newest first; thread-safe, reset in a forked child."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.idle: dict[Destination, list[tuple[float, PinnedHTTPConnection]]] = {}

    def take(self, destination: Destination) -> PinnedHTTPConnection | None:
        """A kept connection to ``destination`` still open and fresh, or None."""
        while True:
            with self.lock:
                if self.pid != os.getpid():  # a forked child: the parent's sockets are not ours
                    self.idle, self.pid = {}, os.getpid()
                kept = self.idle.get(destination)
                if not kept:
                    return None
                since, connection = kept.pop()
            if time.monotonic() - since < KEPT_IDLE_SECONDS and not _closed_by_peer(connection):
                return connection
            connection.close()

    def give(self, destination: Destination, connection: PinnedHTTPConnection) -> None:
        """Keep ``connection`` (its last response read in full) for the next POST, or close it when full."""
        with self.lock:
            kept = self.idle.setdefault(destination, []) if self.pid == os.getpid() else None
            if kept is not None and len(kept) < KEPT_PER_DESTINATION:
                kept.append((time.monotonic(), connection))
                return
        connection.close()

    def clear(self) -> None:
        with self.lock:
            kept, self.idle = self.idle, {}
        for connections in kept.values():
            for _, connection in connections:
                connection.close()


def _closed_by_peer(connection: PinnedHTTPConnection) -> bool:
    """True when an idle connection is readable: the server closed it (or sent what it should not)."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


kept_connections = KeptConnections()


class Deadlines:
    """One thread per process that calls each armed function when its deadline (``time.monotonic()``)
    passes, unless it was disarmed first: the POSTs' total timeouts, without a timer thread per POST
    (starting one cost about 80 µs of CPU, at every webhook). A forked child starts afresh."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.condition = threading.Condition()
        self.armed: list[list[Any]] = []  # heap of [deadline, sequence, function or None once disarmed]
        self.sequence = itertools.count()
        self.watching = False

    def arm(self, deadline: float, function: Callable[[], object]) -> list[Any]:
        alarm = [deadline, next(self.sequence), function]
        with self.condition:
            if not self.watching:
                self.watching = True
                threading.Thread(target=self._watch, name="webhook-deadlines", daemon=True).start()
            heapq.heappush(self.armed, alarm)
            if self.armed[0] is alarm:
                self.condition.notify()
        return alarm

    def disarm(self, alarm: list[Any]) -> None:
        """After this returns, the alarm's function will not be called (it runs under the same lock)."""
        with self.condition:
            alarm[2] = None

    def _watch(self) -> None:
        with self.condition:
            while True:
                while self.armed and self.armed[0][2] is None:
                    heapq.heappop(self.armed)
                if not self.armed:
                    self.condition.wait()
                    continue
                wait = self.armed[0][0] - time.monotonic()
                if wait > 0:
                    self.condition.wait(wait)
                    continue
                function = heapq.heappop(self.armed)[2]
                with contextlib.suppress(Exception):  # the functions only shut a socket down; never stop watching
                    function()


deadlines = Deadlines()
# A child forked by a worker's pool has no watching thread and no use for its parent's alarms.
os.register_at_fork(after_in_child=deadlines.reset)


def post_webhook(url: str, body: bytes, headers: dict[str, str], options: ClientOptions) -> HTTPResult:
    """POST ``body`` to ``url`` under the SSRF policy; return what happened, never raise for the network.

    1. Parse the URL strictly and resolve + check every address of its host.
    2. Connect to the first checked address that accepts a connection (the next one on connection errors).
    3. Send the request with the original Host header; read the status, headers and at most
       ``max_response_bytes`` of body. A 3xx is returned as is: redirects are never followed.
    """
    started = time.monotonic()
    try:
        target = parse_webhook_url(url, require_https=options.require_https)
        addresses = resolve_destination(
            target, allow_private=options.allow_private, allow_loopback=options.allow_loopback
        )
    except InvalidWebhookURL as exc:
        return _failure(started, ErrorKind.INVALID_URL, str(exc))
    except DestinationRefused as exc:
        return _failure(started, ErrorKind.REFUSED_DESTINATION, f"Destination refused: {exc}.")
    except DestinationUnresolvable as exc:
        return _failure(started, ErrorKind.UNRESOLVABLE, str(exc))
    deadline = started + options.total_timeout
    last_error: HTTPResult | None = None
    for address in addresses:
        destination: Destination = (target.is_https, target.host, target.port, str(address), options.ca_bundle)
        kept = kept_connections.take(destination)
        if kept is not None:
            result, reusable = _exchange(kept, target, body, headers, options, started, deadline, address)
            if result.status_code is not None or result.error_kind != ErrorKind.CONNECTION:
                _keep_or_close(destination, kept, reusable)
                return result
            # TRICKY: the receiver closed the kept connection as we sent (no answer came back on it): send
            # once more on a new connection. Should it have acted on the first, the repeat carries the same
            # webhook-id, which receivers deduplicate (docs/webhooks.md).
            kept.close()
        connection = _connection(target, address, options)
        try:
            connection.connect()
        except (TimeoutError, OSError) as exc:
            connection.close()
            last_error = _failure(started, *_classify_exception(exc), address=address)
            if time.monotonic() >= deadline:
                break
            continue
        result, reusable = _exchange(connection, target, body, headers, options, started, deadline, address)
        _keep_or_close(destination, connection, reusable)
        return result
    assert last_error is not None
    return last_error


def _keep_or_close(destination: Destination, connection: PinnedHTTPConnection, reusable: bool) -> None:
    if reusable:
        kept_connections.give(destination, connection)
    else:
        connection.close()


def _connection(target: WebhookURL, address: IPAddress, options: ClientOptions) -> PinnedHTTPConnection:
    if target.is_https:
        return PinnedHTTPSConnection(
            target.host,
            target.port,
            address=address,
            connect_timeout=options.connect_timeout,
            context=ssl_context(options.ca_bundle),
        )
    return PinnedHTTPConnection(target.host, target.port, address=address, connect_timeout=options.connect_timeout)


def _exchange(
    connection: PinnedHTTPConnection,
    target: WebhookURL,
    body: bytes,
    headers: dict[str, str],
    options: ClientOptions,
    started: float,
    deadline: float,
    address: IPAddress,
) -> tuple[HTTPResult, bool]:
    """Send and read on an open connection; a watchdog closes the socket when the total deadline passes.

    Returns the result and whether the connection may carry another request (the whole response was
    read and the server did not ask to close).
    """
    sock = connection.sock
    sock.settimeout(options.read_timeout)
    expired = threading.Event()

    def expire() -> None:
        # TRICKY: a server dripping one byte per read never trips the per-read timeout; shutting the
        # socket down from another thread ends the blocked read at the total deadline.
        expired.set()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    alarm = deadlines.arm(deadline, expire)
    try:
        connection.request("POST", target.target, body=body, headers=headers)
        ack_promptly(sock)
        response = connection.getresponse()
        content = _read_capped(response, options.max_response_bytes)
        if expired.is_set():
            # The watchdog's shutdown ends a read as a clean end of file; the body is incomplete.
            raise TimeoutError("total timeout")
        kept = {name: response.getheader(name) for name in ("retry-after", "location", "content-type")}
        result = HTTPResult(
            status_code=response.status,
            duration_ms=_elapsed_ms(started),
            body=content,
            headers={name: value for name, value in kept.items() if value is not None},
            connected_address=str(address),
        )
        complete = response.isclosed() or response.length == 0  # the whole body read (chunked: closed at its end)
        if complete:
            response.close()  # the response's file only: the connection's socket stays open for the next POST
        return result, complete and not response.will_close
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        if expired.is_set():
            message = f"No complete response within the total timeout of {options.total_timeout:g} s."
            return _failure(started, ErrorKind.TIMEOUT, message, address=address), False
        return _failure(started, *_classify_exception(exc), address=address), False
    finally:
        deadlines.disarm(alarm)


def _read_capped(response: http.client.HTTPResponse, limit: int) -> bytes:
    """Up to ``limit`` bytes of the body; the rest is left unread (the connection is then not kept)."""
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = response.read1(min(remaining, 16 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _classify_exception(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, TimeoutError | socket.timeout):
        return ErrorKind.TIMEOUT, f"Timed out: {exc or 'no answer in time'}."
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return ErrorKind.TLS, f"TLS error: {exc}."
    if isinstance(exc, http.client.HTTPException) and not isinstance(exc, ConnectionError):
        return ErrorKind.PROTOCOL, f"Invalid HTTP response: {type(exc).__name__} {exc}."
    return ErrorKind.CONNECTION, f"Connection failed: {type(exc).__name__} {exc}."


def _failure(started: float, kind: str, message: str, *, address: IPAddress | None = None) -> HTTPResult:
    return HTTPResult(
        status_code=None,
        duration_ms=_elapsed_ms(started),
        error_kind=kind,
        error=message,
        connected_address=str(address) if address is not None else "",
    )


def _elapsed_ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
