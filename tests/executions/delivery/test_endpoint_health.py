"""Endpoint health (executions/delivery/services/health.py): an endpoint whose attempts keep failing is marked
unhealthy, its deliveries back off (longer retries, new ones deferred, one probe per sweep), one success marks it
healthy again, and other endpoints' deliveries are never held up. Real HTTP sinks answer."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from executions.choices import DeliveryStatus, ExecutionStatus, FailureKind
from executions.delivery.models import WebhookDelivery, WebhookEndpoint
from executions.delivery.services import endpoint_create, send_due_deliveries
from executions.delivery.services.health import endpoint_attempt_failed, endpoints_attempt_succeeded
from executions.models import AutomationExecution, MetricSample
from executions.services import emit_event
from tests.api import token_client
from tests.executions.conftest import make_event_rule
from tests.executions.delivery.sink import Reply, Sink, assert_webhooks_verified
from tests.factories import make_tenant, make_user
from tests.overrides import override_automations

pytestmark = pytest.mark.django_db

HEALTH = {"WEBHOOK_UNHEALTHY_AFTER": 2, "WEBHOOK_UNHEALTHY_RETRY_SECONDS": 600.0}


@pytest.fixture
def health_settings(loopback_allowed):
    with override_automations(**HEALTH):
        yield


@pytest.fixture
def second_sink():
    server = Sink().start()
    yield server
    server.close()
    assert_webhooks_verified(server)


def shop(tenant_id: str, owner_name: str, url: str):
    """A tenant with an active store, a product_added rule and one endpoint at ``url``."""
    tenant = make_tenant(tenant_id)
    owner = make_user(owner_name, tenant, "owner")
    MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")
    make_event_rule(tenant, owner)
    return tenant, owner, endpoint_create(tenant, url).endpoint


def emit(tenant, capture) -> None:
    with capture(execute=True):
        emit_event(tenant.pk, "product_added", {"product_id": "p_1"}, source="store")


def endpoint_state(endpoint: WebhookEndpoint) -> tuple[int, bool]:
    endpoint.refresh_from_db()
    return endpoint.consecutive_failures, endpoint.unhealthy_since is not None


def test_an_endpoint_that_keeps_failing_is_unhealthy_backs_off_and_another_tenants_deliveries_go_on(
    health_settings, sink, second_sink, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    failing_tenant, failing_owner, failing = shop("tenant_failing", "fay", sink.url())
    other_tenant, _, healthy = shop("tenant_fine", "gus", second_sink.url())
    sink.default = Reply(status=503, body=b"down")

    # when: two first attempts fail (503: retried)
    emit(failing_tenant, capture)
    assert endpoint_state(failing) == (1, False)
    before = timezone.now()
    emit(failing_tenant, capture)

    # then: the endpoint is unhealthy, and the retry the second failure scheduled waits the longer backoff
    assert endpoint_state(failing) == (2, True)
    last = WebhookDelivery.objects.filter(endpoint=failing).order_by("-id").first()
    assert last.next_attempt_at >= before + dt.timedelta(seconds=600)

    # when: more runs come for both tenants
    emit(failing_tenant, capture)
    emit(other_tenant, capture)
    emit(other_tenant, capture)

    # then: the unhealthy endpoint got no new POST (its delivery is stored, deferred), the other got both
    assert len(sink.requests) == 2
    assert len(second_sink.requests) == 2
    deferred = WebhookDelivery.objects.filter(endpoint=failing).order_by("-id").first()
    assert (deferred.status, deferred.attempt_count) == (DeliveryStatus.PENDING, 0)
    assert deferred.next_attempt_at > timezone.now() + dt.timedelta(seconds=500)
    waiting = AutomationExecution.objects.get(pk=deferred.execution_id)
    assert (waiting.status, waiting.failure_kind) == (ExecutionStatus.RETRYING, FailureKind.RECEIVER_DOWN)
    assert set(AutomationExecution.objects.filter(tenant=other_tenant).values_list("status", flat=True)) == {
        ExecutionStatus.SUCCEEDED
    }
    assert endpoint_state(healthy) == (0, False)

    # and the API, the webhook settings page and the metrics say so
    shown = token_client(failing_owner).get(f"/api/webhook-endpoints/{failing.pk}").json()
    shown = shown.get("webhook_endpoint", shown)
    assert (shown["healthy"], shown["consecutive_failures"]) == (False, 2) and shown["unhealthy_since"]
    client = Client()
    client.force_login(failing_owner)
    assert "data-endpoint-unhealthy" in client.get("/portal/settings/webhooks").content.decode()
    from tests.executions.test_monitoring import gauges

    assert gauges()["automations_webhook_endpoints_unhealthy"] == 1

    # when: every delivery is due and the receiver is back: a sweep sends the unhealthy endpoint one probe
    sink.default = Reply(status=200)
    WebhookDelivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]).update(
        next_attempt_at=timezone.now() - dt.timedelta(seconds=1)
    )
    with capture(execute=True):  # the health moves after commit
        counts = send_due_deliveries(wait_seconds=10)

    # then: one probe went out, the other two were pushed back, and its success made the endpoint healthy
    assert (counts.attempted, counts.deferred, counts.succeeded) == (1, 2, 1)
    assert len(sink.requests) == 3
    assert endpoint_state(failing) == (0, False)
    pushed = WebhookDelivery.objects.filter(
        endpoint=failing, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]
    )
    assert pushed.count() == 2 and all(d.next_attempt_at > timezone.now() for d in pushed)

    # and once due, a healthy endpoint's deliveries all go out in one sweep
    pushed.update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))
    assert send_due_deliveries(wait_seconds=10).succeeded == 2


def test_a_refused_attempt_counts_and_one_success_clears_it(health_settings, sink, django_capture_on_commit_callbacks):
    tenant, _, endpoint = shop("tenant_refused", "hal", sink.url())
    sink.reply(Reply(status=400), Reply(status=200))

    emit(tenant, django_capture_on_commit_callbacks)
    assert endpoint_state(endpoint) == (1, False)
    emit(tenant, django_capture_on_commit_callbacks)
    assert endpoint_state(endpoint) == (0, False)


def test_marking_unhealthy_happens_once_and_a_success_clears_it(tenant):
    endpoint = WebhookEndpoint.objects.create(tenant=tenant, url="https://hooks.example.com/x", secret="whsec_x")
    with override_automations(WEBHOOK_UNHEALTHY_AFTER=3):
        marks = [endpoint_attempt_failed(endpoint.pk) for _ in range(5)]

    assert marks == [False, False, True, False, False]
    assert endpoint_state(endpoint) == (5, True)
    assert endpoints_attempt_succeeded([endpoint.pk]) == 1
    assert endpoint_state(endpoint) == (0, False)
    assert endpoints_attempt_succeeded([endpoint.pk]) == 0  # a healthy endpoint: no write


def test_enabling_an_endpoint_by_hand_gives_it_a_fresh_start(tenant):
    from executions.delivery.services import endpoint_disable, endpoint_enable

    endpoint = WebhookEndpoint.objects.create(
        tenant=tenant,
        url="https://hooks.example.com/x",
        secret="whsec_x",
        consecutive_failures=9,
        unhealthy_since=timezone.now(),
    )
    endpoint_disable(endpoint, "by hand")
    endpoint_enable(endpoint)

    assert endpoint_state(endpoint) == (0, False)
