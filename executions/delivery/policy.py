"""The delivery policy as pure functions: what an answer means, and how long to wait before retrying.

No ORM. Settings are read through ``executions.delivery.conf``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils import timezone

from executions.choices import AttemptOutcome
from executions.delivery.conf import setting
from executions.delivery.http import PERMANENT_ERROR_KINDS, HTTPResult


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


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or timezone.now())).total_seconds())


def retry_delay(
    round_attempt: int, *, retry_after: float | None = None, rng: random.Random | None = None
) -> dt.timedelta | None:
    """The wait before the next attempt after failed attempt ``round_attempt``, or None when out of attempts.

    Full jitter: uniform in [0, step], step from AUTOMATIONS_WEBHOOK_RETRY_SCHEDULE; at least 1 s, and never
    shorter than a Retry-After (itself capped at AUTOMATIONS_WEBHOOK_MAX_RETRY_AFTER).
    """
    schedule: Sequence[float] = setting("AUTOMATIONS_WEBHOOK_RETRY_SCHEDULE")
    if round_attempt > len(schedule):
        return None
    step = float(schedule[round_attempt - 1])
    seconds = max(1.0, (rng or random).uniform(0, step))
    if retry_after is not None:
        seconds = max(seconds, min(retry_after, float(setting("AUTOMATIONS_WEBHOOK_MAX_RETRY_AFTER"))))
    return dt.timedelta(seconds=seconds)
