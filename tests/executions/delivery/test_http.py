"""The SSRF-safe client against real local servers (plain HTTP and TLS). No database."""

from __future__ import annotations

import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from executions.delivery.http import ClientOptions, ErrorKind, PinnedHTTPConnection, post_webhook
from tests.executions.delivery.sink import Reply

LOOPBACK = ClientOptions(allow_private=True, connect_timeout=2, read_timeout=2, total_timeout=5)
DEFAULT_POLICY = ClientOptions(connect_timeout=2, read_timeout=2, total_timeout=5)


def post(url: str, options: ClientOptions = LOOPBACK, body: bytes = b'{"a":1}'):
    return post_webhook(url, body, {"Content-Type": "application/json"}, options)


def test_posts_the_body_and_headers_and_reads_the_answer(sink):
    sink.reply(Reply(status=202, body=b"accepted"))

    result = post(sink.url("/hook?x=1"))

    assert (result.status_code, result.body, result.error_kind) == (202, b"accepted", "")
    assert result.connected_address == "127.0.0.1"
    [request] = sink.requests
    assert (request.method, request.path, request.body) == ("POST", "/hook?x=1", b'{"a":1}')
    assert request.headers["content-type"] == "application/json"


def test_sends_the_original_host_header_when_connecting_by_name(sink):
    result = post(sink.url(host="localhost"))

    assert result.status_code == 200
    assert sink.requests[0].headers["host"] == f"localhost:{sink.port}"


def test_the_pinned_connection_never_resolves_the_name_again(sink):
    # given a name that does not resolve at all, pinned to the sink's checked address
    connection = PinnedHTTPConnection(
        "rebound.invalid", sink.port, address=ipaddress.ip_address("127.0.0.1"), connect_timeout=2
    )
    # when a request is sent
    try:
        connection.request("POST", "/x", body=b"{}")
        status = connection.getresponse().status
    finally:
        connection.close()
    # then it reached the pinned address, naming the original host
    assert status == 200
    assert sink.requests[0].headers["host"] == f"rebound.invalid:{sink.port}"


def test_a_redirect_to_an_internal_address_is_not_followed(sink, other_sink):
    internal = other_sink.url("/admin")
    sink.reply(Reply(status=302, headers={"Location": internal}, body=b""))

    result = post(sink.url())

    assert result.status_code == 302
    assert result.header_location == internal
    assert other_sink.requests == []


def test_the_response_body_is_capped(sink):
    sink.reply(Reply(body=b"x" * 200_000))

    result = post(sink.url(), ClientOptions(allow_private=True, max_response_bytes=1000))

    assert result.status_code == 200
    assert len(result.body) == 1000


def test_a_slow_answer_times_out(sink):
    sink.reply(Reply(delay=3))

    result = post(sink.url(), ClientOptions(allow_private=True, read_timeout=0.3, total_timeout=5))

    assert (result.status_code, result.error_kind) == (None, ErrorKind.TIMEOUT)


def test_a_dripping_answer_is_cut_at_the_total_timeout(sink):
    # each byte comes well within the read timeout, but the whole body would take 10 s
    sink.reply(Reply(body=b"x" * 50, drip=0.2))

    result = post(sink.url(), ClientOptions(allow_private=True, read_timeout=1, total_timeout=0.8))

    assert result.error_kind == ErrorKind.TIMEOUT
    assert "total timeout" in result.error


def test_a_closed_port_is_a_connection_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    result = post(f"http://127.0.0.1:{port}/")

    assert (result.status_code, result.error_kind) == (None, ErrorKind.CONNECTION)


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("2130706433", ErrorKind.INVALID_URL),
        ("0x7f000001", ErrorKind.INVALID_URL),
        ("017700000001", ErrorKind.INVALID_URL),
        ("127.1", ErrorKind.INVALID_URL),
        ("[::ffff:127.0.0.1]", ErrorKind.REFUSED_DESTINATION),
        ("[::ffff:7f00:1]", ErrorKind.REFUSED_DESTINATION),
        ("[::1]", ErrorKind.REFUSED_DESTINATION),
        ("127.0.0.1", ErrorKind.REFUSED_DESTINATION),
        ("10.0.0.1", ErrorKind.REFUSED_DESTINATION),
        ("169.254.169.254", ErrorKind.REFUSED_DESTINATION),
        ("100.64.0.1", ErrorKind.REFUSED_DESTINATION),
        ("localhost", ErrorKind.REFUSED_DESTINATION),
        ("[2002:7f00:1::]", ErrorKind.REFUSED_DESTINATION),
        ("[64:ff9b::7f00:1]", ErrorKind.REFUSED_DESTINATION),
        ("[64:ff9b:1::7f00:1]", ErrorKind.REFUSED_DESTINATION),
        ("[fec0::1]", ErrorKind.REFUSED_DESTINATION),
    ],
)
def test_ssrf_forms_are_refused_before_connecting(sink, host, kind):
    result = post(f"http://{host}:{sink.port}/hook", DEFAULT_POLICY)

    assert (result.status_code, result.error_kind) == (None, kind)
    assert sink.requests == []


def test_the_same_sink_is_reachable_once_private_networks_are_allowed(sink):
    assert post(f"http://[::ffff:127.0.0.1]:{sink.port}/", DEFAULT_POLICY).status_code is None
    assert post(f"http://127.0.0.1:{sink.port}/", LOOPBACK).status_code == 200


def test_an_unresolvable_name_is_a_retryable_kind_of_error():
    result = post("http://no-such-host.invalid/", DEFAULT_POLICY)

    assert result.error_kind == ErrorKind.UNRESOLVABLE


# --- TLS: SNI and certificate checks over the pinned socket ---------------------------------------


def make_certificate(directory, names: str) -> tuple[str, str]:
    """A self-signed certificate for ``names`` (subjectAltName syntax), made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=webhook-test", "-addext", f"subjectAltName={names}"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


@pytest.fixture
def tls_sink(tmp_path):
    """An https server on 127.0.0.1 that records the SNI name each handshake asked for."""
    cert, key = make_certificate(tmp_path, "DNS:localhost,DNS:hooks.test")
    seen_sni: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: seen_sni.append(name)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server.server_address[1], cert, seen_sni
    server.shutdown()
    server.server_close()


def test_https_sends_the_original_name_as_sni_and_verifies_the_certificate(tls_sink):
    port, cert, seen_sni = tls_sink
    options = ClientOptions(allow_private=True, ca_bundle=cert, connect_timeout=2, read_timeout=2)

    result = post(f"https://localhost:{port}/hook", options)

    assert (result.status_code, result.connected_address) == (200, "127.0.0.1")
    assert seen_sni == ["localhost"]


def test_https_refuses_a_certificate_for_another_name(tls_sink):
    port, cert, _ = tls_sink
    options = ClientOptions(allow_private=True, ca_bundle=cert, connect_timeout=2, read_timeout=2)

    # 127.0.0.1 is not among the certificate's names, though it is the address we connect to
    result = post(f"https://127.0.0.1:{port}/hook", options)

    assert result.status_code is None
    assert result.error_kind == ErrorKind.TLS


class KeepAliveSink:
    """An HTTP/1.1 receiver that keeps connections open and notes the client port of each request."""

    def __init__(self) -> None:
        self.ports: list[int] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sink.ports.append(self.client_address[1])
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def keep_alive_sink():
    from executions.delivery.http import kept_connections

    kept_connections.clear()
    sink = KeepAliveSink()
    yield sink
    sink.close()
    kept_connections.clear()


def test_posts_to_one_destination_reuse_a_kept_connection(keep_alive_sink):
    results = [post(keep_alive_sink.url) for _ in range(3)]

    assert [result.status_code for result in results] == [200, 200, 200]
    assert len(keep_alive_sink.ports) == 3
    assert len(set(keep_alive_sink.ports)) == 1  # one TCP connection carried the three POSTs


def test_a_kept_connection_the_receiver_closed_is_replaced(keep_alive_sink):
    from executions.delivery.http import kept_connections

    assert post(keep_alive_sink.url).status_code == 200
    # when the receiver closes its side of every idle connection (its keep-alive timeout)
    for connections in kept_connections.idle.values():
        for _, connection in connections:
            connection.sock.shutdown(socket.SHUT_RD)  # our side now reads end-of-file, as after a server's close
    # then the next POST still gets through, on a new connection
    assert post(keep_alive_sink.url).status_code == 200
    assert len(set(keep_alive_sink.ports)) == 2


def test_a_receiver_that_closes_after_each_answer_gets_a_connection_per_post(sink):
    # the shared sink answers HTTP/1.0: the connection closes after every response
    results = [post(sink.url()) for _ in range(2)]

    assert [result.status_code for result in results] == [200, 200]
    assert len(sink.requests) == 2


@pytest.mark.skipif(not hasattr(socket, "TCP_QUICKACK"), reason="TCP_QUICKACK is Linux's; other systems do without")
def test_every_post_on_a_kept_connection_asks_for_prompt_acknowledgements(keep_alive_sink, monkeypatch):
    # The receiver writes its headers and its body in two parts without TCP_NODELAY (Python's http.server):
    # unless the client acknowledges the headers at once, the body waits for Linux's delayed ACK (40 ms).
    armed: list[int] = []

    class WatchedSocket(socket.socket):
        def setsockopt(self, level, option, value, *rest):
            if (level, option, value) == (socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1):
                armed.append(self.getsockname()[1])
            return super().setsockopt(level, option, value, *rest)

    monkeypatch.setattr(socket, "socket", WatchedSocket)

    results = [post(keep_alive_sink.url) for _ in range(3)]

    assert [result.status_code for result in results] == [200, 200, 200]
    assert len(set(keep_alive_sink.ports)) == 1
    assert armed == keep_alive_sink.ports  # set again for each request: the kernel drops it by itself


def test_one_thread_calls_the_armed_deadlines_and_never_a_disarmed_one():
    from executions.delivery.http import Deadlines

    deadlines = Deadlines()
    called: list[str] = []
    last = threading.Event()
    now = time.monotonic()
    callers: set[int] = set()

    def note(name: str) -> None:
        called.append(name)
        callers.add(threading.get_ident())

    kept = [deadlines.arm(now + 0.05 * n, lambda n=n: note(f"kept {n}")) for n in range(1, 4)]
    dropped = [deadlines.arm(now + 0.05 * n, lambda n=n: note(f"dropped {n}")) for n in range(1, 4)]
    deadlines.arm(now + 0.3, last.set)
    for alarm in dropped:
        deadlines.disarm(alarm)

    assert last.wait(5)
    assert called == ["kept 1", "kept 2", "kept 3"]  # in deadline order, the disarmed ones never
    assert len(callers) == 1 and threading.get_ident() not in callers  # one watching thread called them all
    deadlines.disarm(kept[0])  # disarming one that has run is harmless
