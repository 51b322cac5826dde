"""When to try again: the service's one retry policy, for actions and for webhook deliveries.

Two things are retried, each only while its outcome is unknown and always with the same idempotency id:

- **an action whose outcome is unknown** (an in-process handler that timed out, a worker lost mid-run):
  at most ``AUTOMATIONS["ACTION_MAX_ATTEMPTS"]`` attempts, exponential backoff
  ``ACTION_RETRY_BASE_SECONDS * 2**(attempt-1)`` capped at ``ACTION_RETRY_MAX_SECONDS``, +/-20 % jitter;
  a handler may ask for its own wait (``retry_after_seconds``);
- **a webhook delivery** that got no answer, a 5xx or a 429: one step of ``WEBHOOK_RETRY_SCHEDULE`` per
  retry, full jitter in [0, step] (at least 1 s), never sooner than the receiver's ``Retry-After``
  (capped at ``WEBHOOK_MAX_RETRY_AFTER``).

What an answer means (succeeded, retryable, failed) is ``executions.delivery.policy.classify``; this
module only says how long to wait and whether attempts remain. Pure functions, no ORM.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from collections.abc import Sequence

from django.utils import timezone

from automations.conf import app_settings

# --- actions ---------------------------------------------------------------------------------------


def action_may_retry(attempt: int) -> bool:
    """Whether an action whose attempt ``attempt`` ended unknown gets another attempt."""
    return attempt < int(app_settings.ACTION_MAX_ATTEMPTS)


def action_retry_delay_seconds(attempt: int, requested: float | None = None) -> float:
    """Backoff before attempt ``attempt + 1``: the handler's wish, else base * 2**(attempt-1) with jitter, capped."""
    if requested is not None:
        return max(0.0, float(requested))
    base = float(app_settings.ACTION_RETRY_BASE_SECONDS)
    cap = float(app_settings.ACTION_RETRY_MAX_SECONDS)
    delay = min(cap, base * 2.0 ** max(0, attempt - 1))
    return delay * random.uniform(0.8, 1.2)


# --- webhook deliveries ----------------------------------------------------------------------------


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


def delivery_retry_delay(
    round_attempt: int, *, retry_after: float | None = None, rng: random.Random | None = None
) -> dt.timedelta | None:
    """The wait before the next attempt after failed attempt ``round_attempt``, or None when out of attempts.

    Full jitter: uniform in [0, step], step from ``AUTOMATIONS["WEBHOOK_RETRY_SCHEDULE"]``; at least 1 s, and
    never shorter than a Retry-After (itself capped at ``AUTOMATIONS["WEBHOOK_MAX_RETRY_AFTER"]``).
    """
    schedule: Sequence[float] = app_settings.WEBHOOK_RETRY_SCHEDULE
    if round_attempt > len(schedule):
        return None
    step = float(schedule[round_attempt - 1])
    seconds = max(1.0, (rng or random).uniform(0, step))
    if retry_after is not None:
        seconds = max(seconds, min(retry_after, float(app_settings.WEBHOOK_MAX_RETRY_AFTER)))
    return dt.timedelta(seconds=seconds)
