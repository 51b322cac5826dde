"""Endpoint health: an endpoint whose attempts keep failing is marked unhealthy and its deliveries back off.

docs/webhooks.md, "Unhealthy endpoints". Per endpoint, never global: other endpoints' deliveries go on.

1. Every recorded attempt moves its endpoint's count after its transaction commits (one short UPDATE,
   outside the pipeline's transactions, so concurrent batches never wait on an endpoint row): a failed or
   retried attempt adds one, and at ``AUTOMATIONS["WEBHOOK_UNHEALTHY_AFTER"]`` in a row a guarded UPDATE
   sets ``unhealthy_since`` (once); a success sets both back (only when they are set, so a healthy
   endpoint costs no write).
2. While unhealthy: a retry waits at least ``AUTOMATIONS["WEBHOOK_UNHEALTHY_RETRY_SECONDS"]``; a new
   delivery is stored due after that wait instead of being POSTed at once; and a delivery sweep sends
   the endpoint one probe, deferring its other due deliveries by that wait. The probe's success marks the
   endpoint healthy, and its deliveries go out on the next sweeps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from automations.conf import app_settings
from executions.delivery.models import WebhookEndpoint


def endpoint_is_unhealthy(endpoint: WebhookEndpoint) -> bool:
    """As this instance was read: marked unhealthy."""
    return endpoint.unhealthy_since is not None


def unhealthy_wait() -> dt.timedelta:
    """How long an unhealthy endpoint's retries and deferred deliveries wait at least."""
    return dt.timedelta(seconds=float(app_settings.WEBHOOK_UNHEALTHY_RETRY_SECONDS))


def retry_delay_for(endpoint: WebhookEndpoint, delay: dt.timedelta | None) -> dt.timedelta | None:
    """The retry schedule's ``delay``, made at least ``unhealthy_wait()`` for an endpoint that is (or with this
    failure becomes) unhealthy; None (no retries left) stays None."""
    if delay is None:
        return None
    becoming = endpoint.consecutive_failures + 1 >= int(app_settings.WEBHOOK_UNHEALTHY_AFTER)
    if endpoint_is_unhealthy(endpoint) or becoming:
        return max(delay, unhealthy_wait())
    return delay


def endpoint_attempt_failed(endpoint_id: int, now: dt.datetime | None = None) -> bool:
    """Count a failed or retried attempt; True when this one marked the endpoint unhealthy."""
    now = now or timezone.now()
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(consecutive_failures=F("consecutive_failures") + 1)
    marked = WebhookEndpoint.objects.filter(
        pk=endpoint_id,
        unhealthy_since__isnull=True,
        consecutive_failures__gte=int(app_settings.WEBHOOK_UNHEALTHY_AFTER),
    ).update(unhealthy_since=now)
    return marked == 1


def endpoints_attempt_succeeded(endpoint_ids: Iterable[int]) -> int:
    """A success: the endpoints are healthy again, their counts back to 0; returns how many changed."""
    ids = sorted(set(endpoint_ids))
    if not ids:
        return 0
    return (
        WebhookEndpoint.objects.filter(pk__in=ids)
        .filter(Q(consecutive_failures__gt=0) | Q(unhealthy_since__isnull=False))
        .update(consecutive_failures=0, unhealthy_since=None)
    )


def health_record_on_commit(endpoint: WebhookEndpoint | None, succeeded: bool, now: dt.datetime) -> None:
    """Move the endpoint's health after the current transaction commits (at once outside one).

    A success writes only when this instance shows failures (it was read when the delivery was claimed):
    a healthy endpoint's successes cost nothing.
    """
    if endpoint is None:
        return
    endpoint_id = endpoint.pk
    if succeeded and not (endpoint.consecutive_failures or endpoint_is_unhealthy(endpoint)):
        return

    def record() -> None:  # a named function: a failure is logged by its name (robust), never raised
        if succeeded:
            endpoints_attempt_succeeded([endpoint_id])
        else:
            endpoint_attempt_failed(endpoint_id, now)

    transaction.on_commit(record, robust=True)
