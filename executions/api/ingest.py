"""POST /api/events, the lean way: one event post in about a millisecond of CPU, with the DRF view's contract.

``EventIngestion`` wraps Django's WSGI application (``config/wsgi.py``). A ``POST /api/events`` that it
can answer in full (an API token, JSON in and out, every event valid and for a tenant where the caller
may ingest, within the rate) is answered here: the token and the caller's roles from the per-process
cache (``governance.api.authentication.token_callers``), the same validation and storage services as
the DRF view (``events_check``, ``events_store``: one INSERT and one wake-up for one event), the throttle
counter in one round trip. Everything else (no token, a bad or revoked one, invalid JSON or events, a
tenant the caller may not post to, a refusal by the throttle, another Accept type, a query string,
plain HTTP where HTTPS is required, a host not allowed) goes to Django unchanged, where the DRF view
(``executions.api.views.EventViewSet``, which the OpenAPI schema describes) gives the answer and its
error. Nothing is stored before the lean path commits to answering, so a request is never half-done
by one path and redone by the other.

Response headers are the full path's own: the first token-authenticated 202 that Django answers in a
process (per scheme) is recorded, and the lean path answers with the same headers (security headers,
CSP, Vary). Until then every post goes the full way.
"""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import DisallowedHost, PermissionDenied, ValidationError
from django.core.handlers.wsgi import WSGIRequest
from django.db import IntegrityError, InterfaceError, OperationalError, close_old_connections, connection

from executions.services import events_check, events_store
from governance.api.authentication import TOKEN_KEYWORDS, token_callers
from governance.api.throttling import TokenRateThrottle, client_address
from governance.common.api_errors import TooManyRequests, too_many_requests
from governance.common.db_locks import LOCK_DETAIL, caused_by_lock_timeout, retry_after_seconds
from governance.common.storable import loads_json
from governance.policy import check_role
from governance.roles import Capability, role_allows

logger = logging.getLogger(__name__)
request_logger = structlog.get_logger("django_structlog.middlewares.request")

PATHS = frozenset({"/api/events", "/api/events/"})
JSON_TYPES = ("application/json",)
ACCEPTED = ("", "*/*", "application/json", "application/*")
# Headers of a recorded response that belong to that response only.
NOT_COPIED = frozenset({"content-length", "set-cookie"})
Answer = tuple[str, bytes, list[tuple[str, str]]]  # status line, body, extra headers
StartResponse = Callable[..., Any]


# A connection used within this many seconds is not health-checked again (a SELECT 1 per request).
HEALTH_CHECK_IDLE_SECONDS = 1.0


def fresh_connection_check() -> None:
    """Health-check the database connection before use only when it has been idle a while.

    TRICKY: with CONN_HEALTH_CHECKS Django runs ``SELECT 1`` before the first query of every request, a
    round trip as long as the INSERT this path makes. A connection that answered a moment ago in this
    thread (connections are per thread) is alive; one idle past HEALTH_CHECK_IDLE_SECONDS is checked.
    """
    if time.monotonic() - getattr(connection, "lean_used_at", 0.0) > HEALTH_CHECK_IDLE_SECONDS:
        connection.health_check_done = False  # type: ignore[attr-defined]  # Django's, not in the stubs


def release_connection() -> None:
    """What Django does when a request finishes (close a broken connection, or one past CONN_MAX_AGE),
    noting that the connection, if still open, has just been used. Inside a transaction (a test's) the
    connection is left alone, as Django's test client leaves it."""
    if connection.in_atomic_block:
        return
    connection.close_if_unusable_or_obsolete()
    if connection.connection is not None:
        connection.health_check_done = True  # type: ignore[attr-defined]
        connection.lean_used_at = time.monotonic()  # type: ignore[attr-defined]


def token_key(authorization: str) -> str | None:
    """The key of ``Token <key>`` or ``Bearer <key>``, else None."""
    parts = authorization.split()
    if len(parts) != 2 or parts[0].lower() not in TOKEN_KEYWORDS:
        return None
    return parts[1]


def accepts_json(accept: str) -> bool:
    """True when every type the client lists is one DRF would answer with JSON (no browsable API)."""
    return all(part.split(";")[0].strip() in ACCEPTED for part in accept.split(","))


def json_body(data: Any) -> bytes:
    """JSON as DRF's JSONRenderer writes it: compact, UTF-8."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


class EventIngestion:
    """WSGI middleware: the lean path for ``POST /api/events``, Django for everything else."""

    def __init__(self, app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.app = app
        self.headers: dict[bool, list[tuple[str, str]]] = {}  # by "the request was HTTPS"

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") not in PATHS:
            return self.app(environ, start_response)
        request = WSGIRequest(environ)
        secure = request.is_secure()
        headers = self.headers.get(secure)
        if headers is None:
            return self.app(environ, self.recording(start_response, secure, environ))
        fresh_connection_check()
        try:
            answer = self.accept(request, environ)
        finally:
            release_connection()
        if answer is None:
            return self.app(environ, start_response)
        status, body, extra = answer
        start_response(status, [*headers, *extra, ("Content-Length", str(len(body)))])
        return [body]

    def recording(self, start_response: StartResponse, secure: bool, environ: dict[str, Any]) -> StartResponse:
        """``start_response`` that records the headers of Django's 202 to a token-authenticated post."""
        by_token = token_key(environ.get("HTTP_AUTHORIZATION", "")) is not None

        def record(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            if by_token and status.startswith("202"):
                self.headers[secure] = [(name, value) for name, value in headers if name.lower() not in NOT_COPIED]
            return start_response(status, headers, *args)

        return record

    def accept(self, request: WSGIRequest, environ: dict[str, Any]) -> Answer | None:
        """Store the posted events and answer 202, or None to leave the request to Django (nothing stored).

        The body, once read, is put back in ``environ`` for Django to read again.
        """
        if not settings.API_LEAN_INGESTION or environ.get("QUERY_STRING"):
            return None
        if settings.SECURE_SSL_REDIRECT and not request.is_secure():
            return None
        try:
            request.get_host()
        except DisallowedHost:
            return None
        content_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if content_type not in JSON_TYPES or not accepts_json(environ.get("HTTP_ACCEPT", "")):
            return None
        key = token_key(environ.get("HTTP_AUTHORIZATION", ""))
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if key is None or not 0 < length <= settings.API_MAX_REQUEST_BYTES:
            return None
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        caller = token_callers.caller(key)
        if caller is None:
            return None
        try:
            data = loads_json(body)
        except ValueError:
            return None
        items = data if isinstance(data, list) else [data]
        allowed = {tenant for tenant, role in caller.roles.items() if role_allows(role, Capability.INGEST)}
        resolved = []
        for item in items:
            # As resolve_tenant_id and require in the DRF view: the body's tenant, or the caller's only one.
            if not isinstance(item, dict):
                return None
            tenant_id = item.get("tenant_id")
            if tenant_id in (None, ""):
                if len(caller.roles) != 1:
                    return None
                tenant_id = next(iter(caller.roles))
            if not isinstance(tenant_id, str) or tenant_id not in caller.roles:
                return None
            try:
                check_role(caller.roles[tenant_id], Capability.INGEST)
            except PermissionDenied:
                return None
            resolved.append({**item, "tenant_id": tenant_id})
        try:
            # The caller's tenants exist (memberships point at them): no query to check them again.
            checked = events_check(resolved, allowed_tenant_ids=allowed, known_tenant_ids=allowed)
        except ValidationError:
            return None
        if not TokenRateThrottle().allows_token(caller.token_id):
            return None  # Django answers 429 (and counts the refusal)
        with structlog.contextvars.bound_contextvars(
            request_id=self.request_id(environ), user_id=caller.user_id, ip=client_address(request)
        ):
            answer = self.store(checked, caller.user_id)
            if answer is not None:
                request_logger.info("request_finished", code=int(answer[0][:3]), request="POST /api/events")
        return answer

    @staticmethod
    def request_id(environ: dict[str, Any]) -> str:
        """As django-structlog's middleware: the proxy's X-Request-ID when trusted, else a new UUID."""
        upstream = environ.get("HTTP_X_REQUEST_ID")
        if upstream and settings.DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID:
            return str(upstream)
        return str(uuid.uuid4())

    @staticmethod
    def store(checked: list[Any], actor_id: int) -> Answer | None:
        """``events_store`` and its answer: 202, or the JSON 429 / 503 / 500 the API's error handler gives; None
        leaves the request to Django when the database refused what the caches believed (a tenant deleted
        since, a connection that died since its last use): nothing was stored, and the DRF view checks
        everything again on a fresh connection, so the caller gets its 400 or 202, never a 500 for it."""
        try:
            results = events_store(checked, actor_id)
        except Exception as error:  # the view's boundary, as governance.common.api_errors.api_exception_handler
            if isinstance(error, TooManyRequests):  # a tenant's quota: the DRF view's 429, nothing stored
                body, wait = too_many_requests(error)
                return "429 Too Many Requests", json_body(body), [("Retry-After", str(wait))]
            if caused_by_lock_timeout(error):
                logger.warning("database lock timeout, answered 503: %s", error)
                retry = [("Retry-After", str(retry_after_seconds()))]
                return "503 Service Unavailable", json_body({"detail": LOCK_DETAIL}), retry
            if isinstance(error, (IntegrityError, InterfaceError, OperationalError)):
                logger.warning("the lean event ingestion left a post to Django: %s", error)
                close_old_connections()
                return None
            logger.exception("Unhandled error in the lean event ingestion", exc_info=error)
            return "500 Internal Server Error", json_body({"detail": "Internal server error."}), []
        return "202 Accepted", json_body({"events": [result.as_dict() for result in results]}), []
