"""Services for deliveries: create, send (claim, sign, POST, record, schedule), sweep, redeliver.

Delivery promise: at least once, never silently twice. A delivery is sent only by whoever claims it with
a guarded UPDATE; the claim pushes ``next_attempt_at`` forward by a lease, so if the worker dies
mid-request the sweeper sends it again once the lease has run out, with the same ``webhook-id``. At most
one attempt row is ever recorded as the success (a partial unique constraint); a second 2xx is recorded
visibly as a duplicate.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from automations.checks import webhook_claim_lease_problem
from automations.conf import app_settings
from executions.choices import OPEN_DELIVERY_STATUSES, AttemptOutcome, DeliveryStatus, ExecutionStatus
from executions.delivery.http import ClientOptions, HTTPResult, post_webhook
from executions.delivery.lanes import EndpointLanes
from executions.delivery.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from executions.delivery.policy import Classification, classify
from executions.delivery.selectors import deliveries_due, endpoints_receiving
from executions.delivery.services.endpoints import endpoint_disable
from executions.delivery.services.health import (
    endpoint_is_unhealthy,
    health_record_on_commit,
    retry_delay_for,
    unhealthy_wait,
)
from executions.delivery.signing import webhook_headers
from executions.retries import delivery_retry_delay
from governance import policy
from governance.common.db_locks import write_transaction
from governance.common.prometheus import count_webhook_attempt
from governance.common.sql_instances import CompiledQuery, insert_new_instances
from governance.roles import Capability

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from executions.models import AutomationExecution

logger = logging.getLogger(__name__)

OPEN = sorted(OPEN_DELIVERY_STATUSES)


@dataclass(frozen=True)
class DeliveryOutcome:
    """Where a delivery stands after ``delivery_send_attempt``; ``attempted`` says whether this call sent it."""

    delivery_id: int
    execution_id: int
    status: str  # a DeliveryStatus
    attempted: bool
    next_attempt_at: dt.datetime | None = None
    status_code: int | None = None
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == DeliveryStatus.SUCCEEDED

    @property
    def failed(self) -> bool:
        """Failed for good: attempts ran out, or the receiver refused in a way retrying cannot fix."""
        return self.status == DeliveryStatus.FAILED

    @property
    def retrying(self) -> bool:
        return self.status in OPEN_DELIVERY_STATUSES

    @property
    def execution_status(self) -> str:
        """The execution status this outcome maps to: succeeded, failed, or retrying while open."""
        if self.succeeded:
            return ExecutionStatus.SUCCEEDED
        if self.failed:
            return ExecutionStatus.FAILED
        return ExecutionStatus.RETRYING


@dataclass
class SweepCounts:
    """What one sweep did; ``errors`` counts deliveries whose send raised (logged with their id)."""

    due: int = 0
    attempted: int = 0
    succeeded: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    in_flight: int = 0  # POSTed, still unanswered when the sweep stopped waiting: recorded by their thread
    deferred: int = 0  # due to an unhealthy endpoint that already has this sweep's probe: pushed back


# --- Creating deliveries ------------------------------------------------------------------------


def webhook_id_for_execution(execution_id: int) -> str:
    """The ``webhook-id`` of an execution's command: stable across retries, redeliveries and endpoints."""
    return f"execution_{execution_id}"


def webhook_payload(execution: AutomationExecution, action_type: str, command: dict[str, Any]) -> dict[str, Any]:
    """The Standard Webhooks envelope: ``type``, ``timestamp`` and ``data`` (the action's command)."""
    return {
        "type": f"automation.action.{action_type}",
        "timestamp": execution.triggered_at.isoformat(),
        "data": {
            "execution_id": execution.pk,
            "rule_id": execution.automation_rule_id,
            "tenant_id": execution.tenant_id,
            "action_type": action_type,
            "command": command,
        },
    }


def delivery_create(
    execution: AutomationExecution,
    endpoint: WebhookEndpoint,
    payload: dict[str, Any],
    *,
    action_type: str = "",
    webhook_id: str | None = None,
) -> WebhookDelivery:
    """The delivery of ``payload`` for (execution, endpoint), created due now or, if it exists, as it is."""
    if endpoint.tenant_id != execution.tenant_id:
        raise ValidationError({"endpoint": "The endpoint belongs to another tenant."})
    # Insert first and read only on a conflict: the first attempt (the common case) costs one statement;
    # a retried attempt hits the (execution, endpoint) unique constraint and finds the same row.
    try:
        with transaction.atomic():
            return WebhookDelivery.objects.create(
                execution=execution,
                endpoint=endpoint,
                tenant_id=execution.tenant_id,
                action_type=action_type,
                webhook_id=webhook_id or webhook_id_for_execution(execution.pk),
                payload=payload,
                next_attempt_at=timezone.now(),
            )
    except IntegrityError:
        return WebhookDelivery.objects.get(execution=execution, endpoint=endpoint)


# Read for every batch the pipeline acts on: compiled once per process.
ENDPOINTS_RECEIVING: CompiledQuery[WebhookEndpoint] = CompiledQuery("endpoints_receiving", 2, endpoints_receiving)


def endpoints_for_action(tenant_id: str, action_type: str) -> list[WebhookEndpoint]:
    """The tenant's enabled endpoints for ``action_type`` (or for all actions), oldest first."""
    return ENDPOINTS_RECEIVING.rows(tenant_id, action_type)


def deliveries_create_for_execution(
    execution: AutomationExecution,
    action_type: str,
    payload: dict[str, Any],
    endpoints: list[WebhookEndpoint] | None = None,
) -> list[WebhookDelivery]:
    """One delivery per enabled endpoint of the tenant for ``action_type`` (or for all actions)."""
    if endpoints is None:
        endpoints = endpoints_for_action(execution.tenant_id, action_type)
    return [delivery_create(execution, endpoint, payload, action_type=action_type) for endpoint in endpoints]


# --- Sending ------------------------------------------------------------------------------------


def delivery_send_attempt(
    delivery_id: int, *, now: dt.datetime | None = None, loaded: WebhookDelivery | None = None
) -> DeliveryOutcome:
    """Send a due delivery once, record the attempt and schedule what follows; return where it stands.

    1. Claim it: a guarded UPDATE that succeeds only while it is open and due, pushing ``next_attempt_at``
       forward by the lease. Whoever does not get the claim sends nothing (``attempted`` is False).
    2. Record an in-flight attempt row (and mark one left in flight by a dead worker as unknown).
    3. POST the JSON body, signed with the endpoint's current secrets, through the SSRF-safe client.
    4. Classify: 2xx succeeded; timeout, connection error, 429, 5xx retry after a backoff with full jitter
       (never before Retry-After) until the schedule runs out; 3xx and other 4xx fail at once; 410 also
       disables the endpoint.
    ``loaded``: the delivery as its caller has just read or created it (saves reading it again; the
    claim below still decides). Raises ``WebhookDelivery.DoesNotExist`` if there is no such delivery.
    """
    now = now or timezone.now()
    if loaded is not None and loaded.pk == delivery_id:
        delivery = loaded
    else:
        delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    claim = _claim_due(delivery, now)
    if isinstance(claim, DeliveryOutcome):
        return claim
    delivery, attempt, token, endpoint = claim
    return _send_claimed(delivery, attempt, token, endpoint, now)


def delivery_create_and_send(
    execution: AutomationExecution, endpoint: WebhookEndpoint, payload: dict[str, Any], *, action_type: str = ""
) -> DeliveryOutcome:
    """The delivery of ``payload`` for (execution, endpoint), sent once now; where it stands afterwards.

    A new delivery is inserted already claimed for its first attempt, with that attempt's in-flight row,
    in one transaction: the same state ``delivery_create`` then ``delivery_send_attempt``'s claim would leave,
    one commit instead of two (the (execution, endpoint) unique constraint admits one inserter, as the
    guarded UPDATE admits one claimer). An existing delivery (a retried action) goes through
    ``delivery_send_attempt`` as it is: sent if it is open and due, else reported as it stands.
    """
    if endpoint.tenant_id != execution.tenant_id:
        raise ValidationError({"endpoint": "The endpoint belongs to another tenant."})
    now = timezone.now()
    if endpoint_is_unhealthy(endpoint):
        return _create_deferred(execution, endpoint, payload, action_type, now)
    token = uuid.uuid4().hex
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                execution=execution,
                endpoint=endpoint,
                tenant_id=execution.tenant_id,
                action_type=action_type,
                webhook_id=webhook_id_for_execution(execution.pk),
                payload=payload,
                next_attempt_at=now + claim_lease(),
                claim_token=token,
                claimed_at=now,
                attempt_count=1,
                round_attempt_count=1,
                updated_at=now,
            )
            attempt = DeliveryAttempt.objects.create(
                delivery=delivery, attempt_number=1, attempted_at=timezone.now(), url=endpoint.url
            )
    except IntegrityError:
        existing = WebhookDelivery.objects.select_related("endpoint").get(execution=execution, endpoint=endpoint)
        return delivery_send_attempt(existing.pk, loaded=existing)
    return _send_claimed(delivery, attempt, token, endpoint, now)


# A delivery held back because its endpoint is unhealthy (executions.failures reads it as "receiver unavailable").
UNHEALTHY_DEFERRED = "Endpoint unhealthy: its recent attempts kept failing, so deliveries to it back off."


def _create_deferred(
    execution: AutomationExecution,
    endpoint: WebhookEndpoint,
    payload: dict[str, Any],
    action_type: str,
    now: dt.datetime,
) -> DeliveryOutcome:
    """An unhealthy endpoint's new delivery: stored unclaimed, due after ``unhealthy_wait()`` (the sweeps' probes
    find out when the endpoint is back); an existing one is reported as it stands, or sent if it is due."""
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                execution=execution,
                endpoint=endpoint,
                tenant_id=execution.tenant_id,
                action_type=action_type,
                webhook_id=webhook_id_for_execution(execution.pk),
                payload=payload,
                next_attempt_at=now + unhealthy_wait(),
                last_error=UNHEALTHY_DEFERRED,
                updated_at=now,
            )
    except IntegrityError:
        existing = WebhookDelivery.objects.select_related("endpoint").get(execution=execution, endpoint=endpoint)
        return delivery_send_attempt(existing.pk, loaded=existing)
    return _outcome(delivery, attempted=False)


def _send_claimed(
    delivery: WebhookDelivery, attempt: DeliveryAttempt, token: str, endpoint: WebhookEndpoint, now: dt.datetime
) -> DeliveryOutcome:
    """POST the claimed attempt, signed, and record what came of it."""
    result, verdict = _post_claimed(delivery, endpoint, now)
    return _finish(delivery, attempt, token, endpoint, result, verdict, now)


def _post_claimed(
    delivery: WebhookDelivery, endpoint: WebhookEndpoint, now: dt.datetime
) -> tuple[HTTPResult, Classification]:
    """POST a claimed delivery's body, signed with the endpoint's current secrets; no database access."""
    body = delivery_body(delivery.payload)
    headers = {
        **webhook_headers(endpoint.signing_secrets(now), delivery.webhook_id, body),
        "Content-Type": "application/json",
        "User-Agent": app_settings.WEBHOOK_USER_AGENT,
    }
    result = post_webhook(endpoint.url, body, headers, client_options())
    verdict = classify(result)
    count_webhook_attempt(str(verdict.outcome), result.duration_ms)
    return result, verdict


@dataclass(frozen=True)
class DeliveryRequest:
    """One command to deliver: the execution it carries, the endpoint, the envelope and the action type."""

    execution: AutomationExecution
    endpoint: WebhookEndpoint
    payload: dict[str, Any]
    action_type: str = ""


@dataclass
class DeliveryClaims:
    """Deliveries inserted claimed for their first attempt (``deliveries_claim``), ready to POST.

    ``claims``: request index -> (delivery, in-flight attempt, claim token). ``requests`` not in it
    already had their delivery (a retried action) or lost an insert race: they take the one-by-one
    ``delivery_create_and_send``, which finds the existing row.
    """

    requests: list[DeliveryRequest]
    claims: dict[int, tuple[WebhookDelivery, DeliveryAttempt, str]]

    @property
    def claimed_at(self) -> dt.datetime:
        """The claims' ``claimed_at``: one moment for the batch (there must be a claim)."""
        moment = next(iter(self.claims.values()))[0].claimed_at
        if moment is None:  # never: a claimed row is inserted with its claimed_at
            raise ValueError("A claimed delivery without claimed_at.")
        return moment

    @property
    def unclaimed(self) -> list[int]:
        return [index for index in range(len(self.requests)) if index not in self.claims]


def deliveries_claim(requests: list[DeliveryRequest]) -> DeliveryClaims:
    """Insert the new deliveries of ``requests`` already claimed, with their in-flight attempt rows (two
    statements). Call in a transaction that commits before ``deliveries_post``: if this worker dies with
    claims open, the sweeper sends them again once their lease runs out, with the same ``webhook-id``.
    """
    from django.db import connection

    for request in requests:
        if request.endpoint.tenant_id != request.execution.tenant_id:
            raise ValidationError({"endpoint": "The endpoint belongs to another tenant."})
    if not requests or not connection.features.can_return_rows_from_bulk_insert:
        return DeliveryClaims(requests, {})
    fresh = [index for index, request in enumerate(requests) if not endpoint_is_unhealthy(request.endpoint)]
    # (an unhealthy endpoint's delivery is not POSTed now: delivery_create_and_send stores it deferred)
    return DeliveryClaims(requests, _insert_claimed(requests, fresh))


def deliveries_post(
    claimed: DeliveryClaims, on_late_outcome: Callable[[DeliveryOutcome], object] | None = None
) -> dict[int, tuple[HTTPResult, Classification]]:
    """POST every claimed delivery on this process's webhook threads and wait for them at most
    AUTOMATIONS["WEBHOOK_INLINE_WAIT"] (no transaction open); request index -> (result, verdict) of those
    answered by then (``post_in_lanes``).

    A POST still running after the wait records its attempt when it ends and calls ``on_late_outcome``
    (the pipeline's settlement). Its index is missing from the answer, and ``deliveries_record`` reports
    its delivery still open. Should this process die first, the claim's lease runs out and the sweeper
    sends it again with the same ``webhook-id``.
    """
    if not claimed.claims:
        return {}
    indexes = list(claimed.claims)
    items = [(*claimed.claims[index], claimed.requests[index].endpoint) for index in indexes]
    answered = post_in_lanes(items, claimed.claimed_at, float(app_settings.WEBHOOK_INLINE_WAIT), on_late_outcome)
    return {indexes[position]: answer for position, answer in answered.items()}


ClaimedDelivery = tuple[WebhookDelivery, DeliveryAttempt, str, WebhookEndpoint]  # delivery, attempt, token


def post_in_lanes(
    claims: list[ClaimedDelivery],
    now: dt.datetime,
    wait_seconds: float,
    on_late_outcome: Callable[[DeliveryOutcome], object] | None,
) -> dict[int, tuple[HTTPResult, Classification]]:
    """POST claimed deliveries through this process's per-endpoint lanes and wait up to ``wait_seconds``;
    position in ``claims`` -> (result, verdict) of those answered by then. Used by pipeline batches and
    the delivery sweep alike.

    At most AUTOMATIONS["WEBHOOK_ENDPOINT_CONCURRENCY"] POSTs go to one endpoint at once (``EndpointLanes``),
    so a receiver that hangs holds a few threads and never the caller. POSTs to an endpoint that still has
    POSTs running from an earlier call (a slow or hanging receiver: every call waits for its own) are not
    waited for at all, so the other endpoints' answers come back at once. A POST still running after the
    wait is left to its thread, which records its attempt when it ends (``_record_late``).
    """
    lanes = _lanes()
    slow = {endpoint.pk for *_, endpoint in claims if lanes.in_flight(endpoint.pk)}
    futures = [
        lanes.submit(endpoint.pk, partial(_post_claimed, delivery, endpoint, now))
        for delivery, _, _, endpoint in claims
    ]
    awaited = [future for future, (*_, endpoint) in zip(futures, claims, strict=True) if endpoint.pk not in slow]
    wait(awaited, timeout=max(0.0, wait_seconds))
    answered: dict[int, tuple[HTTPResult, Classification]] = {}
    for position, (future, (delivery, attempt, token, endpoint)) in enumerate(zip(futures, claims, strict=True)):
        if future.done():
            answered[position] = future.result()
        else:
            future.add_done_callback(partial(_record_late, delivery, attempt, token, endpoint, now, on_late_outcome))
    return answered


def _record_late(
    delivery: WebhookDelivery,
    attempt: DeliveryAttempt,
    token: str,
    endpoint: WebhookEndpoint,
    now: dt.datetime,
    on_outcome: Callable[[DeliveryOutcome], object] | None,
    future: Future[tuple[HTTPResult, Classification]],
) -> None:
    """Record a POST that answered after its caller stopped waiting, then hand on where its delivery stands
    (on the webhook thread; never raises: a failure leaves the claim to the sweeper, after its lease)."""
    try:
        result, verdict = future.result()
        with write_transaction():
            outcome = _finish(delivery, attempt, token, endpoint, result, verdict, now)
        if on_outcome is not None:
            on_outcome(outcome)
    except Exception:
        logger.exception(
            "delivery %s: could not record its late attempt; the sweeper will send it again",
            delivery.pk,
            extra={"tenant_id": delivery.tenant_id, "execution_id": delivery.execution_id, "delivery_id": delivery.pk},
        )
    finally:
        if threading.current_thread().name.startswith(POOL_THREAD_PREFIX):
            db_connection.close()  # the pool's threads outlive the batch: hold no connection between POSTs


def deliveries_record(
    claimed: DeliveryClaims, posted: dict[int, tuple[HTTPResult, Classification]]
) -> dict[int, DeliveryOutcome]:
    """Record the POSTed attempts (call in a transaction): successes with two updates for all, the rest
    one by one; request index -> outcome."""
    outcomes: dict[int, DeliveryOutcome] = {}
    if not claimed.claims:
        return outcomes
    now = claimed.claimed_at
    for index, (delivery, _attempt, _token) in claimed.claims.items():
        if index not in posted:  # still in flight: recorded by its thread when it answers
            outcomes[index] = _outcome(delivery, attempted=True)
    succeeded = [index for index in posted if posted[index][1].outcome == AttemptOutcome.SUCCEEDED]
    if succeeded:
        finished = _finish_succeeded(
            [claimed.claims[index][:2] for index in succeeded],
            [posted[index][0] for index in succeeded],
            [posted[index][1] for index in succeeded],
            [claimed.requests[index].endpoint for index in succeeded],
        )
        outcomes.update(zip(succeeded, finished, strict=True))
    for index, (delivery, attempt, token) in claimed.claims.items():
        if index not in outcomes and index in posted:
            result, verdict = posted[index]
            endpoint = claimed.requests[index].endpoint
            outcomes[index] = _finish(delivery, attempt, token, endpoint, result, verdict, now)
    return outcomes


def _insert_claimed(
    requests: list[DeliveryRequest], indexes: list[int]
) -> dict[int, tuple[WebhookDelivery, DeliveryAttempt, str]]:
    """Insert the deliveries of ``requests[indexes]`` claimed for their first attempt, with the attempt rows.

    Returns {index: (delivery, attempt, claim token)} of those inserted: a pair a stored delivery (a
    retried action, a concurrent insert) or an earlier request holds is left out, and its request takes
    ``delivery_create_and_send``, which finds the row. No savepoint: one INSERT ... ON CONFLICT DO NOTHING
    each for the deliveries and their attempts (``insert_new_instances``).
    """
    if not indexes:
        return {}
    now = timezone.now()
    lease_until = now + claim_lease()
    tokens = {index: uuid.uuid4().hex for index in indexes}
    deliveries = [
        WebhookDelivery(
            execution=requests[index].execution,
            endpoint=requests[index].endpoint,
            tenant_id=requests[index].execution.tenant_id,
            action_type=requests[index].action_type,
            webhook_id=webhook_id_for_execution(requests[index].execution.pk),
            payload=requests[index].payload,
            next_attempt_at=lease_until,
            claim_token=tokens[index],
            claimed_at=now,
            attempt_count=1,
            round_attempt_count=1,
            updated_at=now,
        )
        for index in indexes
    ]
    inserted = {id(delivery) for delivery in insert_new_instances(deliveries, ("execution", "endpoint"))}
    claimed = [(index, d) for index, d in zip(indexes, deliveries, strict=True) if id(d) in inserted]
    attempts = insert_new_instances(
        [
            DeliveryAttempt(delivery=delivery, attempt_number=1, attempted_at=now, url=requests[index].endpoint.url)
            for index, delivery in claimed
        ],
        ("delivery", "attempt_number"),
    )
    return {
        index: (delivery, attempt, tokens[index]) for (index, delivery), attempt in zip(claimed, attempts, strict=True)
    }


POOL_THREAD_PREFIX = "webhook"
_lanes_of_process: tuple[int, EndpointLanes] | None = None


def _lanes() -> EndpointLanes:
    """This process's lanes over its pool of AUTOMATIONS["WEBHOOK_BATCH_CONCURRENCY"] threads for webhook POSTs.

    Made on first use in each process (a forked worker process makes its own: threads do not survive
    a fork) and kept, so a batch does not start threads of its own.
    """
    global _lanes_of_process
    limit = int(app_settings.WEBHOOK_ENDPOINT_CONCURRENCY)
    if _lanes_of_process is None or _lanes_of_process[0] != os.getpid():
        workers = max(1, int(app_settings.WEBHOOK_BATCH_CONCURRENCY))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=POOL_THREAD_PREFIX)
        _lanes_of_process = (os.getpid(), EndpointLanes(pool, limit))
    lanes = _lanes_of_process[1]
    lanes.limit = max(1, limit)  # read at each batch, as every delivery setting is
    return lanes


def delivery_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON with sorted keys, the same on every attempt."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def client_options() -> ClientOptions:
    return ClientOptions(
        allow_private=app_settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
        allow_loopback=app_settings.WEBHOOK_ALLOW_LOOPBACK,
        require_https=app_settings.WEBHOOK_REQUIRE_HTTPS,
        connect_timeout=float(app_settings.WEBHOOK_CONNECT_TIMEOUT),
        read_timeout=float(app_settings.WEBHOOK_READ_TIMEOUT),
        total_timeout=float(app_settings.WEBHOOK_TOTAL_TIMEOUT),
        max_response_bytes=int(app_settings.WEBHOOK_MAX_RESPONSE_BYTES),
        ca_bundle=app_settings.WEBHOOK_CA_BUNDLE,
    )


def claim_lease() -> dt.timedelta:
    """How long a claim keeps a delivery; it must outlast the slowest request, or two could overlap."""
    problem = webhook_claim_lease_problem(app_settings)
    if problem:
        raise ImproperlyConfigured(problem)
    return dt.timedelta(seconds=float(app_settings.WEBHOOK_CLAIM_LEASE))


def _claim(
    delivery: WebhookDelivery, endpoint: WebhookEndpoint, now: dt.datetime
) -> tuple[WebhookDelivery, DeliveryAttempt, str] | None:
    """Take the delivery for one attempt, or None if someone else has it or it is no longer due."""
    token = uuid.uuid4().hex
    with transaction.atomic():
        # TRICKY: the filter is the lock. Of any number of workers running this at once, exactly one
        # updates the row; the others see next_attempt_at already in the future and update nothing.
        claimed = WebhookDelivery.objects.filter(pk=delivery.pk, status__in=OPEN, next_attempt_at__lte=now).update(
            next_attempt_at=now + claim_lease(),
            claim_token=token,
            claimed_at=now,
            attempt_count=F("attempt_count") + 1,
            round_attempt_count=F("round_attempt_count") + 1,
            updated_at=now,
        )
        if claimed != 1:
            return None
        delivery.refresh_from_db()
        if delivery.attempt_count > 1:
            # An attempt still in flight here was left by a worker that died or outlived its lease.
            # (Every attempt row is made under a claim that counts it: on the first claim there is none.)
            delivery.attempts.filter(outcome=AttemptOutcome.IN_FLIGHT).update(
                outcome=AttemptOutcome.UNKNOWN,
                error="The worker was lost before it recorded the response; sent again with the same webhook-id.",
                finished_at=now,
            )
        attempt = DeliveryAttempt.objects.create(
            delivery=delivery,
            attempt_number=delivery.attempt_count,
            attempted_at=timezone.now(),
            url=endpoint.url,
        )
    return delivery, attempt, token


def _finish(
    delivery: WebhookDelivery,
    attempt: DeliveryAttempt,
    token: str,
    endpoint: WebhookEndpoint,
    result: HTTPResult,
    verdict: Classification,
    now: dt.datetime,
) -> DeliveryOutcome:
    """Record the attempt and move the delivery on, unless another worker has claimed it meanwhile."""
    finished = timezone.now()
    attempt_fields = _attempt_fields(result, verdict, finished)
    attempts = DeliveryAttempt.objects.filter(pk=attempt.pk)
    if verdict.outcome == AttemptOutcome.SUCCEEDED:
        return _finish_succeeded([(delivery, attempt)], [result], [verdict], [endpoint])[0]

    attempts.update(outcome=verdict.outcome, **attempt_fields)
    update: dict[str, Any] = {
        "claim_token": "",
        "last_status_code": result.status_code,
        "last_error": verdict.error,
        "updated_at": finished,
    }
    delay = None
    if verdict.outcome == AttemptOutcome.RETRYABLE:
        # An unhealthy endpoint's retries wait longer (executions.delivery.services.health).
        delay = retry_delay_for(
            endpoint, delivery_retry_delay(delivery.round_attempt_count, retry_after=verdict.retry_after)
        )
    if delay is not None:
        update.update(status=DeliveryStatus.RETRYING, next_attempt_at=now + delay)
    else:
        if verdict.outcome == AttemptOutcome.RETRYABLE:
            update["last_error"] = f"{verdict.error} (gave up after {delivery.round_attempt_count} attempts)"
        update.update(status=DeliveryStatus.FAILED, next_attempt_at=None, completed_at=finished)
    moved = WebhookDelivery.objects.filter(pk=delivery.pk, claim_token=token, status__in=OPEN).update(**update)
    if not moved:
        logger.warning(
            "delivery %s: claim lost before attempt %s finished",
            delivery.pk,
            attempt.attempt_number,
            extra={"tenant_id": delivery.tenant_id, "execution_id": delivery.execution_id, "delivery_id": delivery.pk},
        )
    health_record_on_commit(endpoint, False, finished)
    if verdict.disable_endpoint:
        endpoint_disable(endpoint, f"The receiver answered 410 Gone on {finished:%Y-%m-%d %H:%M} UTC.", now=finished)
    return _outcome(WebhookDelivery.objects.get(pk=delivery.pk), attempted=True)


def _attempt_fields(result: HTTPResult, verdict: Classification, finished: dt.datetime) -> dict[str, Any]:
    """What an attempt row records of its response."""
    excerpt_chars = int(app_settings.WEBHOOK_RESPONSE_EXCERPT_CHARS)
    return {
        "status_code": result.status_code,
        "duration_ms": result.duration_ms,
        "connected_address": result.connected_address,
        "response_excerpt": result.body.decode("utf-8", errors="replace")[:excerpt_chars],
        "error": verdict.error,
        "finished_at": finished,
    }


def _finish_succeeded(
    claims: list[tuple[WebhookDelivery, DeliveryAttempt]],
    results: list[HTTPResult],
    verdicts: list[Classification],
    endpoints: list[WebhookEndpoint] | None = None,
) -> list[DeliveryOutcome]:
    """Record attempts that succeeded (one or a batch's): two updates for all (attempts, then deliveries).

    A success ends the delivery whoever holds the claim: the receiver has it. When one of the deliveries
    already has its recorded success (the one-success constraint refuses the update), each is recorded
    on its own and that attempt as a duplicate: the receiver got it twice (same webhook-id, so it can
    tell), and we say so instead of counting it again.
    """
    from executions.rows import update_rows  # executions.services imports this package

    finished = timezone.now()
    attempt_rows = [
        {"id": attempt.pk, "outcome": AttemptOutcome.SUCCEEDED, **_attempt_fields(result, verdict, finished)}
        for (_delivery, attempt), result, verdict in zip(claims, results, verdicts, strict=True)
    ]
    delivery_rows = [
        {
            "id": delivery.pk,
            "status": DeliveryStatus.SUCCEEDED,
            "next_attempt_at": None,
            "claim_token": "",
            "last_status_code": result.status_code,
            "last_error": "",
            "completed_at": finished,
            "updated_at": finished,
        }
        for (delivery, _attempt), result in zip(claims, results, strict=True)
    ]
    not_succeeded = {"status": sorted(set(DeliveryStatus.values) - {DeliveryStatus.SUCCEEDED})}
    try:
        with transaction.atomic():
            update_rows(DeliveryAttempt, attempt_rows)
            moved = update_rows(WebhookDelivery, delivery_rows, where=not_succeeded)
    except IntegrityError:
        moved = set()
        for attempt_row, delivery_row in zip(attempt_rows, delivery_rows, strict=True):
            with transaction.atomic():
                try:
                    with transaction.atomic():
                        update_rows(DeliveryAttempt, [attempt_row])
                except IntegrityError:
                    update_rows(DeliveryAttempt, [{**attempt_row, "outcome": AttemptOutcome.DUPLICATE}])
                moved |= update_rows(WebhookDelivery, [delivery_row], where=not_succeeded)
    for endpoint in {endpoint.pk: endpoint for endpoint in endpoints or []}.values():
        health_record_on_commit(endpoint, True, finished)  # the receiver answered 2xx: healthy
    outcomes = []
    for (delivery, _attempt), result in zip(claims, results, strict=True):
        if delivery.pk not in moved:  # an earlier success stands: report the row as that one left it
            outcomes.append(_outcome(WebhookDelivery.objects.get(pk=delivery.pk), attempted=True))
            continue
        outcomes.append(
            DeliveryOutcome(
                delivery_id=delivery.pk,
                execution_id=delivery.execution_id,
                status=DeliveryStatus.SUCCEEDED,
                attempted=True,
                status_code=result.status_code,
            )
        )
    return outcomes


def _fail_without_attempt(delivery: WebhookDelivery, reason: str, now: dt.datetime) -> DeliveryOutcome:
    WebhookDelivery.objects.filter(pk=delivery.pk, status__in=OPEN, next_attempt_at__lte=now).update(
        status=DeliveryStatus.FAILED,
        next_attempt_at=None,
        last_error=reason,
        completed_at=now,
        updated_at=now,
    )
    return _outcome(WebhookDelivery.objects.get(pk=delivery.pk), attempted=False)


def _disabled_message(endpoint: WebhookEndpoint) -> str:
    reason = f": {endpoint.disabled_reason}" if endpoint.disabled_reason else ""
    return f"The endpoint is disabled{reason}"


def _outcome(delivery: WebhookDelivery, *, attempted: bool) -> DeliveryOutcome:
    return DeliveryOutcome(
        delivery_id=delivery.pk,
        execution_id=delivery.execution_id,
        status=delivery.status,
        attempted=attempted,
        next_attempt_at=delivery.next_attempt_at,
        status_code=delivery.last_status_code,
        error=delivery.last_error,
    )


# --- Sweeping and redelivery --------------------------------------------------------------------


def send_due_deliveries(
    now: dt.datetime | None = None,
    *,
    limit: int = 100,
    on_outcome: Callable[[DeliveryOutcome], None] | None = None,
    wait_seconds: float | None = None,
) -> SweepCounts:
    """Send every delivery due at ``now`` (up to ``limit``); return counts.

    Due deliveries include retries whose time has come and claims whose lease ran out (a worker died
    mid-request). Each is claimed here (a guarded UPDATE), then all are POSTed at once through this
    process's per-endpoint lanes, as a pipeline batch's are: at most WEBHOOK_ENDPOINT_CONCURRENCY to one
    endpoint, so a receiver that hangs holds its own lane and the other endpoints' retries go out beside
    it. The sweep waits ``wait_seconds`` for the answers (default: the slowest request, total plus connect
    timeout) and records them here; a POST still running then records itself when it ends (``in_flight``).
    ``on_outcome`` is called after each recorded attempt, e.g. to move the execution's status.
    """
    now = now or timezone.now()
    counts = SweepCounts()
    due = WebhookDelivery.objects.select_related("endpoint").filter(pk__in=deliveries_due(now, limit=limit))
    claims: list[ClaimedDelivery] = []
    probed: set[int] = set()  # unhealthy endpoints given their one probe in this sweep
    for delivery in due.order_by("next_attempt_at", "id"):
        counts.due += 1
        endpoint = delivery.endpoint
        if endpoint is not None and endpoint.enabled and endpoint_is_unhealthy(endpoint):
            if endpoint.pk in probed:
                counts.deferred += _defer(delivery, now)
                continue
            probed.add(endpoint.pk)
        try:
            claim = _claim_due(delivery, now)
        except Exception:  # a sweep survives one bad row; the id is in the log
            logger.exception("delivery %s: could not be claimed in the sweep", delivery.pk)
            counts.errors += 1
            continue
        if isinstance(claim, DeliveryOutcome):  # not sent: not due, taken by another, or ended unsent
            counts.skipped += 1
        else:
            claims.append(claim)
    if not claims:
        return counts
    if wait_seconds is None:
        wait_seconds = float(app_settings.WEBHOOK_TOTAL_TIMEOUT) + float(app_settings.WEBHOOK_CONNECT_TIMEOUT)
    answered = post_in_lanes(claims, now, wait_seconds, on_outcome)
    for position, (delivery, attempt, token, endpoint) in enumerate(claims):
        counts.attempted += 1
        if position not in answered:
            counts.in_flight += 1
            continue
        try:
            result, verdict = answered[position]
            outcome = _finish(delivery, attempt, token, endpoint, result, verdict, now)
            if on_outcome is not None:
                on_outcome(outcome)
        except Exception:  # a sweep survives one bad row; its claim's lease brings it back
            logger.exception("delivery %s: send failed in the sweep", delivery.pk)
            counts.errors += 1
            continue
        if outcome.succeeded:
            counts.succeeded += 1
        elif outcome.failed:
            counts.failed += 1
        else:
            counts.retrying += 1
    return counts


def _defer(delivery: WebhookDelivery, now: dt.datetime) -> int:
    """Push a due delivery of an unhealthy endpoint back by ``unhealthy_wait()`` (guarded: still open and due),
    so it neither hammers the endpoint nor fills the next sweeps ahead of other endpoints' deliveries."""
    return WebhookDelivery.objects.filter(pk=delivery.pk, status__in=OPEN, next_attempt_at__lte=now).update(
        next_attempt_at=now + unhealthy_wait(), updated_at=now
    )


def _claim_due(delivery: WebhookDelivery, now: dt.datetime) -> ClaimedDelivery | DeliveryOutcome:
    """Claim a due delivery for one attempt: the claim, or where it stands when nothing is to be sent
    (not due, someone else has it, or it ended without an attempt because its endpoint is gone or off)."""
    if not delivery.is_open or delivery.next_attempt_at is None or delivery.next_attempt_at > now:
        return _outcome(delivery, attempted=False)
    endpoint = delivery.endpoint
    if endpoint is None or not endpoint.enabled:
        reason = "The endpoint was deleted." if endpoint is None else _disabled_message(endpoint)
        return _fail_without_attempt(delivery, reason, now)
    claimed = _claim(delivery, endpoint, now)
    if claimed is None:
        return _outcome(WebhookDelivery.objects.get(pk=delivery.pk), attempted=False)
    return (*claimed, endpoint)


def delivery_redeliver(
    delivery: WebhookDelivery, *, now: dt.datetime | None = None, user: User | None = None
) -> WebhookDelivery:
    """Make a failed delivery due again with a fresh retry schedule and the same ``webhook-id``.

    New attempts are numbered on from the old ones. The delivery is sent by the sweeper, or at once
    (after commit) through AUTOMATIONS["WEBHOOK_ENQUEUE_DELIVERY"] when that names a callable.
    PermissionDenied unless ``user`` may manage the tenant's webhooks.
    """
    policy.check(user, delivery.tenant_id, Capability.MANAGE_WEBHOOKS)
    now = now or timezone.now()
    # Fresh: enabled may have changed.
    endpoint = (
        WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).first() if delivery.endpoint_id is not None else None
    )
    if endpoint is None:
        raise ValidationError({"endpoint": "The endpoint was deleted; this delivery cannot be sent again."})
    if not endpoint.enabled:
        raise ValidationError({"endpoint": f"{_disabled_message(endpoint)}. Enable it before redelivering."})
    moved = WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).update(
        status=DeliveryStatus.PENDING,
        next_attempt_at=now,
        round_attempt_count=0,
        claim_token="",
        last_error="",
        completed_at=None,
        updated_at=now,
    )
    delivery.refresh_from_db()
    if not moved:
        raise ValidationError({"status": f"Only a failed delivery can be redelivered; this one is {delivery.status}."})
    _enqueue_on_commit(delivery.pk)
    return delivery


def _enqueue_on_commit(delivery_id: int) -> None:
    path = app_settings.WEBHOOK_ENQUEUE_DELIVERY
    if not path:
        return
    enqueue = import_string(path) if isinstance(path, str) else path
    transaction.on_commit(lambda: enqueue(delivery_id))
