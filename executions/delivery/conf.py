"""Delivery settings with their defaults, read at call time so tests can override them."""

from __future__ import annotations

from typing import Any

from django.conf import settings

# Delay before retry n (n = 1..10), in seconds: 30 s, 1 min, 2 min, 5 min, 15 min, 30 min, 1 h, 2 h, 4 h, 8 h.
# With the first attempt that makes 11 attempts; full jitter draws each delay from [0, step].
DEFAULT_RETRY_SCHEDULE = (30, 60, 120, 300, 900, 1800, 3600, 7200, 14400, 28800)

DEFAULTS: dict[str, Any] = {
    # Allow webhook destinations in private, loopback, link-local and CGNAT ranges (self-hosted installs, tests).
    # Cloud metadata, unspecified, multicast and broadcast addresses stay refused even then.
    "AUTOMATIONS_WEBHOOK_ALLOW_PRIVATE_NETWORKS": False,
    # Refuse plain http:// endpoint URLs.
    "AUTOMATIONS_WEBHOOK_REQUIRE_HTTPS": False,
    "AUTOMATIONS_WEBHOOK_CONNECT_TIMEOUT": 5.0,
    # Per socket read; the whole request is also bounded by the total timeout.
    "AUTOMATIONS_WEBHOOK_READ_TIMEOUT": 15.0,
    "AUTOMATIONS_WEBHOOK_TOTAL_TIMEOUT": 30.0,
    "AUTOMATIONS_WEBHOOK_MAX_RESPONSE_BYTES": 64 * 1024,
    # How much of a response body an attempt row keeps.
    "AUTOMATIONS_WEBHOOK_RESPONSE_EXCERPT_CHARS": 1024,
    "AUTOMATIONS_WEBHOOK_RETRY_SCHEDULE": DEFAULT_RETRY_SCHEDULE,
    # A Retry-After longer than this is cut to it, so a receiver cannot park a delivery forever.
    "AUTOMATIONS_WEBHOOK_MAX_RETRY_AFTER": 24 * 3600,
    # How long a claimed delivery stays with its worker; after that the sweeper may send it again.
    # Must exceed the total timeout (checked when claiming).
    "AUTOMATIONS_WEBHOOK_CLAIM_LEASE": 120.0,
    # How long the previous signing secret keeps signing after a rotation.
    "AUTOMATIONS_WEBHOOK_SECRET_GRACE": 24 * 3600,
    "AUTOMATIONS_WEBHOOK_USER_AGENT": "automations-webhooks/1.0",
    # How many webhook POSTs of one pipeline batch may be in flight at once (threads in the worker process).
    # With a batch no larger than this, a batch takes at most about one total timeout.
    "AUTOMATIONS_WEBHOOK_BATCH_CONCURRENCY": 25,
    # At most this many POSTs to one endpoint at once per worker process; the rest wait in its own queue.
    # A receiver that hangs then holds this many threads, never the pool.
    "AUTOMATIONS_WEBHOOK_ENDPOINT_CONCURRENCY": 4,
    # Seconds a pipeline batch waits for its POSTs; one still running is left to its thread, which records
    # it when it answers (the execution waits "retrying" meanwhile). Matching never waits on a receiver longer.
    "AUTOMATIONS_WEBHOOK_INLINE_WAIT": 0.5,
    # Optional CA bundle for https endpoints (None: the system's trust store).
    "AUTOMATIONS_WEBHOOK_CA_BUNDLE": None,
    # Dotted path of a callable taking a delivery id, called after commit when a delivery is made due by
    # hand (redelivery), e.g. a Celery task's ``delay``. None: the next sweep sends it.
    "AUTOMATIONS_WEBHOOK_ENQUEUE_DELIVERY": None,
}


def setting(name: str) -> Any:
    """The project's value of a delivery setting, else its default."""
    return getattr(settings, name, DEFAULTS[name])
