"""Condition evaluator speed (issue 2 item 12), through the public rule methods.

Targets: >= 1,000,000 boolean evaluations/s of a 3-condition rule and >= 250,000/s with per-condition
detail, over varied contexts. 10,000 different context dicts are generated up front (ints, floats,
numeric strings, other statuses, missing keys), so no result can be cached; each figure is the best
of several timed rounds over all of them (garbage collection off while timing, as timeit does).
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from automations.conditions import compile_conditions, compiled_conditions_for_rule
from automations.models import AutomationRule

CONTEXTS = 10_000
ROUNDS = 40
DETAIL_ROUNDS = 15
BOOLEAN_TARGET = 1_000_000
DETAILED_TARGET = 250_000

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


def rate(function: Callable[[Any], Any], contexts: list[Any], rounds: int) -> tuple[float, float]:
    """(best, median) calls per second of ``function`` over every context, ``rounds`` times."""
    timings = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            for context in contexts:
                function(context)
            timings.append(time.perf_counter() - started)
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
        "compile_us": round(compile_us, 1),
        "lru_hit_us": round(lru_hit_us, 2),
        "boolean_target_per_s": BOOLEAN_TARGET,
        "detailed_target_per_s": DETAILED_TARGET,
        "meets_boolean_target": min(boolean_best, boolean_all_best) >= BOOLEAN_TARGET,
        "meets_detailed_target": min(detailed_best, detailed_all_best) >= DETAILED_TARGET,
    }
