"""Standard Webhooks signatures: what we send, and the receiver's recipe (``verify``) for docs and tests.

Signed content is ``f"{webhook_id}.{timestamp}.{body}"`` with the raw body bytes; the signature is
``"v1," + base64(HMAC-SHA256(key, signed content))`` where ``key`` is the base64-decoded part of the
``whsec_...`` secret. Several signatures are space-separated (during a secret rotation we sign with both).
Pure module: no ORM.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec asks for 24 to 64 bytes of randomness
DEFAULT_TOLERANCE_SECONDS = 5 * 60
SIGNATURE_VERSION = "v1"


class WebhookVerificationError(Exception):
    """The request is not a valid, fresh webhook signed with the given secret."""


def generate_secret() -> str:
    """A new endpoint secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a ``whsec_...`` secret; raise ValueError if it is not one."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("A webhook secret is whsec_ followed by base64.") from None
    if not key:
        raise ValueError("The webhook secret is empty.")
    return key


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """One signature, ``v1,<base64>``, of ``body`` sent as ``webhook_id`` at ``timestamp``."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def webhook_headers(
    secrets_: Iterable[str], webhook_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every secret in ``secrets_`` (newest first)."""
    when = int(time.time()) if timestamp is None else timestamp
    signatures = " ".join(sign(secret, webhook_id, when, body) for secret in secrets_)
    if not signatures:
        raise ValueError("At least one secret is needed to sign a webhook.")
    return {"webhook-id": webhook_id, "webhook-timestamp": str(when), "webhook-signature": signatures}


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """The receiver's recipe: raise ``WebhookVerificationError`` unless the request is signed and fresh.

    1. Read ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (header names are case-insensitive).
    2. Refuse a timestamp more than ``tolerance`` seconds away from now, in either direction (replays).
    3. Compute ``v1,`` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{raw body}")).
    4. Accept if any space-separated ``v1`` signature equals it, compared in constant time.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    try:
        webhook_id = lowered["webhook-id"]
        timestamp_text = lowered["webhook-timestamp"]
        signature_header = lowered["webhook-signature"]
    except KeyError as exc:
        raise WebhookVerificationError(f"Missing header {exc.args[0]}.") from None
    try:
        timestamp = int(timestamp_text)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a whole number of seconds.") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance; possible replay.")
    try:
        expected = sign(secret, webhook_id, timestamp, body).partition(",")[2]
    except ValueError as exc:
        raise WebhookVerificationError(str(exc)) from None
    for candidate in signature_header.split(" "):
        version, _, value = candidate.partition(",")
        if version == SIGNATURE_VERSION and hmac.compare_digest(value.encode(), expected.encode()):
            return
    raise WebhookVerificationError("No signature matches.")
