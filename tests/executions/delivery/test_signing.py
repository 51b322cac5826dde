"""Standard Webhooks signatures and the receiver's recipe. Pure: no database."""

from __future__ import annotations

import base64
import time

import pytest

from executions.delivery.signing import (
    WebhookVerificationError,
    generate_secret,
    secret_key,
    sign,
    verify,
    webhook_headers,
)

pytestmark = pytest.mark.database_free  # pure: the PostgreSQL run of .ci/run skips it

# The example of the Standard Webhooks reference libraries.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_matches_the_standard_webhooks_reference_example():
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_the_reference_example_verifies_with_the_recipe():
    headers = {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TIMESTAMP), "webhook-signature": SPEC_SIGNATURE}

    verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP + 10)


def test_generated_secrets_are_whsec_and_32_random_bytes():
    first, second = generate_secret(), generate_secret()

    assert first.startswith("whsec_") and first != second
    assert len(secret_key(first)) == 32


def test_headers_round_trip_through_verify():
    secret = generate_secret()
    body = b'{"hello":"world"}'

    headers = webhook_headers([secret], "execution_1", body)

    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    verify(secret, headers, body)


def test_header_names_are_case_insensitive_for_the_receiver():
    secret = generate_secret()
    headers = {key.title(): value for key, value in webhook_headers([secret], "m1", b"{}").items()}

    verify(secret, headers, b"{}")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h, b: (h, b + b" "), "No signature matches"),
        (lambda h, b: ({**h, "webhook-id": "other"}, b), "No signature matches"),
        (lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b), "No signature matches"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b), "Missing header"),
        (lambda h, b: ({**h, "webhook-timestamp": "soon"}, b), "whole number"),
        (lambda h, b: ({**h, "webhook-signature": "v2," + h["webhook-signature"][3:]}, b), "No signature matches"),
    ],
)
def test_tampering_fails_verification(change, message):
    secret = generate_secret()
    body = b'{"command":"add_product"}'
    headers, tampered_body = change(webhook_headers([secret], "m1", body), body)

    with pytest.raises(WebhookVerificationError, match=message):
        verify(secret, headers, tampered_body)


def test_another_secret_fails_verification():
    headers = webhook_headers([generate_secret()], "m1", b"{}")

    with pytest.raises(WebhookVerificationError, match="No signature matches"):
        verify(generate_secret(), headers, b"{}")


@pytest.mark.parametrize("offset", [-301, 301, -3600])
def test_timestamps_outside_five_minutes_are_refused(offset):
    secret = generate_secret()
    now = int(time.time())
    headers = webhook_headers([secret], "m1", b"{}", timestamp=now + offset)

    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify(secret, headers, b"{}", now=now)


def test_timestamps_within_five_minutes_are_accepted():
    secret = generate_secret()
    now = int(time.time())

    for offset in (-299, 0, 299):
        verify(secret, webhook_headers([secret], "m1", b"{}", timestamp=now + offset), b"{}", now=now)


def test_several_secrets_give_space_separated_signatures_each_verifying():
    new, old = generate_secret(), generate_secret()
    headers = webhook_headers([new, old], "m1", b"{}")

    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(new, headers, b"{}")
    verify(old, headers, b"{}")
    with pytest.raises(WebhookVerificationError):
        verify(generate_secret(), headers, b"{}")


def test_a_malformed_secret_is_refused():
    with pytest.raises(ValueError, match="whsec_"):
        secret_key("whsec_not base64!")
    with pytest.raises(WebhookVerificationError):
        verify("whsec_***", webhook_headers([generate_secret()], "m1", b"{}"), b"{}")


def test_the_signature_is_hmac_sha256_of_id_timestamp_body():
    import hashlib
    import hmac

    secret = generate_secret()
    expected = hmac.new(secret_key(secret), b"m1.1700000000.{}", hashlib.sha256).digest()

    assert sign(secret, "m1", 1700000000, b"{}") == "v1," + base64.b64encode(expected).decode()
