"""Delivery services against a real local HTTP sink: signatures, retries, status codes, SSRF, rotation."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils import timezone

from executions.choices import AttemptOutcome, DeliveryStatus, ExecutionStatus
from executions.delivery.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from executions.delivery.selectors import deliveries_due, execution_delivery_summary
from executions.delivery.services import (
    deliveries_create_for_execution,
    delivery_body,
    delivery_create,
    delivery_redeliver,
    delivery_send_attempt,
    endpoint_create,
    endpoint_disable,
    endpoint_enable,
    endpoint_rotate_secret,
    endpoint_update,
    send_due_deliveries,
    webhook_id_for_execution,
    webhook_payload,
)
from executions.delivery.signing import WebhookVerificationError, verify, webhook_headers
from tests.executions.delivery.conftest import make_execution
from tests.executions.delivery.sink import Reply

COMMAND = {"template_id": "holiday_product", "count": 5, "category": "seasonal"}


def new_delivery(execution, endpoint, command=COMMAND) -> WebhookDelivery:
    return delivery_create(
        execution, endpoint, webhook_payload(execution, "add_product", command), action_type="add_product"
    )


def attempts_of(delivery: WebhookDelivery) -> list[tuple[int, int | None, str]]:
    return list(delivery.attempts.order_by("attempt_number").values_list("attempt_number", "status_code", "outcome"))


# --- Endpoints ----------------------------------------------------------------------------------


def test_endpoint_create_returns_the_secret_once_and_stores_it_to_sign(tenant, loopback_allowed):
    created = endpoint_create(tenant, "https://hooks.example.com/automations", action_type="add_product")

    assert created.secret.startswith("whsec_")
    endpoint = WebhookEndpoint.objects.get(pk=created.endpoint.pk)
    assert endpoint.signing_secrets(timezone.now()) == [created.secret]
    assert endpoint.action_type == "add_product" and endpoint.enabled


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/", "Only http"),
        ("http://user:pw@example.com/", "Credentials"),
        ("http://2130706433/", "dotted decimal"),
        ("http://0x7f000001/", "dotted decimal"),
        ("http://017700000001/", "dotted decimal"),
        ("http://[::ffff:127.0.0.1]/", "carries the IPv4 address 127.0.0.1"),
        ("http://[::1]/", "loopback"),
        ("http://10.0.0.1/", "private"),
        ("http://169.254.169.254/", "metadata"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://localhost:8000/", "loopback name"),
        ("http://[fec0::1]/", "site-local"),
        ("http://[64:ff9b:1::a00:1]/", "local-use NAT64"),
    ],
)
def test_endpoint_create_refuses_bad_and_internal_urls_on_the_url_field(tenant, url, message):
    with pytest.raises(ValidationError) as excinfo:
        endpoint_create(tenant, url)

    assert message in " ".join(excinfo.value.message_dict["url"])
    assert not WebhookEndpoint.objects.exists()


def test_endpoint_create_refuses_an_unknown_action_type(tenant):
    with pytest.raises(ValidationError) as excinfo:
        endpoint_create(tenant, "https://hooks.example.com/", action_type="launch_rocket")

    assert "action_type" in excinfo.value.message_dict


def test_endpoint_update_refuses_fields_it_does_not_own(tenant):
    endpoint = endpoint_create(tenant, "https://hooks.example.com/").endpoint

    with pytest.raises(ValidationError) as excinfo:
        endpoint_update(endpoint, {"secret": "whsec_mine", "url": "https://other.example.com/"})

    assert "secret" in excinfo.value.message_dict
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/"


def test_disable_and_enable_keep_and_clear_the_reason(tenant):
    endpoint = endpoint_create(tenant, "https://hooks.example.com/").endpoint

    endpoint_disable(endpoint, "maintenance")
    assert (endpoint.enabled, endpoint.disabled_reason) == (False, "maintenance")
    endpoint_enable(endpoint)
    assert (endpoint.enabled, endpoint.disabled_reason, endpoint.disabled_at) == (True, "", None)


# --- Sending ------------------------------------------------------------------------------------


def test_a_delivery_is_signed_so_the_documented_recipe_verifies_it(execution, endpoint_with_secret, sink):
    delivery = new_delivery(execution, endpoint_with_secret.endpoint)

    outcome = delivery_send_attempt(delivery.pk)

    assert outcome.succeeded and outcome.attempted
    assert outcome.execution_status == ExecutionStatus.SUCCEEDED
    [request] = sink.requests
    verify(endpoint_with_secret.secret, request.headers, request.body)
    assert request.headers["webhook-id"] == webhook_id_for_execution(execution.pk) == delivery.webhook_id
    assert request.headers["content-type"] == "application/json"
    sent = json.loads(request.body)
    assert sent["type"] == "automation.action.add_product"
    assert sent["data"]["command"] == COMMAND
    assert sent["data"]["execution_id"] == execution.pk
    assert attempts_of(delivery) == [(1, 200, AttemptOutcome.SUCCEEDED)]
    # the published library agrees (the sink fixture checks every webhook this way when the test ends)
    assert not sink.unverified_webhooks([endpoint_with_secret.secret])


def test_the_sinks_standardwebhooks_check_refuses_a_forged_or_foreign_signature(
    execution, endpoint_with_secret, sink, tenant
):
    # given a real delivery, and the same request as another secret would have signed it
    delivery_send_attempt(new_delivery(execution, endpoint_with_secret.endpoint).pk)
    [real] = sink.requests
    foreign = endpoint_create(tenant, "https://hooks.example.com/other").secret
    forged = webhook_headers([foreign], real.headers["webhook-id"], real.body)
    sink.requests.append(type(real)(real.method, real.path, {**real.headers, **forged}, real.body))

    # then the check refuses the forged one only, as long as the other endpoint's secret is not offered
    assert sink.unverified_webhooks([endpoint_with_secret.secret]) == [sink.requests[1]]
    assert not sink.unverified_webhooks([endpoint_with_secret.secret, foreign])


def test_the_body_is_the_same_bytes_on_every_attempt(execution, endpoint_with_secret, sink):
    delivery = new_delivery(execution, endpoint_with_secret.endpoint)
    sink.reply(Reply(status=500))
    now = timezone.now()

    delivery_send_attempt(delivery.pk, now=now)
    send_due_deliveries(now + dt.timedelta(minutes=1))

    first, second = sink.requests
    assert first.body == second.body == delivery_body(delivery.payload)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]


def test_500_then_200_retries_from_the_database_and_records_one_success(execution, endpoint_with_secret, sink):
    # given a receiver that fails once
    delivery = new_delivery(execution, endpoint_with_secret.endpoint)
    sink.reply(Reply(status=500, body=b"oops"))
    now = timezone.now()

    # when the first attempt fails
    first = delivery_send_attempt(delivery.pk, now=now)

    # then it is retrying, with the next time in the database, within the first step of the schedule
    assert first.retrying and first.execution_status == ExecutionStatus.RETRYING
    assert now < first.next_attempt_at <= now + dt.timedelta(seconds=30)
    assert deliveries_due(now) == []
    assert deliveries_due(now + dt.timedelta(seconds=31)) == [delivery.pk]

    # when the sweeper runs after that time
    counts = send_due_deliveries(now + dt.timedelta(seconds=31))

    # then the second attempt succeeds; both are rows, one success, same webhook-id
    assert (counts.due, counts.attempted, counts.succeeded) == (1, 1, 1)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.next_attempt_at) == (DeliveryStatus.SUCCEEDED, 2, None)
    assert attempts_of(delivery) == [(1, 500, AttemptOutcome.RETRYABLE), (2, 200, AttemptOutcome.SUCCEEDED)]
    assert delivery.attempts.get(attempt_number=1).response_excerpt == "oops"
    assert len({request.headers["webhook-id"] for request in sink.requests}) == 1
    for request in sink.requests:
        verify(endpoint_with_secret.secret, request.headers, request.body)
    # and nothing is due any more
    assert send_due_deliveries(now + dt.timedelta(days=1)).due == 0
    assert len(sink.requests) == 2


def test_429_waits_at_least_retry_after(execution, endpoint_with_secret, sink):
    delivery = new_delivery(execution, endpoint_with_secret.endpoint)
    sink.reply(Reply(status=429, headers={"Retry-After": "120"}))
    now = timezone.now()

    outcome = delivery_send_attempt(delivery.pk, now=now)

    assert outcome.retrying
    assert outcome.next_attempt_at >= now + dt.timedelta(seconds=120)
    assert send_due_deliveries(now + dt.timedelta(seconds=60)).attempted == 0
    assert send_due_deliveries(now + dt.timedelta(seconds=121)).succeeded == 1
    assert attempts_of(delivery) == [(1, 429, AttemptOutcome.RETRYABLE), (2, 200, AttemptOutcome.SUCCEEDED)]


def test_410_fails_at_once_and_disables_the_endpoint(execution, rule, endpoint_with_secret, sink):
    endpoint = endpoint_with_secret.endpoint
    gone, waiting = new_delivery(execution, endpoint), new_delivery(make_execution(rule), endpoint)
    sink.reply(Reply(status=410))

    outcome = delivery_send_attempt(gone.pk)

    assert outcome.failed and outcome.execution_status == ExecutionStatus.FAILED
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    # the endpoint's other deliveries fail without a request
    assert delivery_send_attempt(waiting.pk).failed
    assert len(sink.requests) == 1
    assert not waiting.attempts.exists()


def test_400_fails_at_once_without_retry(execution, endpoint_with_secret, sink):
    delivery = new_delivery(execution, endpoint_with_secret.endpoint)
    sink.reply(Reply(status=400, body=b"bad command"))

    outcome = delivery_send_attempt(delivery.pk)

    assert outcome.failed and outcome.status_code == 400
    assert attempts_of(delivery) == [(1, 400, AttemptOutcome.FAILED)]
    assert send_due_deliveries(timezone.now() + dt.timedelta(days=2)).due == 0
    assert len(sink.requests) == 1


def test_a_redirect_to_an_internal_address_is_a_failure_not_followed(execution, endpoint_with_secret, sink, other_sink):
    delivery = new_delivery(execution, endpoint_with_secret.endpoint)
    sink.reply(Reply(status=307, headers={"Location": other_sink.url("/internal")}))

    outcome = delivery_send_attempt(delivery.pk)

    assert outcome.failed
    assert "redirect" in outcome.error and other_sink.url("/internal") in outcome.error
    assert other_sink.requests == []


def test_a_timeout_is_retryable(settings, execution, endpoint_with_secret, sink):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_READ_TIMEOUT": 0.3}
    delivery = new_delivery(execution, endpoint_with_secret.endpoint)
    sink.reply(Reply(delay=2))

    outcome = delivery_send_attempt(delivery.pk)

    assert outcome.retrying and outcome.status_code is None
    attempt = delivery.attempts.get()
    assert attempt.outcome == AttemptOutcome.RETRYABLE and "Timed out" in attempt.error


def test_a_connection_error_is_retryable(execution, tenant, loopback_allowed):
    endpoint = endpoint_create(tenant, "http://127.0.0.1:9/").endpoint  # discard port: nothing listens
    delivery = new_delivery(execution, endpoint)

    outcome = delivery_send_attempt(delivery.pk)

    assert outcome.retrying and "Connection failed" in outcome.error


def test_the_delivery_fails_when_the_schedule_runs_out(settings, execution, endpoint_with_secret, sink):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_RETRY_SCHEDULE": [10, 20]}
    delivery = new_delivery(execution, endpoint_with_secret.endpoint)
    sink.default = Reply(status=503)
    now = timezone.now()

    outcomes = [delivery_send_attempt(delivery.pk, now=now + dt.timedelta(minutes=minute)) for minute in (0, 1, 2, 3)]

    assert [outcome.status for outcome in outcomes] == ["retrying", "retrying", "failed", "failed"]
    assert [outcome.attempted for outcome in outcomes] == [True, True, True, False]
    assert "gave up after 3 attempts" in outcomes[2].error
    assert [row[2] for row in attempts_of(delivery)] == [AttemptOutcome.RETRYABLE] * 3


def test_a_destination_refused_at_send_time_fails_without_a_request(settings, execution, tenant, sink):
    # given an endpoint saved while loopback was allowed, by name, so the save-time check cannot see it
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True}
    endpoint = endpoint_create(tenant, f"http://localhost:{sink.port}/hook").endpoint
    delivery = new_delivery(execution, endpoint)
    # when the policy no longer allows it
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": False}

    outcome = delivery_send_attempt(delivery.pk)

    # then the resolved address is refused and nothing is sent
    assert outcome.failed
    assert "localhost resolves to 127.0.0.1" in outcome.error
    assert sink.requests == []


def test_a_delivery_not_yet_due_is_not_sent(execution, endpoint_with_secret, sink):
    delivery = new_delivery(execution, endpoint_with_secret.endpoint)

    outcome = delivery_send_attempt(delivery.pk, now=timezone.now() - dt.timedelta(minutes=1))

    assert not outcome.attempted and outcome.status == DeliveryStatus.PENDING
    assert sink.requests == []


def test_delivery_create_is_idempotent_per_execution_and_endpoint(execution, endpoint_with_secret):
    first = new_delivery(execution, endpoint_with_secret.endpoint)
    again = new_delivery(execution, endpoint_with_secret.endpoint, command={"other": True})

    assert again.pk == first.pk and again.payload == first.payload
    assert WebhookDelivery.objects.count() == 1


def test_delivery_create_refuses_another_tenants_endpoint(rule, other_tenant, loopback_allowed):
    foreign = endpoint_create(other_tenant, "https://hooks.example.com/").endpoint

    with pytest.raises(ValidationError) as excinfo:
        new_delivery(make_execution(rule), foreign)

    assert "endpoint" in excinfo.value.message_dict


def test_deliveries_for_an_execution_go_to_matching_enabled_endpoints(execution, tenant, other_tenant):
    for_all = endpoint_create(tenant, "https://all.example.com/").endpoint
    for_products = endpoint_create(tenant, "https://products.example.com/", action_type="add_product").endpoint
    endpoint_create(tenant, "https://mail.example.com/", action_type="send_notification")
    endpoint_create(tenant, "https://off.example.com/", enabled=False)
    endpoint_create(other_tenant, "https://theirs.example.com/")

    deliveries = deliveries_create_for_execution(execution, "add_product", {"x": 1})

    assert [delivery.endpoint_id for delivery in deliveries] == [for_all.pk, for_products.pk]
    assert {delivery.webhook_id for delivery in deliveries} == {webhook_id_for_execution(execution.pk)}


def test_execution_summary_maps_deliveries_onto_an_execution_status(execution, tenant, sink, loopback_allowed):
    good = endpoint_create(tenant, sink.url("/good")).endpoint
    bad = endpoint_create(tenant, sink.url("/bad")).endpoint
    assert execution_delivery_summary(execution.pk).status is None
    first, second = new_delivery(execution, good), new_delivery(execution, bad)

    delivery_send_attempt(first.pk)
    assert execution_delivery_summary(execution.pk).status == ExecutionStatus.RETRYING
    sink.reply(Reply(status=404))
    delivery_send_attempt(second.pk)

    summary = execution_delivery_summary(execution.pk)
    assert (summary.status, summary.succeeded, summary.failed, summary.open) == (ExecutionStatus.FAILED, 1, 1, 0)


# --- Redelivery -----------------------------------------------------------------------------------


def test_redeliver_sends_a_failed_delivery_again_with_the_same_webhook_id(
    settings, execution, endpoint_with_secret, sink
):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_ENQUEUE_DELIVERY": None}
    delivery = new_delivery(execution, endpoint_with_secret.endpoint)
    sink.reply(Reply(status=400))
    assert delivery_send_attempt(delivery.pk).failed

    delivery_redeliver(delivery)
    counts = send_due_deliveries()

    assert counts.succeeded == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.round_attempt_count) == ("succeeded", 2, 1)
    assert attempts_of(delivery) == [(1, 400, AttemptOutcome.FAILED), (2, 200, AttemptOutcome.SUCCEEDED)]
    assert sink.requests[0].headers["webhook-id"] == sink.requests[1].headers["webhook-id"]


def test_redeliver_refuses_a_delivery_that_has_not_failed(execution, endpoint_with_secret):
    delivery = new_delivery(execution, endpoint_with_secret.endpoint)

    with pytest.raises(ValidationError, match="Only a failed delivery"):
        delivery_redeliver(delivery)


def test_redeliver_refuses_while_the_endpoint_is_disabled(execution, endpoint_with_secret, sink):
    delivery = new_delivery(execution, endpoint_with_secret.endpoint)
    sink.reply(Reply(status=410))
    delivery_send_attempt(delivery.pk)

    with pytest.raises(ValidationError, match="Enable it"):
        delivery_redeliver(delivery)
    endpoint_enable(endpoint_with_secret.endpoint)
    delivery_redeliver(delivery)
    assert delivery.status == DeliveryStatus.PENDING


def test_redeliver_enqueues_after_commit_when_configured(
    settings, execution, endpoint_with_secret, sink, django_capture_on_commit_callbacks
):
    settings.AUTOMATIONS = {
        **settings.AUTOMATIONS,
        "WEBHOOK_ENQUEUE_DELIVERY": "executions.delivery.services.delivery_send_attempt",
    }
    delivery = new_delivery(execution, endpoint_with_secret.endpoint)
    sink.reply(Reply(status=400))
    delivery_send_attempt(delivery.pk)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        delivery_redeliver(delivery)

    assert len(callbacks) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED


# --- Secret rotation ------------------------------------------------------------------------------


def test_rotation_signs_with_both_secrets_during_the_grace_period_only(settings, rule, endpoint_with_secret, sink):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_SECRET_GRACE": 24 * 3600}
    endpoint, old_secret = endpoint_with_secret.endpoint, endpoint_with_secret.secret
    rotated_at = timezone.now()

    new_secret = endpoint_rotate_secret(endpoint, now=rotated_at)

    assert new_secret != old_secret
    # during the grace period both secrets verify
    during = new_delivery(make_execution(rule), endpoint)
    delivery_send_attempt(during.pk, now=rotated_at + dt.timedelta(hours=23))
    request = sink.requests[-1]
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    verify(new_secret, request.headers, request.body)
    verify(old_secret, request.headers, request.body)
    # after it only the new one does
    after = new_delivery(make_execution(rule), endpoint)
    delivery_send_attempt(after.pk, now=rotated_at + dt.timedelta(hours=25))
    request = sink.requests[-1]
    verify(new_secret, request.headers, request.body)
    with pytest.raises(WebhookVerificationError):
        verify(old_secret, request.headers, request.body)


def test_rotating_twice_keeps_only_the_latest_previous_secret(tenant):
    created = endpoint_create(tenant, "https://hooks.example.com/")
    now = timezone.now()

    second = endpoint_rotate_secret(created.endpoint, now=now)
    third = endpoint_rotate_secret(created.endpoint, now=now)

    assert created.endpoint.signing_secrets(now) == [third, second]


def test_a_claim_lease_shorter_than_a_request_is_a_configuration_error(settings, execution, endpoint_with_secret):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_CLAIM_LEASE": 10}
    delivery = new_delivery(execution, endpoint_with_secret.endpoint)

    with pytest.raises(ImproperlyConfigured, match="CLAIM_LEASE"):
        delivery_send_attempt(delivery.pk)
    assert not DeliveryAttempt.objects.exists()


def documented_verify():
    """The receiver snippet from docs/webhooks.md, executed as written."""
    from django.conf import settings as django_settings

    text = (django_settings.BASE_DIR / "docs" / "webhooks.md").read_text()
    snippet = next(block for block in text.split("```python\n")[1:] if "def verify" in block).split("```")[0]
    namespace: dict = {}
    exec(compile(snippet, "docs/webhooks.md", "exec"), namespace)
    return namespace["verify"]


def test_the_snippet_in_the_docs_verifies_a_real_delivery(execution, endpoint_with_secret, sink):
    verify_as_documented = documented_verify()
    delivery_send_attempt(new_delivery(execution, endpoint_with_secret.endpoint).pk)
    [request] = sink.requests

    verify_as_documented(endpoint_with_secret.secret, request.headers, request.body)
    with pytest.raises(ValueError, match="no valid signature"):
        verify_as_documented(endpoint_with_secret.secret, request.headers, request.body + b" ")
