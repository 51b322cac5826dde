"""The behaviour tracker: match customers to behaviour rules with set-based SQL, once per occurrence.

Customer activity arrives as ``Event`` rows with a ``customer_id`` (see docs/listeners.md):
``cart_updated``, ``checkout_started``, ``order_placed`` (payload ``amount``), ``product_viewed``
(payload ``product_id``), ``customer_active``. Every ten minutes ``check_behaviors`` runs, for each
enabled behaviour rule, one query that returns the matching customers (annotations, ``Exists``
subqueries and aggregates over the event indexes; never a Python loop over customers), then fires one
execution per new (rule, customer, occurrence).

With T = ``timeframe_hours`` and "now" the tick's time:

- ``abandoned_cart``: the customer's last cart activity (cart_updated / checkout_started) is at least
  T old and no order_placed came at or after it. Occurrence: that cart event, so the same abandoned
  cart fires once and new cart activity later is a new cart.
- ``product_viewed_not_bought``: the customer's last product_viewed is at least T old and no order
  came at or after it. Occurrence: that view.
- ``repeat_purchase``: an order_placed that came within T after the customer's previous order.
  Occurrence: the repeat order.
- ``high_value_customer``: orders in the last T hours add up to at least ``min_total``. Fires at most
  once per customer per T hours. Occurrence: the customer's latest order in the window.
- ``dormant_customer``: the customer's last event of any kind is at least T old. Occurrence: that
  last event, so a customer who comes back and goes quiet again fires again.

Only behaviours that became true in the last ``AUTOMATIONS["BEHAVIOR_CATCHUP_HOURS"]`` (default 24) are
considered: a new rule does not fire for every cart abandoned years ago, and a tick that was down for
less than that catches up. ``BehaviorMatch`` (unique per rule, customer and occurrence) is the fence
against a second tick or worker; trigger_rule's occurrence key ``behavior:<customer>:<occurrence>``
is the second.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, FloatField, Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from automations.choices import BehaviorType, TriggerType
from automations.conf import app_settings
from automations.models import AutomationRule
from automations.schedule_times import format_utc
from executions.choices import CART_EVENT_TYPES, CustomerEventType, TriggerSource
from executions.models import BehaviorMatch, Event

if TYPE_CHECKING:
    from executions.pipeline import TriggerRequest

logger = logging.getLogger(__name__)

DEFAULT_CATCHUP = dt.timedelta(hours=24)
DEFAULT_MAX_FIRES_PER_TICK = 500
FIRE_BATCH = 200
# A JSON amount we can add up: a plain decimal number (as text on PostgreSQL, as a number on SQLite).
AMOUNT_RE = r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"
CART_EVIDENCE_KEYS = ("cart_id", "amount", "total", "currency", "items", "item_count")


@dataclass(frozen=True)
class BehaviorWindow:
    now: dt.datetime
    timeframe: dt.timedelta
    catchup: dt.timedelta
    limit: int | None = None  # at most this many matches, oldest first (the rest come next tick)

    @property
    def settled(self) -> dt.datetime:
        """Activity at or before this instant is at least one timeframe old."""
        return self.now - self.timeframe

    @property
    def settled_since(self) -> dt.datetime:
        """The oldest activity still considered for a "quiet for T" behaviour."""
        return self.now - self.timeframe - self.catchup


@dataclass(frozen=True)
class BehaviorCandidate:
    customer_id: str
    occurrence: str  # "cart:123"
    event_id: int | None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class BehaviorTickResult:
    rules: int = 0
    matched: int = 0
    fired: int = 0
    skipped: int = 0  # matched by another tick first
    errors: int = 0


Detector = Callable[[AutomationRule, BehaviorWindow], list[BehaviorCandidate]]
BEHAVIOR_DETECTORS: dict[str, Detector] = {}


def register(key: str) -> Callable[[Detector], Detector]:
    def decorate(function: Detector) -> Detector:
        BEHAVIOR_DETECTORS[key] = function
        return function

    return decorate


def get_behavior_detector(key: str) -> Detector:
    try:
        return BEHAVIOR_DETECTORS[key]
    except KeyError:
        raise KeyError(f'no behaviour detector "{key}"; known: {", ".join(sorted(BEHAVIOR_DETECTORS))}') from None


def behavior_catchup() -> dt.timedelta:
    hours = app_settings.BEHAVIOR_CATCHUP_HOURS
    return DEFAULT_CATCHUP if hours is None else dt.timedelta(hours=hours)


def behavior_max_fires() -> int:
    """Matches fired per rule and tick (``AUTOMATIONS["BEHAVIOR_MAX_FIRES_PER_TICK"]``); a backlog spreads out."""
    return int(app_settings.BEHAVIOR_MAX_FIRES_PER_TICK or DEFAULT_MAX_FIRES_PER_TICK)


def _limited(rows: QuerySet[Any], window: BehaviorWindow) -> QuerySet[Any]:
    return rows[: window.limit] if window.limit is not None else rows


# --- query pieces ------------------------------------------------------------------------------


def _customer_events(rule: AutomationRule, now: dt.datetime) -> QuerySet[Event]:
    """The tenant's customer events up to ``now`` (``customer_id`` set, for the partial index)."""
    return Event.objects.filter(tenant_id=rule.tenant_id, occurred_at__lte=now).exclude(customer_id="")


def _same_customer(now: dt.datetime) -> QuerySet[Event]:
    """Events of the outer row's customer, up to ``now``."""
    return Event.objects.filter(
        tenant_id=OuterRef("tenant_id"), customer_id=OuterRef("customer_id"), occurred_at__lte=now
    ).exclude(customer_id="")


def _after_outer() -> Q:
    """Strictly after the outer event (ties broken by id, so exactly one event is the last)."""
    return Q(occurred_at__gt=OuterRef("occurred_at")) | Q(occurred_at=OuterRef("occurred_at"), id__gt=OuterRef("id"))


def _not_matched(rule: AutomationRule) -> Exists:
    return Exists(BehaviorMatch.objects.filter(rule_id=rule.pk, event_id=OuterRef("id")))


def _last_then_quiet(rule: AutomationRule, window: BehaviorWindow, types: tuple[str, ...] | None) -> QuerySet[Event]:
    """Each customer's last event (of ``types``) that is at least T old and not matched yet."""
    events = _customer_events(rule, window.now).filter(
        occurred_at__gt=window.settled_since, occurred_at__lte=window.settled
    )
    later = _same_customer(window.now).filter(_after_outer())
    if types is not None:
        events = events.filter(event_type__in=types)
        later = later.filter(event_type__in=types)
    return events.filter(~Exists(later)).filter(~_not_matched(rule))


def _order_since(now: dt.datetime) -> Exists:
    """The outer row's customer placed an order at or after the outer event (up to ``now``)."""
    return Exists(
        _same_customer(now).filter(event_type=CustomerEventType.ORDER_PLACED, occurred_at__gte=OuterRef("occurred_at"))
    )


def _payload_pick(payload: object, keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: payload[key] for key in keys if key in payload} if isinstance(payload, dict) else {}


# --- detectors ---------------------------------------------------------------------------------


@register(BehaviorType.ABANDONED_CART)
def detect_abandoned_cart(rule: AutomationRule, window: BehaviorWindow) -> list[BehaviorCandidate]:
    rows = (
        _last_then_quiet(rule, window, CART_EVENT_TYPES)
        .filter(~_order_since(window.now))
        .order_by("occurred_at", "id")
        .values("id", "customer_id", "event_type", "occurred_at", "payload")
    )
    return [
        BehaviorCandidate(
            customer_id=row["customer_id"],
            occurrence=f"cart:{row['id']}",
            event_id=row["id"],
            evidence={
                "cart_event_id": row["id"],
                "cart_event_type": row["event_type"],
                "cart_activity_at": format_utc(row["occurred_at"]),
                "cart": _payload_pick(row["payload"], CART_EVIDENCE_KEYS),
            },
        )
        for row in _limited(rows, window)
    ]


@register(BehaviorType.PRODUCT_VIEWED_NOT_BOUGHT)
def detect_product_viewed_not_bought(rule: AutomationRule, window: BehaviorWindow) -> list[BehaviorCandidate]:
    rows = (
        _last_then_quiet(rule, window, (CustomerEventType.PRODUCT_VIEWED,))
        .filter(~_order_since(window.now))
        .annotate(product_id=KT("payload__product_id"))
        .order_by("occurred_at", "id")
        .values("id", "customer_id", "occurred_at", "product_id")
    )
    return [
        BehaviorCandidate(
            customer_id=row["customer_id"],
            occurrence=f"viewed:{row['id']}",
            event_id=row["id"],
            evidence={
                "view_event_id": row["id"],
                "product_id": row["product_id"],
                "viewed_at": format_utc(row["occurred_at"]),
            },
        )
        for row in _limited(rows, window)
    ]


@register(BehaviorType.DORMANT_CUSTOMER)
def detect_dormant_customer(rule: AutomationRule, window: BehaviorWindow) -> list[BehaviorCandidate]:
    rows = (
        _last_then_quiet(rule, window, None)
        .order_by("occurred_at", "id")
        .values("id", "customer_id", "event_type", "occurred_at")
    )
    return [
        BehaviorCandidate(
            customer_id=row["customer_id"],
            occurrence=f"dormant:{row['id']}",
            event_id=row["id"],
            evidence={
                "last_event_id": row["id"],
                "last_event_type": row["event_type"],
                "last_active_at": format_utc(row["occurred_at"]),
                "silent_hours": round((window.now - row["occurred_at"]).total_seconds() / 3600, 2),
            },
        )
        for row in _limited(rows, window)
    ]


@register(BehaviorType.REPEAT_PURCHASE)
def detect_repeat_purchase(rule: AutomationRule, window: BehaviorWindow) -> list[BehaviorCandidate]:
    earlier = Q(occurred_at__lt=OuterRef("occurred_at")) | Q(occurred_at=OuterRef("occurred_at"), id__lt=OuterRef("id"))
    previous = (
        _same_customer(window.now)
        .filter(event_type=CustomerEventType.ORDER_PLACED)
        .filter(earlier, occurred_at__gte=OuterRef("occurred_at") - window.timeframe)
        .order_by("-occurred_at", "-id")
    )
    rows = (
        _customer_events(rule, window.now)
        .filter(event_type=CustomerEventType.ORDER_PLACED, occurred_at__gt=window.now - window.catchup)
        .filter(Exists(previous), ~_not_matched(rule))
        .annotate(
            previous_id=Subquery(previous.values("id")[:1]),
            previous_at=Subquery(previous.values("occurred_at")[:1]),
            amount=KT("payload__amount"),
        )
        .order_by("occurred_at", "id")
        .values("id", "customer_id", "occurred_at", "amount", "previous_id", "previous_at")
    )
    return [
        BehaviorCandidate(
            customer_id=row["customer_id"],
            occurrence=f"repeat:{row['id']}",
            event_id=row["id"],
            evidence={
                "order_event_id": row["id"],
                "ordered_at": format_utc(row["occurred_at"]),
                "amount": row["amount"],
                "previous_order_event_id": row["previous_id"],
                "previous_ordered_at": format_utc(row["previous_at"]),
            },
        )
        for row in _limited(rows, window)
    ]


@register(BehaviorType.HIGH_VALUE_CUSTOMER)
def detect_high_value_customer(rule: AutomationRule, window: BehaviorWindow) -> list[BehaviorCandidate]:
    min_total = float(rule.trigger_config.get("min_total") or 0)
    since = window.now - window.timeframe
    recently_matched = BehaviorMatch.objects.filter(rule_id=rule.pk, matched_at__gt=since).values("customer_id")
    rows = (
        _customer_events(rule, window.now)
        .filter(event_type=CustomerEventType.ORDER_PLACED, occurred_at__gt=since)
        .annotate(amount_text=KT("payload__amount"))
        .filter(amount_text__regex=AMOUNT_RE)
        .values("customer_id")
        .annotate(
            total=Sum(Cast("amount_text", FloatField())),
            orders=Count("id"),
            last_order_id=Max("id"),
            last_ordered_at=Max("occurred_at"),
        )
        .filter(total__gte=min_total)
        .exclude(customer_id__in=recently_matched)
        .order_by("customer_id")
    )
    return [
        BehaviorCandidate(
            customer_id=row["customer_id"],
            occurrence=f"high_value:{row['last_order_id']}",
            event_id=row["last_order_id"],
            evidence={
                "total": round(row["total"], 2),
                "min_total": min_total,
                "orders": row["orders"],
                "last_order_event_id": row["last_order_id"],
                "last_ordered_at": format_utc(row["last_ordered_at"]),
                "window_start": format_utc(since),
            },
        )
        for row in _limited(rows, window)
    ]


@dataclass(frozen=True)
class CandidateEvents:
    """The events whose presence lets a detector find something new at a tick: customer events of ``types``
    (None: any type) that occurred in the window's settled stretch (``_last_then_quiet``) and/or its
    catch-up. A tick with none finds nothing new, so a replay may skip it (``executions.backtest``)."""

    types: tuple[str, ...] | None
    settled: bool
    recent: bool

    def spans(self, window: BehaviorWindow) -> list[tuple[dt.datetime, dt.datetime]]:
        """``(after, until)`` stretches: such events occurred after the first instant, at or before the second."""
        spans = [(window.settled_since, window.settled)] if self.settled else []
        return [*spans, (window.now - window.catchup, window.now)] if self.recent else spans


# high_value_customer: a customer's total in the last T grows only with an order coming into the window, and
# its occurrence (the latest order) changes only with one coming in or leaving; but a customer held back by
# the once-per-T rule matches again later without either, and the first tick finds every total already over
# the bar (a replay runs those ticks too).
CANDIDATE_EVENTS: dict[str, CandidateEvents] = {
    BehaviorType.ABANDONED_CART: CandidateEvents(CART_EVENT_TYPES, settled=True, recent=False),
    BehaviorType.PRODUCT_VIEWED_NOT_BOUGHT: CandidateEvents(
        (CustomerEventType.PRODUCT_VIEWED,), settled=True, recent=False
    ),
    BehaviorType.DORMANT_CUSTOMER: CandidateEvents(None, settled=True, recent=False),
    BehaviorType.REPEAT_PURCHASE: CandidateEvents((CustomerEventType.ORDER_PLACED,), settled=False, recent=True),
    BehaviorType.HIGH_VALUE_CUSTOMER: CandidateEvents((CustomerEventType.ORDER_PLACED,), settled=True, recent=True),
}


# --- the tick ----------------------------------------------------------------------------------


def behavior_rules() -> QuerySet[AutomationRule]:
    return AutomationRule.objects.filter(trigger_type=TriggerType.BEHAVIOR, enabled=True)


def check_behaviors(now: dt.datetime | None = None) -> BehaviorTickResult:
    """One pass over every enabled behaviour rule; returns counts. Safe to run twice or in parallel."""
    now = now or timezone.now()
    result = BehaviorTickResult()
    catchup, limit = behavior_catchup(), behavior_max_fires()
    for rule in behavior_rules().order_by("id"):
        result.rules += 1
        try:
            check_behavior_rule(rule, now, catchup, result, limit)
        except Exception:
            logger.exception("behaviour check failed for rule %s", rule.pk, extra=rule.log_fields)
            result.errors += 1
    return result


def check_behavior_rule(
    rule: AutomationRule,
    now: dt.datetime,
    catchup: dt.timedelta,
    result: BehaviorTickResult,
    limit: int | None = None,
) -> None:
    """Detect one rule's matches (at most ``limit``) and fire the new ones."""
    config = rule.trigger_config if isinstance(rule.trigger_config, dict) else {}
    detector = get_behavior_detector(str(config.get("behavior_type")))
    timeframe = dt.timedelta(hours=float(config["timeframe_hours"]))
    window = BehaviorWindow(now=now, timeframe=timeframe, catchup=catchup, limit=limit)
    candidates = detector(rule, window)
    result.matched += len(candidates)
    for start in range(0, len(candidates), FIRE_BATCH):
        chunk = candidates[start : start + FIRE_BATCH]
        if _fire_together(rule, chunk, now):
            result.fired += len(chunk)
            continue
        with transaction.atomic():
            for candidate in chunk:
                try:
                    fired = _fire(rule, candidate, now)
                except Exception:
                    # Its savepoint rolled back, match row included: the next tick tries it again.
                    logger.exception("rule %s: firing %s failed", rule.pk, candidate.occurrence, extra=rule.log_fields)
                    result.errors += 1
                    continue
                if fired:
                    result.fired += 1
                else:
                    result.skipped += 1


def behavior_trigger_data(rule: AutomationRule, candidate: BehaviorCandidate) -> dict[str, Any]:
    """What a match adds to the context: the behaviour, the customer and the evidence."""
    return {
        "behavior_type": rule.trigger_config.get("behavior_type"),
        "timeframe_hours": rule.trigger_config.get("timeframe_hours"),
        "customer_id": candidate.customer_id,
        "occurrence": candidate.occurrence,
        "evidence": candidate.evidence,
    }


def _trigger_request(rule: AutomationRule, candidate: BehaviorCandidate) -> TriggerRequest:
    """The pipeline's trigger for one match: the customer and the evidence (which cart, when, how much)."""
    from executions.pipeline import TriggerRequest

    trigger_data = behavior_trigger_data(rule, candidate)
    occurrence_key = f"behavior:{candidate.customer_id}:{candidate.occurrence}"
    return TriggerRequest(rule, TriggerSource.BEHAVIOR, trigger_data, occurrence_key=occurrence_key)


def _fire_together(rule: AutomationRule, candidates: list[BehaviorCandidate], now: dt.datetime) -> bool:
    """Hand a batch of matches to the pipeline and record them, in one savepoint (two inserts).

    False, with nothing written, when any of it failed (another tick recorded one of these matches
    first, say): the caller then fires each match on its own.
    """
    from executions.pipeline import trigger_rules

    requests = [_trigger_request(rule, candidate) for candidate in candidates]
    try:
        with transaction.atomic():
            created = {execution.occurrence_key: execution for execution in trigger_rules(requests)}
            BehaviorMatch.objects.bulk_create(
                [
                    BehaviorMatch(
                        rule=rule,
                        customer_id=candidate.customer_id,
                        occurrence=candidate.occurrence,
                        event_id=candidate.event_id,
                        matched_at=now,
                        execution=created.get(request.occurrence_key),
                    )
                    for candidate, request in zip(candidates, requests, strict=True)
                ]
            )
    except Exception:  # IntegrityError from a concurrent tick, or one bad match: retried one by one
        logger.info(
            "rule %s: %s matches fired one by one", rule.pk, len(candidates), exc_info=True, extra=rule.log_fields
        )
        return False
    return True


def _fire(rule: AutomationRule, candidate: BehaviorCandidate, now: dt.datetime) -> bool:
    """Hand a match to the pipeline and record it, in one savepoint; False if it was already matched.

    The unique match row is the claim: if another tick recorded it first, the insert fails and the
    savepoint takes the execution back with it (the occurrence key would also have refused it).
    """
    from executions.pipeline import trigger_rule

    request = _trigger_request(rule, candidate)
    try:
        with transaction.atomic():
            execution = trigger_rule(
                rule, request.trigger_source, request.trigger_data, occurrence_key=request.occurrence_key
            )
            BehaviorMatch(
                rule=rule,
                customer_id=candidate.customer_id,
                occurrence=candidate.occurrence,
                event_id=candidate.event_id,
                matched_at=now,
                execution=execution,
            ).save(force_insert=True)
    except IntegrityError:
        return False
    return True
