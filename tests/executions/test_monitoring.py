"""Prometheus metrics (``/metrics``): who may scrape, what the pipeline counts, the gauges read at scrape.

The counts are read from this process's registry before and after (other tests count too); the serve
test (test_serve.py) scrapes the same metrics added up across the web and worker processes.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import urllib.request

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from executions.choices import ExecutionStatus
from executions.delivery.services.endpoints import endpoint_create
from executions.models import AutomationExecution, Event
from executions.monitoring import QueueGauges
from executions.services import emit_event, execution_reject
from governance.api.throttling import TokenRateThrottle
from tests.api import token_client
from tests.executions.conftest import make_event_rule
from tests.executions.workers import wait_for

pytestmark = pytest.mark.django_db


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def scrape(client, **headers) -> dict[str, float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain")
    return {
        f"{s.name}{sorted(s.labels.items()) if s.labels else ''}": s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


# --- who may scrape ---------------------------------------------------------------------------------


def test_without_a_token_metrics_is_not_found_by_default(client):
    assert client.get("/metrics").status_code == 404


@override_settings(METRICS_TOKEN="s3cret-scrape-token")
def test_the_bearer_token_is_required_when_set(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    values = scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")
    assert "automations_approvals_waiting" in values


@override_settings(METRICS_TOKEN="", METRICS_ALLOW_LOOPBACK=True)
def test_loopback_clients_may_scrape_where_allowed_and_nobody_else(client):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 404
    # a forged forwarded-for header does not make a remote client local
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 404


# --- what the pipeline counts -----------------------------------------------------------------------


def emit(tenant, capture, key: str, **payload):
    with capture(execute=True):
        return emit_event(
            tenant.pk, "product_added", {"product_id": key, **payload}, source="store", idempotency_key=key
        )


def test_events_executions_and_latency_are_counted_once_committed(
    tenant, event_rule, active_store, django_capture_on_commit_callbacks
):
    accepted = sample("automations_events_accepted_total")
    # no webhook endpoint receives the rule's add_product commands: the runs are counted as recorded_only
    recorded = sample("automations_executions_ended_total", status="recorded_only", trigger_source="event")
    succeeded = sample("automations_executions_ended_total", status="succeeded", trigger_source="event")
    latencies = sample("automations_pipeline_latency_seconds_count", trigger_source="event")

    emit(tenant, django_capture_on_commit_callbacks, "p1")
    emit(tenant, django_capture_on_commit_callbacks, "p2")
    emit(tenant, django_capture_on_commit_callbacks, "p1")  # a duplicate: not accepted again

    assert AutomationExecution.objects.filter(status=ExecutionStatus.SUCCEEDED, recorded_only=True).count() == 2
    assert sample("automations_events_accepted_total") == accepted + 2
    assert sample("automations_executions_ended_total", status="recorded_only", trigger_source="event") == recorded + 2
    assert sample("automations_executions_ended_total", status="succeeded", trigger_source="event") == succeeded
    assert sample("automations_pipeline_latency_seconds_count", trigger_source="event") == latencies + 2


def test_skipped_and_rejected_runs_are_counted_by_status(
    tenant, owner, council_member, django_capture_on_commit_callbacks
):
    make_event_rule(tenant, owner)  # its condition needs an active store: none is recorded, so it skips
    risky = make_event_rule(tenant, owner, name="Risky", risk_level="high", conditions=[])
    skipped = sample("automations_executions_ended_total", status="skipped", trigger_source="event")
    rejected = sample("automations_executions_ended_total", status="rejected", trigger_source="event")

    emit(tenant, django_capture_on_commit_callbacks, "p1")
    waiting = AutomationExecution.objects.get(automation_rule=risky)
    with django_capture_on_commit_callbacks(execute=True):
        execution_reject(waiting, council_member, "not now")

    assert sample("automations_executions_ended_total", status="skipped", trigger_source="event") == skipped + 1
    assert sample("automations_executions_ended_total", status="rejected", trigger_source="event") == rejected + 1


def test_a_rolled_back_event_is_not_counted(tenant, event_rule, active_store, django_capture_on_commit_callbacks):
    accepted = sample("automations_events_accepted_total")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        emit_event(tenant.pk, "product_added", {"product_id": "x"}, source="store")
    # the transaction never commits: its callbacks are dropped, as a rollback drops them
    assert callbacks
    assert sample("automations_events_accepted_total") == accepted


def test_webhook_attempts_are_counted_by_outcome_with_their_latency(
    tenant, owner, active_store, sink, loopback_allowed, django_capture_on_commit_callbacks
):
    endpoint_create(tenant, sink.url(), action_type="add_product")
    make_event_rule(tenant, owner)
    attempts = sample("automations_webhook_attempts_total", outcome="succeeded")
    latencies = sample("automations_webhook_latency_seconds_count", outcome="succeeded")

    emit(tenant, django_capture_on_commit_callbacks, "p1")

    assert len(sink.requests) == 1
    assert sample("automations_webhook_attempts_total", outcome="succeeded") == attempts + 1
    assert sample("automations_webhook_latency_seconds_count", outcome="succeeded") == latencies + 1


def test_rate_limit_refusals_are_counted_per_tenant(owner, monkeypatch, settings):
    monkeypatch.setattr(TokenRateThrottle, "timer", staticmethod(lambda: 1_800_000_030.0))
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api": "2/minute"})
    caches["throttle"].clear()
    before = sample("automations_rate_limit_refusals_total", tenant_id="tenant_test")
    client = token_client(owner)
    try:
        statuses = [client.get("/api/automations").status_code for _ in range(4)]
    finally:
        caches["throttle"].clear()
    assert statuses == [200, 200, 429, 429]
    assert sample("automations_rate_limit_refusals_total", tenant_id="tenant_test") == before + 2


# --- gauges read at scrape time ----------------------------------------------------------------------


def gauges() -> dict[str, float]:
    registry = CollectorRegistry()
    registry.register(QueueGauges())
    return {family.name: family.samples[0].value for family in registry.collect()}


def test_queue_gauges_report_the_oldest_waiting_work(tenant, owner, council_member):
    assert gauges() == {
        "automations_oldest_undispatched_event_age_seconds": 0.0,
        "automations_oldest_due_execution_age_seconds": 0.0,
        "automations_executions_held_by_quota": 0.0,
        "automations_approvals_waiting": 0.0,
        "automations_oldest_approval_waiting_age_seconds": 0.0,
        "automations_webhook_endpoints_unhealthy": 0.0,
    }
    now = timezone.now()
    Event.objects.create(
        tenant=tenant, event_type="product_added", idempotency_key="late", received_at=now - dt.timedelta(seconds=90)
    )
    rule = make_event_rule(tenant, owner)
    AutomationExecution.objects.create(
        automation_rule=rule,
        tenant=tenant,
        trigger_source="event",
        status=ExecutionStatus.RETRYING,
        next_attempt_at=now - dt.timedelta(seconds=30),
    )
    AutomationExecution.objects.create(
        automation_rule=rule,
        tenant=tenant,
        trigger_source="event",
        status=ExecutionStatus.RETRYING,
        next_attempt_at=now + dt.timedelta(hours=1),  # not due yet: no lag
    )

    values = gauges()

    assert 90 <= values["automations_oldest_undispatched_event_age_seconds"] < 120
    assert 30 <= values["automations_oldest_due_execution_age_seconds"] < 60


def test_approvals_waiting_are_gauged(tenant, owner, council_member, django_capture_on_commit_callbacks):
    make_event_rule(tenant, owner, name="Risky", risk_level="high", conditions=[])
    emit(tenant, django_capture_on_commit_callbacks, "p1")
    emit(tenant, django_capture_on_commit_callbacks, "p2")

    values = gauges()

    assert values["automations_approvals_waiting"] == 2
    assert 0 <= values["automations_oldest_approval_waiting_age_seconds"] < 30


# --- a worker-only host ------------------------------------------------------------------------------


@pytest.mark.slow
def test_metrics_exporter_serves_what_another_process_counted(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    counting = "from governance.common.prometheus import EVENTS_ACCEPTED; EVENTS_ACCEPTED.inc(3)"
    subprocess.run([sys.executable, "-c", counting], env=env, check=True, cwd=settings.BASE_DIR, timeout=60)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
    exporter = subprocess.Popen(
        [*manage, "metrics_exporter", "--addr", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def scraped() -> str | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                    return response.read().decode()
            except OSError:
                return None

        text = wait_for(scraped, timeout=30, message="the exporter")
        assert "automations_events_accepted_total 3.0" in text
    finally:
        exporter.terminate()
        exporter.wait(timeout=10)


def test_metrics_exporter_needs_the_directory(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with pytest.raises(CommandError, match="PROMETHEUS_MULTIPROC_DIR"):
        call_command("metrics_exporter")
