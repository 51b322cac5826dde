"""POST /api/events's lean path (executions/api/ingest.py): the same answers as the DRF view, through WSGI.

Each request is sent twice, through ``config.wsgi``'s stack (the lean path in front of Django) and
through Django alone, with the same token; the answers must be the same (status, headers, body with
the new ids masked). The requests the lean path must answer itself are checked to be answered there.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory, override_settings

from executions.api.ingest import EventIngestion
from executions.models import Event
from governance.api.authentication import token_callers
from governance.api.throttling import TokenRateThrottle
from governance.models import ApiToken
from tests.api import token_for

pytestmark = pytest.mark.django_db

factory = RequestFactory()


def environ_for(body: Any, token: str | None, **headers: str) -> dict[str, Any]:
    raw = body if isinstance(body, str) else json.dumps(body)
    extra = {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}
    return factory.generic("POST", "/api/events", raw, content_type="application/json", **extra, **headers).environ


def call(app: Any, environ: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    """One WSGI call; Django's end-of-request connection closing is off, as in its test client (the test's
    transaction holds the connection)."""
    answered: list[Any] = []
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        body = b"".join(app(environ, lambda status, headers, *_: answered.append((status, headers))))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    status, headers = answered[0]
    return int(status[:3]), {name: value for name, value in headers if name != "Content-Length"}, json.loads(body)


def masked(body: Any) -> Any:
    """The answer with the ids and generated keys of new events masked (they differ between the two posts)."""
    if isinstance(body, dict) and "events" in body and isinstance(body["events"], list):
        return [{**e, "id": "new", "idempotency_key": "evt_*"} if not e["duplicate"] else e for e in body["events"]]
    return body


@pytest.fixture
def lean():
    """The production WSGI stack: the lean path in front of Django, after its first 202 taught it the headers."""
    app = EventIngestion(WSGIHandler())
    return app


@pytest.fixture
def full():
    return WSGIHandler()


@pytest.fixture
def warmed(lean, tenant, owner):
    status, _, _ = call(lean, environ_for({"tenant_id": tenant.pk, "event_type": "warm_up"}, token_for(owner)))
    assert status == 202 and lean.headers  # the first post went through Django and taught the headers
    token_callers.entries.clear()
    return lean


def both(lean: EventIngestion, full: WSGIHandler, body: Any, token: str | None, **headers: str) -> tuple[Any, Any]:
    first = call(lean, environ_for(body, token, **headers))
    second = call(full, environ_for(body, token, **headers))
    return first, second


def lean_answers(lean: EventIngestion, body: Any, token: str | None, **headers: str) -> bool:
    environ = environ_for(body, token, **headers)
    from django.core.handlers.wsgi import WSGIRequest

    return lean.accept(WSGIRequest(environ), environ) is not None


def test_one_event_is_stored_by_the_lean_path_with_the_views_answer(warmed, full, tenant, owner):
    body = {"tenant_id": tenant.pk, "event_type": "product_added", "payload": {"product_id": "p1"}}
    (status, headers, answer), (full_status, full_headers, full_answer) = both(warmed, full, body, token_for(owner))
    assert status == full_status == 202
    assert headers == full_headers
    assert masked(answer) == masked(full_answer)
    event = Event.objects.get(pk=answer["events"][0]["id"])
    # the actor is the token's user, never the body's
    assert (event.tenant_id, event.event_type, event.payload, event.actor_id) == (
        tenant.pk,
        "product_added",
        {"product_id": "p1"},
        owner.pk,
    )
    assert lean_answers(warmed, body, token_for(owner))


def test_a_list_and_a_repeated_key(warmed, full, tenant, owner):
    body = [
        {"event_type": "product_added", "idempotency_key": "k-1"},
        {"tenant_id": tenant.pk, "event_type": "order_placed", "payload": {"n": 1}},
    ]
    assert lean_answers(warmed, body, token_for(owner))  # the first stores k-1 (no tenant_id: the caller's only)
    (status, _, answer), (full_status, _, full_answer) = both(warmed, full, body, token_for(owner))
    assert status == full_status == 202
    assert answer["events"][0]["duplicate"] and full_answer["events"][0]["duplicate"]
    assert masked(answer) == masked(full_answer)
    assert Event.objects.filter(tenant=tenant, idempotency_key="k-1").count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"event_type": ""},
        {"event_type": "product_added", "payload": []},
        {"event_type": "product_added", "surprise": 1},
        [],
        ["not an object"],
        '{"event_type": "product_added",',
        '{"event_type": "x", "payload": {"n": NaN}}',
    ],
)
def test_bad_events_get_the_views_400_and_store_nothing(warmed, full, owner, body):
    before = Event.objects.count()
    (status, headers, answer), (full_status, full_headers, full_answer) = both(warmed, full, body, token_for(owner))
    assert status == full_status == 400
    assert (headers, answer) == (full_headers, full_answer)
    assert Event.objects.count() == before
    assert not lean_answers(warmed, body, token_for(owner))


def test_another_tenant_gets_the_views_403(warmed, full, other_tenant, owner, other_owner):
    body = {"tenant_id": other_tenant.pk, "event_type": "product_added"}
    (status, _, answer), (full_status, _, full_answer) = both(warmed, full, body, token_for(owner))
    assert status == full_status == 403
    assert answer == full_answer
    assert not Event.objects.filter(tenant=other_tenant).exists()


def test_a_role_without_ingest_gets_the_views_403(warmed, full, tenant, council_member):
    body = {"tenant_id": tenant.pk, "event_type": "product_added"}
    (status, _, answer), (full_status, _, full_answer) = both(warmed, full, body, token_for(council_member))
    assert (status, answer) == (full_status, full_answer)
    assert status == 403


@pytest.mark.parametrize("token", [None, "art_not_a_real_key"])
def test_no_or_a_bad_token_gets_the_views_401(warmed, full, tenant, token):
    body = {"tenant_id": tenant.pk, "event_type": "product_added"}
    (status, headers, answer), (full_status, full_headers, full_answer) = both(warmed, full, body, token)
    assert status == full_status == 401
    assert (headers, answer) == (full_headers, full_answer)


def test_a_revoked_token_is_refused_once_the_cache_time_is_over(warmed, tenant, owner, settings):
    body = {"tenant_id": tenant.pk, "event_type": "product_added"}
    token = token_for(owner)
    assert call(warmed, environ_for(body, token))[0] == 202
    ApiToken.objects.filter(user=owner).update(revoked_at="2026-01-01T00:00:00Z")
    settings.API_TOKEN_CACHE_SECONDS = 0  # the cache time is over
    status, _, answer = call(warmed, environ_for(body, token))
    assert (status, answer) == (401, {"detail": "Token revoked."})


def test_html_clients_and_query_strings_go_to_the_view(warmed, tenant, owner):
    body = {"tenant_id": tenant.pk, "event_type": "product_added"}
    assert not lean_answers(warmed, body, token_for(owner), HTTP_ACCEPT="text/html")
    assert not lean_answers(warmed, body, token_for(owner), QUERY_STRING="format=json")


def test_the_throttle_counts_both_paths_in_one_counter(warmed, full, tenant, owner, monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "timer", staticmethod(lambda: 1_800_000_030.0))
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api": "3/minute"})
    from django.core.cache import caches

    caches["throttle"].clear()
    body = {"tenant_id": tenant.pk, "event_type": "product_added"}
    token = token_for(owner)
    statuses = [call(warmed, environ_for(body, token))[0] for _ in range(2)]
    statuses.append(call(full, environ_for(body, token))[0])
    lean_refusal = call(warmed, environ_for(body, token))
    full_refusal = call(full, environ_for(body, token))
    caches["throttle"].clear()
    assert statuses == [202, 202, 202]
    assert lean_refusal[0] == full_refusal[0] == 429
    assert lean_refusal[2] == full_refusal[2]


def silent_redis():
    """A TCP server that accepts connections and never answers (a Redis that hangs); yields its redis:// URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def refusing_redis():
    """A redis:// URL on a port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield f"redis://127.0.0.1:{port}/0"


@pytest.fixture(params=[refusing_redis, silent_redis], ids=["down", "hung"])
def unreachable_redis(request):
    yield from request.param()


def test_events_are_accepted_while_the_throttles_redis_is_down_or_hung(
    warmed, full, tenant, owner, monkeypatch, caplog, unreachable_redis
):
    # given the throttle (and quota) counters on a Redis that refuses connections, or accepts and never answers
    from config.settings.base import counter_redis_cache

    url = unreachable_redis
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api": "1/minute"})
    body = {"tenant_id": tenant.pk, "event_type": "product_added"}
    token = token_for(owner)
    with override_settings(CACHES={**settings.CACHES, "throttle": counter_redis_cache(url)}):
        # when events are posted through both paths, more than the rate
        answers = [call(app, environ_for(body, token)) for app in (warmed, full, warmed)]
    # then each is accepted and stored (the counters fail open, after at most their socket timeout), and
    # the log says the throttle was not enforced
    assert [status for status, _, _ in answers] == [202] * 3
    stored = [answer["events"][0]["id"] for _, _, answer in answers]
    assert Event.objects.filter(pk__in=stored).count() == 3
    assert "API throttle counter unreachable" in caplog.text
