"""Failure kinds: why an execution failed, in a word (``failure_kind_for``), a sentence and a next step.

``failure_kind_for`` is the one classifier: every place an execution becomes failed, retrying, blocked,
rejected or cancelled stores its answer in ``AutomationExecution.failure_kind`` (``transition`` does it for
every guarded move; the batch writers in ``executions.pipeline`` call it for their rows). It reads the
status and the error the pipeline wrote, so it also classifies executions stored before the field existed
(the data migration ``0014_failure_kind``). Pure: no ORM. The table is docs/failures.md.
"""

from __future__ import annotations

import re

from executions.choices import FAILURE_STATUSES, ExecutionStatus, FailureKind

# Texts the pipeline writes (executions.pipeline.evaluate, executions.pipeline.create, executions.approvals,
# executions.services.sweepers) and the delivery layer's errors (executions.delivery.http, .policy, .services).
_HTTP_CODE = re.compile(r"\bHTTP (\d{3})\b")
_DELIVERY_PART = re.compile(r"delivery \d+: ")

# Delivery kinds, most telling first: the one a person must fix before the others matter.
_DELIVERY_KIND_ORDER = (
    FailureKind.DESTINATION_REFUSED,
    FailureKind.NO_ENDPOINT,
    FailureKind.RECEIVER_REFUSED,
    FailureKind.TIMED_OUT,
    FailureKind.RECEIVER_DOWN,
    FailureKind.OUTCOME_UNKNOWN,
)


def delivery_failure_kind(error: str, status_code: int | None = None) -> str:
    """The failure kind of one webhook delivery's last error (and status code, when known); "" if none fits."""
    text = error.strip()
    lowered = text.lower()
    if status_code is None:
        match = _HTTP_CODE.search(text)
        status_code = int(match.group(1)) if match else None
    if "destination refused" in lowered or _is_url_refusal(lowered):
        return FailureKind.DESTINATION_REFUSED
    if lowered.startswith(("the endpoint was deleted", "the endpoint is disabled")):
        return FailureKind.NO_ENDPOINT
    if status_code is not None and not 200 <= status_code < 300:
        if status_code == 429 or status_code >= 500:
            return FailureKind.RECEIVER_DOWN
        return FailureKind.RECEIVER_REFUSED
    if lowered.startswith(("timed out", "no complete response within")):
        return FailureKind.TIMED_OUT
    if lowered.startswith(("connection failed", "tls error", "invalid http response")) or "resolve" in lowered:
        return FailureKind.RECEIVER_DOWN
    if "worker was lost" in lowered:
        return FailureKind.OUTCOME_UNKNOWN
    return ""


def _is_url_refusal(lowered: str) -> bool:
    # executions.delivery.addresses.InvalidWebhookURL messages, as a delivery records them.
    return lowered.startswith(("the url ", "only http", "only https", "credentials in the url", "ipv6 zone"))


def _delivery_errors_kind(error: str) -> str:
    """The most telling kind among "webhook delivery failed: delivery 5: HTTP 400; delivery 6: …"."""
    found = {delivery_failure_kind(part) for part in _DELIVERY_PART.split(error)[1:]}
    if not found:
        found = {delivery_failure_kind(error.split(":", 1)[-1])}
    for kind in _DELIVERY_KIND_ORDER:
        if kind in found:
            return kind
    return ""


def failure_kind_for(status: str, error: str, *, default: str = FailureKind.INTERNAL_ERROR) -> str:
    """The failure kind of an execution in ``status`` whose error is ``error``; "" for a status that is no failure.

    ``default``: the kind when the error names no known cause (the action step passes ``action_error``:
    there, an unrecognised error is the action's own).
    """
    if status not in FAILURE_STATUSES:
        return ""
    text = (error or "").strip()
    lowered = text.lower()
    if status == ExecutionStatus.REJECTED:
        return FailureKind.GOVERNANCE_REJECTED
    if status == ExecutionStatus.CANCELLED:
        return FailureKind.APPROVAL_CANCELLED
    if status == ExecutionStatus.BLOCKED:
        if lowered.startswith("loop protection"):
            return FailureKind.CAP_REACHED
        if "has no council" in lowered:
            return FailureKind.NO_COUNCIL
        if "disabled or archived" in lowered:
            return FailureKind.RULE_INACTIVE
        return FailureKind.INTERNAL_ERROR
    if lowered.startswith("the rule's conditions could not be evaluated"):
        return FailureKind.CONDITION_ERROR
    if lowered.startswith("the rule's governance could not decide"):
        return FailureKind.GOVERNANCE_ERROR
    if "webhook delivery" in lowered:
        kind = _delivery_errors_kind(text)
        if kind:
            return kind
    # An action whose outcome is unknown is retried with the same idempotency key (executions.pipeline.record).
    unknown = ("worker was lost", "outcome is", "outcome unknown", "same idempotency key", "time limit")
    if any(phrase in lowered for phrase in unknown):
        return FailureKind.OUTCOME_UNKNOWN
    if lowered.startswith("no handler for action type"):
        return FailureKind.ACTION_ERROR
    return default
