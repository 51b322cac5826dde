"""The demo store simulator: a gentle, seeded stream of what a small shop generates.

Each step does one thing a shop does (a product added or sold out, a customer viewing, filling a cart,
checking out or ordering, the store's health changing) and, every few steps, pushes ``product_count``,
``store_traffic`` and ``conversion_rate`` samples that drift across the demo rules' thresholds. All of
it goes through the ingestion services the API calls (``executions.demo.store``).

- **Deterministic**: everything random comes from ``random.Random(seed)``; the same seed on the same
  store state makes the same steps (times come from the caller's clock).
- **Bounded rate**: a step makes at most ``MAX_ITEMS_PER_STEP`` events and samples (the opening, the
  largest, makes six; a regular step at most five), and ``run_simulator`` waits
  ``interval`` seconds (at least ``MIN_INTERVAL_SECONDS``) between steps.
- **Stops** as soon as its stop event is set (``manage.py demo_store`` sets it on SIGTERM or Ctrl-C, so
  it stops with ``serve``).

The opening step sets the scene so that every trigger type fires within the first minutes: a cart
left yesterday and a big order (the behaviour rules), the store's status and metrics, and a quick run of
sales that takes the product count under 3 (the threshold rules). A behaviour check is asked for once
after it, rather than waiting for the ten-minute tick.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils import timezone

from executions import task_names
from executions.demo.models import DemoStore
from executions.demo.store import (
    EVENT_SOURCE,
    demo_events_emit,
    demo_product_count_record,
    demo_product_remove,
    demo_products,
    demo_products_add,
    demo_samples_record,
    next_product_key,
)
from executions.dispatch import publish_soon

logger = logging.getLogger(__name__)

MIN_INTERVAL_SECONDS = 1.0
DEFAULT_INTERVAL_SECONDS = 4.0
MAX_ITEMS_PER_STEP = 8
METRICS_EVERY_STEPS = 3
CUSTOMERS = 12
PRODUCT_NAMES = (
    "Wool scarf",
    "Enamel pin",
    "Notebook",
    "Candle",
    "Tea towel",
    "Poster",
    "Plant pot",
    "Phone case",
    "Water bottle",
    "Sun hat",
)
# The opening's run of sales: after one new product, three sell out, so 4 products become 1 (< 3).
OPENING_SALES = 3
# Weights of what a regular step does.
ACTIVITIES = (
    ("product_added", 2),
    ("product_removed", 3),
    ("product_viewed", 4),
    ("cart_updated", 3),
    ("checkout_started", 1),
    ("order_placed", 2),
    ("store_health_changed", 1),
)


@dataclass
class DemoStoreSimulator:
    """One store's stream. ``step(now)`` does one step and returns what it did, one line per item."""

    store: DemoStore
    seed: int
    steps: int = 0
    traffic: float = 120.0  # visits in the last hour
    conversion: float = 2.6  # percent
    status: str = "active"
    status_steps_left: int = 0
    random: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def step(self, now: dt.datetime | None = None) -> list[str]:
        """One step: the opening first, then a scripted run of sales, then weighted random activity."""
        moment = now or timezone.now()
        self.steps += 1
        if self.steps == 1:
            done = self._opening(moment)
        elif self.steps == 2:
            done = self._add_product()
        elif self.steps <= 2 + OPENING_SALES:
            done = self._remove_product()
        else:
            done = self._activity(moment)
        if self.steps % METRICS_EVERY_STEPS == 0:
            done += self._metrics()
        return done

    # --- what a step does ------------------------------------------------------------------------

    def _opening(self, now: dt.datetime) -> list[str]:
        """Yesterday's shoppers (an abandoned cart, a big order) and the store's status and metrics."""
        yesterday = now - dt.timedelta(hours=25)
        events = [
            self._customer_event("cart_updated", "cust_left_cart", yesterday, {"cart_id": "cart_y1", "amount": 64.0}),
            self._customer_event(
                "order_placed", "cust_vip", now - dt.timedelta(hours=2), {"order_id": "ord_vip1", "amount": 540.0}
            ),
        ]
        demo_events_emit(self.store, events)
        demo_samples_record(
            self.store,
            {"store_status": self.status, "store_traffic": round(self.traffic), "conversion_rate": self.conversion},
        )
        count = demo_product_count_record(self.store)
        # The behaviour tick runs every ten minutes; ask for one now, so yesterday's shoppers show at once.
        publish_soon(task_names.CHECK_BEHAVIORS)
        return [
            "cart_updated cust_left_cart (25 h ago)",
            "order_placed cust_vip 540.00 (2 h ago)",
            f"store_status={self.status} store_traffic={round(self.traffic)} conversion_rate={self.conversion}",
            f"product_count={count}",
        ]

    def _activity(self, now: dt.datetime) -> list[str]:
        kinds = [kind for kind, _ in ACTIVITIES]
        kind = self.random.choices(kinds, weights=[weight for _, weight in ACTIVITIES])[0]
        if self.status_steps_left:
            self.status_steps_left -= 1
            if not self.status_steps_left:
                return self._set_status("active")
        if kind == "product_added":
            return self._add_product()
        if kind == "product_removed":
            return self._remove_product()
        if kind == "store_health_changed":
            if self.status != "active":
                return self._set_status("active")
            self.status_steps_left = self.random.randint(3, 6)
            return self._set_status(self.random.choice(("maintenance", "degraded")))
        return self._customer(kind, now)

    def _add_product(self) -> list[str]:
        key = next_product_key(self.store)
        name = self.random.choice(PRODUCT_NAMES)
        count = demo_products_add(self.store, [(key, name, "home")])
        return [f"product_added {key} ({name})", f"product_count={count}"]

    def _remove_product(self) -> list[str]:
        products = demo_products(self.store)
        if len(products) <= 1:
            return self._add_product()  # never an empty shop
        key = self.random.choice(products).key
        count = demo_product_remove(self.store, key)
        return [f"product_removed {key}", f"product_count={count}"]

    def _set_status(self, status: str) -> list[str]:
        self.status = status
        demo_samples_record(self.store, {"store_status": status})
        demo_events_emit(
            self.store,
            [
                {
                    "tenant_id": self.store.tenant_id,
                    "event_type": "store_health_changed",
                    "source": EVENT_SOURCE,
                    "payload": {"store_status": status},
                }
            ],
        )
        return [f"store_status={status}", f"store_health_changed {status}"]

    def _customer(self, kind: str, now: dt.datetime) -> list[str]:
        customer = f"cust_{self.random.randint(1, CUSTOMERS):03d}"
        products = demo_products(self.store)
        product = self.random.choice(products).key if products else "prod_0001"
        amount = round(self.random.uniform(12, 180), 2)
        payload: dict[str, object]
        if kind == "product_viewed":
            payload = {"product_id": product}
        elif kind == "order_placed":
            payload = {"order_id": f"ord_{self.steps:05d}", "amount": amount}
        else:
            payload = {"cart_id": f"cart_{customer}", "amount": amount, "items": [product]}
        demo_events_emit(self.store, [self._customer_event(kind, customer, now, payload)])
        shown = f" {amount:.2f}" if "amount" in payload else ""
        return [f"{kind} {customer}{shown}"]

    def _customer_event(
        self, kind: str, customer: str, when: dt.datetime, payload: dict[str, object]
    ) -> dict[str, object]:
        return {
            "tenant_id": self.store.tenant_id,
            "event_type": kind,
            "source": EVENT_SOURCE,
            "customer_id": customer,
            "occurred_at": when.isoformat(),
            "payload": payload,
        }

    def _metrics(self) -> list[str]:
        """Traffic and conversion take a bounded random walk: conversion wanders across 2 %."""
        self.traffic = min(400.0, max(10.0, self.traffic * self.random.uniform(0.85, 1.18)))
        self.conversion = round(min(5.0, max(0.5, self.conversion + self.random.uniform(-0.45, 0.4))), 2)
        demo_samples_record(self.store, {"store_traffic": round(self.traffic), "conversion_rate": self.conversion})
        count = demo_product_count_record(self.store)
        return [f"store_traffic={round(self.traffic)} conversion_rate={self.conversion}", f"product_count={count}"]


def run_simulator(
    simulator: DemoStoreSimulator,
    stop: threading.Event,
    interval: float = DEFAULT_INTERVAL_SECONDS,
    wait: Callable[[float], bool] | None = None,
    on_step: Callable[[list[str]], None] | None = None,
) -> int:
    """Step until ``stop`` is set, waiting ``interval`` seconds between steps; returns the steps taken.

    ``wait(seconds) -> stopped`` defaults to ``stop.wait``, so a stop ends the wait at once. A step that
    fails is logged and the next one comes after the interval: the demo goes on.
    """
    if interval < MIN_INTERVAL_SECONDS:
        raise ValueError(f"The demo store's interval must be at least {MIN_INTERVAL_SECONDS:g} s (got {interval:g}).")
    pause = wait or stop.wait
    taken = 0
    while not stop.is_set():
        try:
            done = simulator.step()
        except Exception:  # a step is a boundary: one bad step (a busy database) must not end the demo
            logger.exception("demo store step %s failed", simulator.steps)
        else:
            taken += 1
            if on_step is not None:
                on_step(done)
        if pause(interval):
            break
    return taken
