"""delivery_create_and_send: a new delivery is inserted already claimed for its first attempt, then sent."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from executions.choices import AttemptOutcome, DeliveryStatus
from executions.delivery.models import WebhookDelivery
from executions.delivery.services import delivery_create_and_send, send_due_deliveries, webhook_payload
from executions.delivery.signing import verify
from tests.executions.delivery.sink import Reply

COMMAND = {"template_id": "holiday_product", "count": 5, "category": "seasonal"}


def create_and_send(execution, endpoint):
    payload = webhook_payload(execution, "add_product", COMMAND)
    return delivery_create_and_send(execution, endpoint, payload, action_type="add_product")


def test_a_new_delivery_is_sent_once_with_one_recorded_attempt(execution, endpoint_with_secret, sink):
    outcome = create_and_send(execution, endpoint_with_secret.endpoint)

    assert outcome.attempted and outcome.succeeded
    delivery = WebhookDelivery.objects.get(pk=outcome.delivery_id)
    assert (delivery.status, delivery.attempt_count, delivery.round_attempt_count) == (DeliveryStatus.SUCCEEDED, 1, 1)
    assert (delivery.claim_token, delivery.next_attempt_at, delivery.last_status_code) == ("", None, 200)
    assert list(delivery.attempts.values_list("attempt_number", "outcome", "url")) == [
        (1, AttemptOutcome.SUCCEEDED, endpoint_with_secret.endpoint.url)
    ]
    [request] = sink.requests
    verify(endpoint_with_secret.secret, request.headers, request.body)
    assert request.headers["webhook-id"] == delivery.webhook_id == f"execution_{execution.pk}"


def test_a_second_call_finds_the_same_delivery_and_sends_nothing_more(execution, endpoint_with_secret, sink):
    first = create_and_send(execution, endpoint_with_secret.endpoint)

    again = create_and_send(execution, endpoint_with_secret.endpoint)

    assert again.delivery_id == first.delivery_id
    assert not again.attempted and again.succeeded
    assert WebhookDelivery.objects.filter(execution=execution).count() == 1
    assert len(sink.requests) == 1


def test_a_failed_first_attempt_is_retried_by_the_sweeper_with_the_same_webhook_id(
    execution, endpoint_with_secret, sink
):
    sink.reply(Reply(status=500))
    first = create_and_send(execution, endpoint_with_secret.endpoint)
    assert first.attempted and first.retrying
    # the first attempt's claim is released: due again on the retry schedule, not after the claim lease
    assert first.next_attempt_at <= timezone.now() + dt.timedelta(seconds=31)

    counts = send_due_deliveries(timezone.now() + dt.timedelta(minutes=1))

    assert (counts.attempted, counts.succeeded) == (1, 1)
    delivery = WebhookDelivery.objects.get(pk=first.delivery_id)
    assert list(delivery.attempts.order_by("attempt_number").values_list("attempt_number", "outcome")) == [
        (1, AttemptOutcome.RETRYABLE),
        (2, AttemptOutcome.SUCCEEDED),
    ]
    assert len({request.headers["webhook-id"] for request in sink.requests}) == 1
