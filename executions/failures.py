"""Failure kinds: why an execution failed, in a word (``failure_kind_for``), a sentence and a next step.

``failure_kind_for`` is the one classifier: every place an execution becomes failed, retrying, blocked,
rejected or cancelled stores its answer in ``AutomationExecution.failure_kind`` (``transition`` does it for
every guarded move; the batch writers in ``executions.pipeline`` call it for their rows). It reads the
status and the error the pipeline wrote, so it also classifies executions stored before the field existed
(the data migration ``0014_failure_kind``). Pure: no ORM. The table is docs/failures.md.
"""

from __future__ import annotations

import http
import re
from dataclasses import dataclass

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
    if lowered.startswith(("connection failed", "tls error", "invalid http response", "endpoint unhealthy")):
        return FailureKind.RECEIVER_DOWN
    if "resolve" in lowered:
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
        if lowered.startswith("chain loop"):
            return FailureKind.CHAIN_LOOP
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


# --- what each kind means to a person ------------------------------------------------------------


@dataclass(frozen=True)
class FailureKindSpec:
    """One row of docs/failures.md: a kind's cause (``{receiver}``, ``{answer}``, ``{detail}`` filled in) and
    what to do next."""

    cause: str
    next_step: str


FAILURE_KINDS: dict[str, FailureKindSpec] = {
    FailureKind.RECEIVER_REFUSED: FailureKindSpec(
        "{receiver} {answer}",
        "Check the receiver: its logs say why it refused the command. Then redeliver from the webhook settings.",
    ),
    FailureKind.RECEIVER_DOWN: FailureKindSpec(
        "{receiver} {answer}",
        "It is retried on the delivery schedule. If it stays down, check that the receiver is running and "
        "reachable, then redeliver from the webhook settings.",
    ),
    FailureKind.TIMED_OUT: FailureKindSpec(
        "{receiver} did not answer in time",
        "Make the receiver answer quickly (reply 2xx first, do the work afterwards); "
        "retries follow on the delivery schedule, or redeliver from the webhook settings.",
    ),
    FailureKind.NO_ENDPOINT: FailureKindSpec(
        "The command was not sent: {detail}",
        "Enable the endpoint, or add one for this action type, in the webhook settings; then run the rule again.",
    ),
    FailureKind.DESTINATION_REFUSED: FailureKindSpec(
        "{receiver} points to an address this service may not call ({detail})",
        "Change the endpoint's URL to a public address in the webhook settings.",
    ),
    FailureKind.OUTCOME_UNKNOWN: FailureKindSpec(
        "The action may or may not have taken effect: {detail}",
        "While it retries (with the same idempotency key) there is nothing to do. If it failed after its last "
        "attempt, check whether the receiver got the command before running the rule again.",
    ),
    FailureKind.ACTION_ERROR: FailureKindSpec(
        "The action itself failed: {detail}",
        "Check the action's settings on the rule; if they look right, tell your administrator the execution number.",
    ),
    FailureKind.CONDITION_ERROR: FailureKindSpec(
        "The rule's conditions could not be evaluated: {detail}",
        "Open the rule, run Test conditions with a sample context, and fix or remove the condition that errors.",
    ),
    FailureKind.GOVERNANCE_ERROR: FailureKindSpec(
        "The rule's auto-approval rules could not decide: {detail}",
        "Check the rule's auto-approval settings and save the rule again.",
    ),
    FailureKind.GOVERNANCE_REJECTED: FailureKindSpec(
        "The council rejected this run: {detail}",
        "Nothing to do unless the rejection was a mistake; then run the rule manually.",
    ),
    FailureKind.NO_COUNCIL: FailureKindSpec(
        "This run needed council approval, but the tenant has no council",
        "Create a council, or assign one to the rule, so someone can approve its runs.",
    ),
    FailureKind.CAP_REACHED: FailureKindSpec(
        "Loop protection stopped it: {detail}",
        "Look for rules that trigger each other (an action emitting the event another rule listens to) and "
        "break the loop.",
    ),
    FailureKind.CHAIN_LOOP: FailureKindSpec(
        "Loop protection stopped it: {detail}",
        "Look for rules whose actions trigger each other for the same customer or product, and break the loop "
        "(a condition, or a different event type for the follow-up).",
    ),
    FailureKind.RULE_INACTIVE: FailureKindSpec(
        "The rule was disabled or archived before this run started",
        "Nothing to do; enable the rule if it should run.",
    ),
    FailureKind.APPROVAL_CANCELLED: FailureKindSpec(
        "The rule was archived while this run waited for approval",
        "Nothing to do; create the rule again if it should still act.",
    ),
    FailureKind.INTERNAL_ERROR: FailureKindSpec(
        "Something unexpected went wrong: {detail}",
        "Run the rule again; if it keeps failing, tell your administrator the execution number.",
    ),
}
DELIVERY_KINDS = frozenset(_DELIVERY_KIND_ORDER)


@dataclass(frozen=True)
class DeliveryFact:
    """One webhook delivery of an execution, as far as an explanation needs it."""

    url: str
    status_code: int | None
    error: str


@dataclass(frozen=True)
class FailureExplanation:
    """A failure in plain English: its kind and label, the cause, and what to do next."""

    kind: str
    label: str
    cause: str
    next_step: str

    @property
    def about_webhooks(self) -> bool:
        """A delivery kind: the fix is in the webhook settings (pages link there)."""
        return self.kind in DELIVERY_KINDS

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "label": self.label, "cause": self.cause, "next_step": self.next_step}


def _answer(fact: DeliveryFact | None) -> str:
    """How the receiver answered: "400 Bad Request", or what went wrong before any answer."""
    if fact is None:
        return "failed"
    code = fact.status_code
    if code is None:
        match = _HTTP_CODE.search(fact.error)
        code = int(match.group(1)) if match else None
    if code is not None:
        try:
            phrase = http.HTTPStatus(code).phrase
        except ValueError:
            phrase = ""
        answer = f"{code} {phrase}".strip()
        return f"answered {answer}" if not 200 <= code < 300 else answer
    error = fact.error.strip().rstrip(".")
    return f"could not be reached ({error})" if error else "could not be reached"


def _detail(error: str) -> str:
    """The error without the pipeline's lead-in, as a clause ("KeyError: 'x'")."""
    text = error.strip().rstrip(".")
    for lead in (
        "the rule's conditions could not be evaluated: ",
        "the rule's governance could not decide: ",
        "loop protection: ",
        "chain loop: ",
        "webhook delivery failed: ",
        "webhook delivery pending: ",
    ):
        if text.lower().startswith(lead):
            return text[len(lead) :]
    return text or "no detail was recorded"


def failure_explanation(
    kind: str, status: str, error: str, deliveries: list[DeliveryFact] | tuple[DeliveryFact, ...] = ()
) -> FailureExplanation | None:
    """The plain-English cause and next step of a failure; None for an execution that did not fail.

    ``kind``: the stored ``failure_kind`` ("" for a row stored before classification: classified now from
    ``status`` and ``error``). ``deliveries``: the execution's webhook deliveries, to name the endpoint and its
    answer for a delivery kind (``executions.selectors.failure_explanations`` reads them for many at once).
    """
    kind = kind or failure_kind_for(status, error)
    if not kind:
        return None
    spec = FAILURE_KINDS.get(kind, FAILURE_KINDS[FailureKind.INTERNAL_ERROR])
    fact = None
    if kind in DELIVERY_KINDS:
        # Without the delivery rows, the errors the execution recorded per delivery (no URL then).
        facts = list(deliveries) or [DeliveryFact("", None, part) for part in _DELIVERY_PART.split(error)[1:]]
        fact = next((d for d in facts if delivery_failure_kind(d.error, d.status_code) == kind), None)
    receiver = f"The webhook endpoint {fact.url}" if fact is not None and fact.url else "The webhook endpoint"
    if kind == FailureKind.NO_ENDPOINT:
        detail = (fact.error if fact is not None else _detail(error)).strip().rstrip(".")
        detail = detail[:1].lower() + detail[1:]
    elif kind == FailureKind.GOVERNANCE_REJECTED:
        detail = error.strip() or "no reason given"
    elif fact is not None and kind == FailureKind.DESTINATION_REFUSED:
        detail = fact.error.strip().rstrip(".")
    else:
        detail = _detail(error)
    cause = spec.cause.format(receiver=receiver, answer=_answer(fact), detail=detail)
    label = FailureKind(kind).label if kind in FailureKind.values else kind
    return FailureExplanation(str(kind), str(label), cause, spec.next_step)


def action_result_deliveries(action_result: object) -> list[DeliveryFact]:
    """The deliveries an execution's ``action_result`` lists (status code and error; no URL)."""
    if not isinstance(action_result, dict) or not isinstance(action_result.get("deliveries"), list):
        return []
    facts = []
    for entry in action_result["deliveries"]:
        if isinstance(entry, dict):
            code = entry.get("status_code")
            facts.append(DeliveryFact("", code if isinstance(code, int) else None, str(entry.get("error") or "")))
    return facts
