"""The delivery policy: what each answer means and how long to wait. Pure: no database, no network."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from executions.choices import AttemptOutcome
from executions.delivery.http import ErrorKind, HTTPResult
from executions.delivery.policy import classify
from executions.retries import delivery_retry_delay, parse_retry_after

pytestmark = pytest.mark.database_free  # pure: the PostgreSQL run of .ci/run skips it


def answer(code: int | None, headers: dict[str, str] | None = None, kind: str = "") -> HTTPResult:
    return HTTPResult(status_code=code, duration_ms=1.0, headers=headers or {}, error_kind=kind, error=kind)


@pytest.mark.parametrize(
    ("result", "outcome", "disable"),
    [
        (answer(200), AttemptOutcome.SUCCEEDED, False),
        (answer(204), AttemptOutcome.SUCCEEDED, False),
        (answer(299), AttemptOutcome.SUCCEEDED, False),
        (answer(429), AttemptOutcome.RETRYABLE, False),
        (answer(500), AttemptOutcome.RETRYABLE, False),
        (answer(502), AttemptOutcome.RETRYABLE, False),
        (answer(503), AttemptOutcome.RETRYABLE, False),
        (answer(301, {"location": "http://10.0.0.1/"}), AttemptOutcome.FAILED, False),
        (answer(307), AttemptOutcome.FAILED, False),
        (answer(400), AttemptOutcome.FAILED, False),
        (answer(401), AttemptOutcome.FAILED, False),
        (answer(404), AttemptOutcome.FAILED, False),
        (answer(410), AttemptOutcome.FAILED, True),
        (answer(None, kind=ErrorKind.TIMEOUT), AttemptOutcome.RETRYABLE, False),
        (answer(None, kind=ErrorKind.CONNECTION), AttemptOutcome.RETRYABLE, False),
        (answer(None, kind=ErrorKind.TLS), AttemptOutcome.RETRYABLE, False),
        (answer(None, kind=ErrorKind.PROTOCOL), AttemptOutcome.RETRYABLE, False),
        (answer(None, kind=ErrorKind.UNRESOLVABLE), AttemptOutcome.RETRYABLE, False),
        (answer(None, kind=ErrorKind.REFUSED_DESTINATION), AttemptOutcome.FAILED, False),
        (answer(None, kind=ErrorKind.INVALID_URL), AttemptOutcome.FAILED, False),
    ],
)
def test_classify(result, outcome, disable):
    verdict = classify(result)

    assert (verdict.outcome, verdict.disable_endpoint) == (outcome, disable)


def test_classify_notes_the_redirect_target_and_the_retry_after():
    assert "http://10.0.0.1/" in classify(answer(302, {"location": "http://10.0.0.1/"})).error
    assert classify(answer(429, {"retry-after": "90"})).retry_after == 90.0
    assert classify(answer(503, {"retry-after": "7"})).retry_after == 7.0


def test_retry_delays_follow_the_schedule_with_full_jitter():
    rng = random.Random(7)
    schedule = [30, 60, 120, 300, 900, 1800, 3600, 7200, 14400, 28800]

    for attempt, step in enumerate(schedule, start=1):
        delays = [delivery_retry_delay(attempt, rng=rng).total_seconds() for _ in range(50)]
        assert all(1 <= delay <= step for delay in delays)
        assert max(delays) - min(delays) > step / 4  # spread over the step, not a fixed wait
    assert delivery_retry_delay(len(schedule) + 1) is None


def test_retry_after_lengthens_but_is_capped(settings):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_MAX_RETRY_AFTER": 3600}

    assert delivery_retry_delay(1, retry_after=600).total_seconds() == 600
    assert delivery_retry_delay(1, retry_after=10**9).total_seconds() == 3600


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("120", 120.0), (" 5 ", 5.0), ("", None), (None, None), ("soon", None), ("-3", None)],
)
def test_parse_retry_after_seconds(value, seconds):
    assert parse_retry_after(value) == seconds


def test_parse_retry_after_http_date():
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)

    assert parse_retry_after("Thu, 01 Jan 2026 12:02:00 GMT", now=now) == 120.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
