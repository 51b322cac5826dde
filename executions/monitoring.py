"""Prometheus scrape at ``/metrics`` (docs/operations.md, "Metrics").

What processes count is defined in ``governance/common/prometheus.py``; this module adds what is read from the
database at scrape time (the queue lag that matters and the approvals waiting, true for every host at
once) and serves both in Prometheus' text format.

Access: a request carrying ``Authorization: Bearer <METRICS_TOKEN>`` is served; without a token
configured, only loopback clients are, and only where ``METRICS_ALLOW_LOOPBACK`` is on (``make run``).
Anything else is a 404, so the path gives nothing away.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import logging
import os
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.db.models import Count, Min, Q
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from executions.choices import ApprovalStatus, ExecutionOutcome, ExecutionStatus
from executions.delivery.models import WebhookEndpoint
from executions.models import ApprovalRequest, AutomationExecution, Event
from governance.common.prometheus import PREFIX, count_executions_ended
from governance.quotas import HOLD_KIND as QUOTA_HOLD_KIND

logger = logging.getLogger(__name__)


def _accepted_at(execution: AutomationExecution) -> dt.datetime | None:
    """When the execution's trigger was accepted: its event's received_at when the event is in memory
    (the normal path), else read; the execution's triggered_at for triggers without an event."""
    if execution.event_id is None:
        return execution.triggered_at
    if AutomationExecution.event.is_cached(execution) and execution.event is not None:
        return execution.event.received_at
    return Event.objects.filter(pk=execution.event_id).values_list("received_at", flat=True).first()


def count_ended(executions: Iterable[AutomationExecution]) -> None:
    """Count executions that ended without running their action (skipped, rejected, blocked, cancelled),
    after commit. Runs whose action ended are counted by ``count_action_ended``."""
    count_executions_ended((str(execution.status), str(execution.trigger_source), None) for execution in executions)


def count_action_ended(execution: AutomationExecution, succeeded: bool, *, recorded_only: bool = False) -> None:
    """Count a run whose action just ended (after commit), with its latency from the trigger accepted; a run
    only recorded (nothing received its command) under its own ``recorded_only`` status label."""
    status = (
        ExecutionOutcome.RECORDED_ONLY
        if recorded_only
        else ExecutionStatus.SUCCEEDED
        if succeeded
        else ExecutionStatus.FAILED
    )
    accepted = _accepted_at(execution)
    latency = (timezone.now() - accepted).total_seconds() if isinstance(accepted, dt.datetime) else None
    count_executions_ended([(str(status), str(execution.trigger_source), latency)])


class QueueGauges(Collector):
    """Gauges read from the database at each scrape: five aggregate queries (events, executions, held
    executions, approvals, unhealthy webhook endpoints)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        oldest_event = Event.objects.filter(dispatched_at__isnull=True).aggregate(oldest=Min("received_at"))["oldest"]
        due = AutomationExecution.objects.aggregate(
            pending=Min("triggered_at", filter=Q(status=ExecutionStatus.PENDING)),
            approved=Min("updated_at", filter=Q(status=ExecutionStatus.APPROVED)),
            retrying=Min("next_attempt_at", filter=Q(status=ExecutionStatus.RETRYING, next_attempt_at__lte=now)),
            expired=Min("lease_expires_at", filter=Q(status=ExecutionStatus.RUNNING, lease_expires_at__lte=now)),
        )
        oldest_due = min((moment for moment in due.values() if moment is not None), default=None)
        held = AutomationExecution.objects.filter(
            status=ExecutionStatus.DEFERRED, governance_decision__hold__kind=QUOTA_HOLD_KIND
        ).count()
        waiting = ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING).aggregate(
            oldest=Min("requested_at"), count=Count("id")
        )
        yield _gauge(
            "oldest_undispatched_event_age_seconds",
            "Age of the oldest stored event not yet handed to matching (0 when none).",
            _age(now, oldest_event),
        )
        yield _gauge(
            "oldest_due_execution_age_seconds",
            "How long the most overdue execution has been due: pending, approved, a retry whose time has "
            "come, or a running attempt whose lease expired (0 when none).",
            _age(now, oldest_due),
        )
        yield _gauge(
            "executions_held_by_quota",
            "Executions deferred by their tenant's executions-per-hour quota, waiting for the next hour.",
            held,
        )
        yield _gauge(
            "approvals_waiting",
            "Approval requests waiting for a decision.",
            waiting["count"],
        )
        yield _gauge(
            "oldest_approval_waiting_age_seconds",
            "Age of the oldest approval request still waiting (0 when none).",
            _age(now, waiting["oldest"]),
        )
        yield _gauge(
            "webhook_endpoints_unhealthy",
            "Enabled webhook endpoints marked unhealthy: their attempts kept failing, so their deliveries back off.",
            WebhookEndpoint.objects.filter(enabled=True, unhealthy_since__isnull=False).count(),
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=value)


def _age(now: object, moment: object) -> float:
    if moment is None:
        return 0.0
    return max(0.0, (now - moment).total_seconds())  # type: ignore[operator]


def exposition() -> bytes:
    """The scrape's text: every process's files in multi-process mode (else this process's own
    metrics), then the gauges read from the database."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    gauges = CollectorRegistry()
    gauges.register(QueueGauges())
    return generate_latest(counted) + generate_latest(gauges)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def scrape_allowed(request: HttpRequest) -> bool:
    token = str(settings.METRICS_TOKEN or "")
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    return bool(settings.METRICS_ALLOW_LOOPBACK) and _is_loopback(request.META.get("REMOTE_ADDR", ""))


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not scrape_allowed(request):
        return HttpResponseNotFound("Not found", content_type="text/plain")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
