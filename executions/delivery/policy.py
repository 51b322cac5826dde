"""What a webhook answer means for its delivery, as a pure function (no ORM).

How long to wait before a retry, and whether one remains, is ``executions.retries``.
"""

from __future__ import annotations

from dataclasses import dataclass

from executions.choices import AttemptOutcome
from executions.delivery.http import PERMANENT_ERROR_KINDS, HTTPResult
from executions.retries import parse_retry_after


@dataclass(frozen=True)
class Classification:
    """What one attempt came to, and what follows from it."""

    outcome: str  # an AttemptOutcome: SUCCEEDED, RETRYABLE or FAILED
    error: str
    retry_after: float | None = None
    disable_endpoint: bool = False


def classify(result: HTTPResult) -> Classification:
    """What an HTTP result means for the delivery (see docs/webhooks.md, "Status codes")."""
    code = result.status_code
    if code is None:
        if result.error_kind in PERMANENT_ERROR_KINDS:
            return Classification(AttemptOutcome.FAILED, result.error)
        return Classification(AttemptOutcome.RETRYABLE, result.error)
    if 200 <= code < 300:
        return Classification(AttemptOutcome.SUCCEEDED, "")
    if code == 429 or 500 <= code < 600:
        return Classification(
            AttemptOutcome.RETRYABLE, f"HTTP {code}", retry_after=parse_retry_after(result.header_retry_after)
        )
    if 300 <= code < 400:
        location = result.header_location or "no Location header"
        return Classification(AttemptOutcome.FAILED, f"HTTP {code} redirect to {location[:500]} (not followed)")
    if code == 410:
        return Classification(AttemptOutcome.FAILED, "HTTP 410 Gone: endpoint disabled", disable_endpoint=True)
    return Classification(AttemptOutcome.FAILED, f"HTTP {code}")
