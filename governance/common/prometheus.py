"""The service's Prometheus metrics: what each process counts (see docs/operations.md, "Metrics").

Counters and histograms live here, so every app can count without importing the app that exposes them;
the scrape (``/metrics``) and the gauges read from the database at scrape time live in
``executions/monitoring.py``.

Multi-process: the web server's worker processes and Celery's prefork children are separate processes. When
``PROMETHEUS_MULTIPROC_DIR`` names a directory (``serve`` sets one for its children; production sets it
on every host, emptied before the processes start), each process writes its values to files there and a
scrape adds them up (prometheus-client's multiprocess mode). Without it, each process counts alone
(fine for ``runserver`` and tests).

Counting is never allowed to break the work it counts: observations that follow a database write are
made after commit (``on_commit``), and each helper swallows and logs its own errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

from django.db import transaction
from prometheus_client import Counter, Histogram

logger = logging.getLogger(__name__)

PREFIX = "automations"

EVENTS_ACCEPTED = Counter(f"{PREFIX}_events_accepted", "Events stored (duplicates by idempotency key not counted).")
EXECUTIONS_ENDED = Counter(
    f"{PREFIX}_executions_ended",
    "Executions that reached an ended status, by status and trigger source.",
    ["status", "trigger_source"],
)
PIPELINE_LATENCY = Histogram(
    f"{PREFIX}_pipeline_latency_seconds",
    "From the trigger accepted (an event's received_at, else the execution's triggered_at) to its action "
    "finished, for executions that ran their action (succeeded or failed).",
    ["trigger_source"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
WEBHOOK_ATTEMPTS = Counter(
    f"{PREFIX}_webhook_attempts",
    "Webhook delivery attempts (HTTP POSTs), by outcome: succeeded, retryable or failed.",
    ["outcome"],
)
WEBHOOK_LATENCY = Histogram(
    f"{PREFIX}_webhook_latency_seconds",
    "How long a receiver took to answer a webhook POST (or to fail), by outcome.",
    ["outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
)
SWEEPER_RECOVERIES = Counter(
    f"{PREFIX}_sweeper_recoveries",
    "Work the sweepers picked up again (events and executions re-queued, expired leases), by kind.",
    ["kind"],
)
RATE_LIMIT_REFUSALS = Counter(
    f"{PREFIX}_rate_limit_refusals",
    "API requests refused by the rate limit (HTTP 429), by the caller's tenant ('' when it has none).",
    ["tenant_id"],
)
QUOTA_REFUSED_EVENTS = Counter(
    f"{PREFIX}_quota_refused_events",
    "Events refused (HTTP 429, nothing stored) because their tenant was over its events-per-minute quota.",
    ["tenant_id"],
)
QUOTA_DEFERRED_EXECUTIONS = Counter(
    f"{PREFIX}_quota_deferred_executions",
    "Executions deferred to the next hour because their tenant had started its executions-per-hour quota.",
    ["tenant_id"],
)


def _safely(observe: Callable[..., object], *args: object) -> None:
    try:
        observe(*args)
    except Exception:  # a metric must never fail the work it counts
        logger.exception("could not record a metric")


def after_commit(observe: Callable[..., object], *args: object) -> None:
    """Observe once the current transaction commits (at once outside one): rolled-back work is not counted."""
    transaction.on_commit(lambda: _safely(observe, *args))


def count_events_accepted(count: int) -> None:
    if count:
        after_commit(EVENTS_ACCEPTED.inc, count)


def _count_ended(ended: list[tuple[str, str, float | None]]) -> None:
    for status, trigger_source, latency in ended:
        EXECUTIONS_ENDED.labels(status=status, trigger_source=trigger_source).inc()
        if latency is not None:
            PIPELINE_LATENCY.labels(trigger_source=trigger_source).observe(max(0.0, latency))


def count_executions_ended(ended: Iterable[tuple[str, str, float | None]]) -> None:
    """``(status, trigger_source, latency seconds or None)`` per execution that ended, counted after commit."""
    items = list(ended)
    if items:
        after_commit(_count_ended, items)


def count_webhook_attempt(outcome: str, duration_ms: float) -> None:
    """One POST made (counted at once: it happened whatever the database does next)."""

    def observe() -> None:
        WEBHOOK_ATTEMPTS.labels(outcome=outcome).inc()
        WEBHOOK_LATENCY.labels(outcome=outcome).observe(max(0.0, duration_ms) / 1000)

    _safely(observe)


def count_sweeper_recoveries(counts: Mapping[str, int]) -> None:
    def observe() -> None:
        for kind, count in counts.items():
            if count and kind != "errors":
                SWEEPER_RECOVERIES.labels(kind=kind).inc(count)

    _safely(observe)


def count_rate_limit_refusal(tenant_id: str) -> None:
    _safely(lambda: RATE_LIMIT_REFUSALS.labels(tenant_id=tenant_id).inc())


def count_quota_refusal(tenant_id: str, events: int) -> None:
    _safely(lambda: QUOTA_REFUSED_EVENTS.labels(tenant_id=tenant_id).inc(events))


def count_quota_deferral(tenant_id: str) -> None:
    _safely(lambda: QUOTA_DEFERRED_EXECUTIONS.labels(tenant_id=tenant_id).inc())
