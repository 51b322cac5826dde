"""Compile a rule's conditions once per rule version.

Two levels: the compiled object is kept on the rule instance (the hot path: one attribute read and
two identity/equality checks), and the time-zone-free plan is kept in a bounded module-level LRU
keyed by ``(rule.pk, rule.version)``, so the next instance of the same rule version (each task loads
the rule afresh) does not compile again.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Final

from django.core.exceptions import ObjectDoesNotExist
from django.db.models.query_utils import DeferredAttribute

from automations.conditions.evaluator import CompiledConditions, Plan, compile_plan
from automations.conditions.values import ZoneSource

if TYPE_CHECKING:
    from automations.models import AutomationRule

MAX_CACHED_VERSIONS: Final = 4096
INSTANCE_ATTRIBUTE: Final = "_compiled_conditions"
# The instance attribute shadowing the AutomationRule.evaluate_conditions method once compiled (rule_matches).
MATCHES_ATTRIBUTE: Final = "evaluate_conditions"

_plans: OrderedDict[tuple[Any, int], tuple[str, Plan]] = OrderedDict()
_plans_lock = threading.Lock()


class _InstanceCache:
    """What ``compiled_conditions_for_rule`` keeps on a rule instance."""

    __slots__ = ("compiled", "source", "version")

    def __init__(self, source: object, version: object, compiled: CompiledConditions | None) -> None:
        self.source = source
        self.version = version
        self.compiled = compiled

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        # Closures cannot be pickled: a pickled or deep-copied rule simply compiles again.
        return (_InstanceCache.empty, ())

    @classmethod
    def empty(cls) -> _InstanceCache:
        return cls(object(), None, None)


def compiled_conditions_for_rule(rule: AutomationRule) -> CompiledConditions:
    """The rule's conditions, compiled once per version (and again if ``rule.conditions`` is replaced)."""
    # TRICKY: read from the instance's __dict__, not through the fields' descriptors (a Python call
    # each, a fifth of a 3-condition evaluation). A deferred field is not in __dict__: it then compiles
    # through the descriptors, which load it.
    state = rule.__dict__
    try:
        cached: _InstanceCache = state[INSTANCE_ATTRIBUTE]
        if cached.source is state["conditions"] and cached.version == state["version"] and cached.compiled is not None:
            return cached.compiled
    except KeyError:
        pass
    return _compile_for_rule(rule)


def rule_matches(rule: AutomationRule, context: Any) -> bool:
    """True when every condition of ``rule`` holds for ``context`` (an empty list always holds).

    ``AutomationRule.evaluate_conditions`` the first time on an instance: it also puts the compiled function
    on the instance under that name (MATCHES_ATTRIBUTE), so the next ``rule.evaluate_conditions(context)``
    calls it directly, with no Python frame of ours between (issue 16: a call less per evaluation is a
    tenth of a 10-condition rule's time). Assigning the rule's conditions or version drops it
    (``CompiledFromAttribute``); pickled and copied rules leave it out (``AutomationRule.__getstate__``).
    """
    matches = compiled_conditions_for_rule(rule).matches
    rule.__dict__[MATCHES_ATTRIBUTE] = matches
    return matches(context)


class CompiledFromAttribute(DeferredAttribute):
    """The descriptor of a rule field its compiled conditions depend on (conditions, version): assigning the
    field drops the compiled function ``rule_matches`` put on the instance.

    TRICKY: a data descriptor on these two fields only (reading them is a Python call; the evaluator reads
    ``__dict__``): a ``__setattr__`` on the model cost every field of every rule loaded, 12 ms for the
    activity log's 500 rules.
    """

    def __set__(self, instance: Any, value: Any) -> None:
        data = instance.__dict__
        data[self.field.attname] = value
        data.pop(MATCHES_ATTRIBUTE, None)


def _fingerprint(conditions: object) -> str | None:
    """Canonical JSON, so 1, 1.0 and true are different definitions; None when not serialisable."""
    try:
        return json.dumps(conditions, sort_keys=True, separators=(",", ":"), default=repr)
    except (TypeError, ValueError, RecursionError):
        return None


def _cached_plan(key: tuple[Any, int] | None, fingerprint: str | None, conditions: object) -> Plan:
    if key is not None and fingerprint is not None:
        with _plans_lock:
            entry = _plans.get(key)
            if entry is not None and entry[0] == fingerprint:
                _plans.move_to_end(key)
                return entry[1]
    plan = compile_plan(conditions)
    if key is not None and fingerprint is not None:
        with _plans_lock:
            _plans[key] = (fingerprint, plan)
            _plans.move_to_end(key)
            while len(_plans) > MAX_CACHED_VERSIONS:
                _plans.popitem(last=False)
    return plan


def _compile_for_rule(rule: AutomationRule) -> CompiledConditions:
    """1. Find or compile the plan (shared per pk and version); 2. bind the rule's lazy time zone."""
    conditions = rule.conditions
    version = rule.version
    pk = rule.pk
    saved = pk is not None and not rule._state.adding
    # TRICKY: the definition is compared too, so an edited unsaved copy of a saved rule (same pk and
    # version, other conditions) never gets the stored version's plan.
    plan = _cached_plan((pk, version) if saved else None, _fingerprint(conditions), conditions)
    compiled = CompiledConditions(plan, ZoneSource(resolve=_tenant_timezone(rule)))
    setattr(rule, INSTANCE_ATTRIBUTE, _InstanceCache(conditions, version, compiled))
    return compiled


def _tenant_timezone(rule: AutomationRule) -> Any:
    """A function returning the rule's tenant's time zone name, called only when one is needed.

    The rule is held weakly (the compiled conditions live on the rule; no reference cycle); if it is
    gone by then, the tenant is read by id.
    """
    rule_ref = weakref.ref(rule)
    tenant_id = getattr(rule, "tenant_id", None)

    def resolve() -> str | None:
        current = rule_ref()
        if current is not None:
            if getattr(current, "tenant_id", None) is None:
                return None
            try:
                return current.tenant.timezone
            except ObjectDoesNotExist:
                return None
        if tenant_id is None:
            return None
        from governance.models import Tenant

        return Tenant.objects.filter(pk=tenant_id).values_list("timezone", flat=True).first()

    return resolve


def clear_cache() -> None:
    """Forget every compiled plan (tests; the cache is otherwise bounded and self-correcting)."""
    with _plans_lock:
        _plans.clear()


def cache_size() -> int:
    return len(_plans)
