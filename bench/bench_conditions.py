"""Condition evaluator speed (issue 2 item 12, issue 16), through the public rule methods.

Targets: >= 1,000,000 boolean evaluations/s of a 3-condition rule and >= 250,000/s with per-condition
detail, over varied contexts. 10,000 different context dicts are generated up front (ints, floats,
numeric strings, other statuses, missing keys), so no result can be cached; each figure is the best
of several timed rounds over all of them (garbage collection off while timing, as timeit does).

Issue 16 adds a heavier shape: a 10-condition rule over numbers, strings, a tag list and two ISO date
bounds, on 10,000 different contexts where every condition passes (so all ten are evaluated), with
>= 800,000 evaluations/s as its target. The machine is shared, so each shape is also timed as a
hand-written Python ``if`` chain with the same semantics for these types, in the same run:
``*_vs_plain_loop`` is our rate divided by that one (above 1 means faster than the plain loop), through
``rule.evaluate_conditions`` and, for the 10-condition shape, through the compiled conditions' ``matches``
alone (what the backtest calls in its loop).
"""

from __future__ import annotations

import datetime as dt
import gc
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from automations.conditions import compile_conditions, compiled_conditions_for_rule
from automations.models import AutomationRule

# Unsaved rules only, and no condition reads the tenant's time zone: no query is made.
NEEDS_DATABASE = False
CONTEXTS = 10_000
ROUNDS = 40
DETAIL_ROUNDS = 15
BOOLEAN_TARGET = 1_000_000
DETAILED_TARGET = 250_000
TEN_CONDITION_TARGET = 800_000

# The spec's rule plus a dotted path: product_count < 3, store_status = active, customer.total_spent >= 100.
CONDITIONS: list[dict[str, Any]] = [
    {"type": "product_count", "operator": "<", "value": 3},
    {"type": "store_status", "operator": "=", "value": "active"},
    {"type": "customer.total_spent", "operator": ">=", "value": 100},
]


def varied_contexts(count: int, kind: str = "mixed", seed: int = 2) -> list[dict[str, Any]]:
    """``count`` different contexts of one ``kind``.

    - mixed: about a quarter pass; ints and floats with 5% numeric strings, other statuses, 5% missing keys.
    - all_pass: every condition holds, so all three are evaluated; JSON numbers (ints and floats).
    - numeric_strings: every condition holds and every number is a string ("2", "150.5"): the slow path.
    """
    rng = random.Random(seed)
    contexts = []
    for index in range(count):
        if kind == "mixed":
            product_count: Any = rng.choice([0, 1, 2, 2, 3, 4, 10, 2.5, rng.randint(0, 20)])
            total: Any = rng.choice([rng.randint(0, 500), round(rng.uniform(0, 500), 2), 99.99, 100])
            if rng.random() < 0.05:
                product_count, total = str(product_count), str(total)
            status = rng.choice(["active", "active", "active", "active", "closed", "paused"])
        elif kind == "all_pass":
            product_count = rng.choice([0, 1, 2, 2.5, rng.randint(-5, 2)])
            total = rng.choice([rng.randint(100, 5000), round(rng.uniform(100, 5000), 2)])
            status = "active"
        else:
            product_count = rng.choice(["0", "1", "2", "2.5", str(rng.randint(-5, 2))])
            total = rng.choice([str(rng.randint(100, 5000)), str(round(rng.uniform(100, 5000), 2))])
            status = "active"
        context: dict[str, Any] = {
            "product_count": product_count,
            "store_status": status,
            "customer": {"id": f"cust_{index}", "total_spent": total, "orders": rng.randint(0, 40)},
            "event_id": f"evt_{index}",
        }
        if kind == "mixed" and rng.random() < 0.05:
            del context[rng.choice(["product_count", "store_status", "customer"])]
        contexts.append(context)
    return contexts


def plain_loop_3(context: dict[str, Any]) -> bool:
    """CONDITIONS as a hand-written check, for JSON numbers (the all_pass contexts)."""
    count = context.get("product_count")
    if count.__class__ not in (int, float) or not count < 3:
        return False
    if context.get("store_status") != "active":
        return False
    customer = context.get("customer")
    total = customer.get("total_spent") if customer.__class__ is dict else None
    return total.__class__ in (int, float) and total >= 100


# Ten conditions: four on numbers (one on a dotted path), three on strings, one on a tag list and two
# ISO date bounds (a date, and a date and time with an offset).
SIGNUP_FROM = "2026-01-01"
LAST_ORDER_UNTIL = "2026-12-31T00:00:00Z"
COUNTRIES = ["US", "CA", "GB", "DE", "FR", "NL", "SE", "AU"]
PLANS = ["plus", "pro", "enterprise"]
TEN_CONDITIONS: list[dict[str, Any]] = [
    {"type": "product_count", "operator": "<", "value": 10},
    {"type": "customer.total_spent", "operator": ">=", "value": 100},
    {"type": "order_total", "operator": "between", "value": [10, 5000]},
    {"type": "items_count", "operator": ">=", "value": 1},
    {"type": "store_status", "operator": "=", "value": "active"},
    {"type": "country", "operator": "in", "value": COUNTRIES},
    {"type": "plan", "operator": "in", "value": PLANS},
    {"type": "tags", "operator": "contains", "value": "vip"},
    {"type": "signup_date", "operator": ">=", "value": SIGNUP_FROM},
    {"type": "last_order_at", "operator": "<=", "value": LAST_ORDER_UNTIL},
]
OTHER_TAGS = ["new", "wholesale", "newsletter", "returning", "eu", "b2b", "gift", "sale"]


def ten_condition_contexts(count: int, seed: int = 5) -> list[dict[str, Any]]:
    """``count`` different contexts passing all of TEN_CONDITIONS: JSON values, dates as ISO strings."""
    rng = random.Random(seed)
    start = dt.date(2026, 1, 1)
    contexts = []
    for index in range(count):
        tags = rng.sample(OTHER_TAGS, rng.randint(0, 4))
        tags.insert(rng.randint(0, len(tags)), "vip")
        signup = start + dt.timedelta(days=rng.randint(0, 360))
        offset = rng.choice(["Z", "+00:00", "+02:00", "-05:00"])
        clock = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
        last_order = f"{signup + dt.timedelta(days=rng.randint(0, 3))}T{clock}{offset}"
        contexts.append(
            {
                "product_count": rng.choice([0, 1, 2, 5, 9, 2.5, rng.randint(-5, 9)]),
                "customer": {
                    "id": f"cust_{index}",
                    "total_spent": rng.choice([rng.randint(100, 9000), round(rng.uniform(100, 9000), 2)]),
                },
                "order_total": rng.choice([rng.randint(10, 5000), round(rng.uniform(10, 5000), 2)]),
                "items_count": rng.randint(1, 30),
                "store_status": "active",
                "country": rng.choice(COUNTRIES),
                "plan": rng.choice(PLANS),
                "tags": tags,
                "signup_date": signup.isoformat(),
                "last_order_at": last_order,
                "event_id": f"evt_{index}",
            }
        )
    return contexts


_SIGNUP_FROM = dt.date.fromisoformat(SIGNUP_FROM)
_LAST_ORDER_UNTIL = dt.datetime.fromisoformat(LAST_ORDER_UNTIL)
_COUNTRIES = frozenset(COUNTRIES)
_PLANS = frozenset(PLANS)


def plain_loop_10(context: dict[str, Any]) -> bool:
    """TEN_CONDITIONS as a hand-written check for these types (JSON numbers, str, a list, ISO strings)."""
    numbers = (int, float)
    value = context.get("product_count")
    if value.__class__ not in numbers or not value < 10:
        return False
    customer = context.get("customer")
    value = customer.get("total_spent") if customer.__class__ is dict else None
    if value.__class__ not in numbers or not value >= 100:
        return False
    value = context.get("order_total")
    if value.__class__ not in numbers or not 10 <= value <= 5000:
        return False
    value = context.get("items_count")
    if value.__class__ not in numbers or not value >= 1:
        return False
    if context.get("store_status") != "active":
        return False
    if context.get("country") not in _COUNTRIES or context.get("plan") not in _PLANS:
        return False
    tags = context.get("tags")
    if tags.__class__ is not list or "vip" not in tags:
        return False
    try:
        if dt.date.fromisoformat(context["signup_date"]) < _SIGNUP_FROM:
            return False
        return dt.datetime.fromisoformat(context["last_order_at"]) <= _LAST_ORDER_UNTIL
    except (KeyError, TypeError, ValueError):
        return False


def rate(function: Callable[[Any], Any], contexts: list[Any], rounds: int) -> tuple[float, float]:
    """(best, median) calls per second of ``function`` over every context, ``rounds`` times.

    Timed in this process's CPU time, not wall time: on a shared machine the time spent waiting for
    a core is not the evaluator's (for this single-threaded loop on an idle machine they are equal).
    """
    timings = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            started = time.process_time()
            for context in contexts:
                function(context)
            timings.append(time.process_time() - started)
    finally:
        if gc_was_enabled:
            gc.enable()
    return len(contexts) / min(timings), len(contexts) / statistics.median(timings)


def bench_rule(conditions: list[dict[str, Any]] | None = None) -> AutomationRule:
    """An unsaved rule with a pk and version, as the worker would have; no database needed."""
    return AutomationRule(id="automation_bench", version=1, conditions=list(conditions or CONDITIONS))


def run() -> dict[str, object]:
    rule = bench_rule()
    varied = varied_contexts(CONTEXTS)
    all_pass = varied_contexts(CONTEXTS, "all_pass", seed=3)
    numeric_strings = varied_contexts(CONTEXTS, "numeric_strings", seed=4)
    assert all(rule.evaluate_conditions(context) for context in all_pass + numeric_strings)
    pass_rate = sum(rule.evaluate_conditions(context) for context in varied) / len(varied)

    boolean_best, boolean_median = rate(rule.evaluate_conditions, varied, ROUNDS)
    boolean_all_best, boolean_all_median = rate(rule.evaluate_conditions, all_pass, ROUNDS)
    boolean_strings_best, _ = rate(rule.evaluate_conditions, numeric_strings, ROUNDS)
    detailed_best, detailed_median = rate(rule.evaluate_conditions_detailed, varied, DETAIL_ROUNDS)
    detailed_all_best, _ = rate(rule.evaluate_conditions_detailed, all_pass, DETAIL_ROUNDS)

    # The same compiled conditions without the model method, its lazy import and the cache lookup.
    compiled = compiled_conditions_for_rule(rule)
    matches_best, _ = rate(compiled.matches, varied, ROUNDS)

    # A rule reading the built-in date (computed per evaluation in the tenant's zone; here UTC).
    dated = compile_conditions([*CONDITIONS[:2], {"type": "date", "operator": ">=", "value": "2025-12-01"}])
    dated_best, _ = rate(dated.matches, all_pass, DETAIL_ROUNDS)

    # Plain-loop references on the same data, in the same run (the machine is shared).
    assert all(plain_loop_3(context) for context in all_pass)
    plain_3_best, _ = rate(plain_loop_3, all_pass, ROUNDS)

    ten_rule = bench_rule(TEN_CONDITIONS)
    ten_contexts = ten_condition_contexts(CONTEXTS)
    assert all(ten_rule.evaluate_conditions(context) for context in ten_contexts)
    assert all(plain_loop_10(context) for context in ten_contexts)
    ten_best, ten_median = rate(ten_rule.evaluate_conditions, ten_contexts, ROUNDS)
    ten_matches_best, _ = rate(compiled_conditions_for_rule(ten_rule).matches, ten_contexts, ROUNDS)
    plain_10_best, _ = rate(plain_loop_10, ten_contexts, ROUNDS)
    ten_detailed_best, _ = rate(ten_rule.evaluate_conditions_detailed, ten_contexts, DETAIL_ROUNDS)

    started = time.perf_counter()
    for _ in range(1000):
        compile_conditions(CONDITIONS)
    compile_us = (time.perf_counter() - started) / 1000 * 1e6

    # A fresh instance of a saved rule version: the instance cache misses, the LRU hits.
    saved = bench_rule()
    saved._state.adding = False
    compiled_conditions_for_rule(saved)
    started = time.perf_counter()
    for _ in range(10_000):
        del saved._compiled_conditions
        compiled_conditions_for_rule(saved)
    lru_hit_us = (time.perf_counter() - started) / 10_000 * 1e6

    return {
        "contexts": CONTEXTS,
        "varied_pass_rate": round(pass_rate, 3),
        "boolean_per_s": round(boolean_best),
        "boolean_per_s_median": round(boolean_median),
        "boolean_all_pass_per_s": round(boolean_all_best),
        "boolean_all_pass_per_s_median": round(boolean_all_median),
        "boolean_numeric_strings_per_s": round(boolean_strings_best),
        "detailed_per_s": round(detailed_best),
        "detailed_per_s_median": round(detailed_median),
        "detailed_all_pass_per_s": round(detailed_all_best),
        "compiled_matches_per_s": round(matches_best),
        "builtin_date_rule_per_s": round(dated_best),
        "plain_loop_3_all_pass_per_s": round(plain_3_best),
        "boolean_all_pass_vs_plain_loop": round(boolean_all_best / plain_3_best, 2),
        "ten_conditions_all_pass_per_s": round(ten_best),
        "ten_conditions_all_pass_per_s_median": round(ten_median),
        "ten_conditions_compiled_matches_per_s": round(ten_matches_best),
        "plain_loop_10_all_pass_per_s": round(plain_10_best),
        "ten_conditions_vs_plain_loop": round(ten_best / plain_10_best, 2),
        "ten_conditions_compiled_matches_vs_plain_loop": round(ten_matches_best / plain_10_best, 2),
        "ten_conditions_detailed_per_s": round(ten_detailed_best),
        "compile_us": round(compile_us, 1),
        "lru_hit_us": round(lru_hit_us, 2),
        "boolean_target_per_s": BOOLEAN_TARGET,
        "detailed_target_per_s": DETAILED_TARGET,
        "meets_boolean_target": min(boolean_best, boolean_all_best) >= BOOLEAN_TARGET,
        "meets_detailed_target": min(detailed_best, detailed_all_best) >= DETAILED_TARGET,
        "ten_conditions_target_per_s": TEN_CONDITION_TARGET,
        "meets_ten_conditions_target": ten_best >= TEN_CONDITION_TARGET,
    }
