"""Warnings about a rule as it is saved: things that are allowed but probably not meant (docs/warnings.md).

A warning never blocks a save. ``rule_warnings(rule)`` runs every registered check; each returns
``RuleWarning(code, message, field)`` with ``field`` the path the builder shows it beside. Checks that
need what only the executions side knows (the tenant's recent events and metric values) are registered
by that app in ``ready()`` (``register_warning_check``), as imports point executions -> automations.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from django.utils import timezone

from automations.choices import ActionType, RiskLevel, TriggerType
from automations.models import AutomationRule
from automations.schedule_times import ScheduleError, slots_between, wall_time_exists, zone_for
from governance.models import Membership
from governance.roles import APPROVER_ROLES
from governance.selectors import default_council

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuleWarning:
    code: str
    message: str
    field: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


WarningCheck = Callable[[AutomationRule], Iterable[RuleWarning]]
WARNING_CHECKS: list[WarningCheck] = []


def register_warning_check(check: WarningCheck) -> WarningCheck:
    if check not in WARNING_CHECKS:
        WARNING_CHECKS.append(check)
    return check


def rule_warnings(rule: AutomationRule) -> list[RuleWarning]:
    """Every warning for ``rule`` (saved or not), in check order; a check that fails is logged and skipped."""
    warnings: list[RuleWarning] = []
    for check in WARNING_CHECKS:
        try:
            warnings.extend(check(rule))
        except Exception:  # a warning is advice: a failing check must never stop a save
            logger.exception("rule warning check %s failed for %s", getattr(check, "__name__", check), rule.pk)
    return warnings


# --- conditions that can never all hold, or say the same twice ----------------------------------------


@dataclass(frozen=True)
class Bound:
    """One numeric constraint on a key: ``value`` with ``low`` (x > / >= value) or not (x < / <= value)."""

    index: int
    value: float
    low: bool
    strict: bool

    def admits(self, number: float) -> bool:
        if self.low:
            return number > self.value if self.strict else number >= self.value
        return number < self.value if self.strict else number <= self.value

    def tighter_than(self, other: Bound) -> bool:
        """Whether every number this bound admits, ``other`` admits too (self implies other)."""
        if self.low != other.low:
            return False
        if self.value == other.value:
            return self.strict or not other.strict
        return self.value > other.value if self.low else self.value < other.value


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _constraints(condition: object, index: int) -> tuple[list[Bound], list[tuple[int, object]]]:
    """The numeric bounds and the equalities (``=``) that one top-level condition puts on its key."""
    if not isinstance(condition, dict):
        return [], []
    operator, value = condition.get("operator"), condition.get("value")
    if operator == "=":
        return [], [(index, value)]
    if operator == "between" and isinstance(value, list) and len(value) == 2:
        low, high = _number(value[0]), _number(value[1])
        if low is None or high is None:
            return [], []
        return [Bound(index, low, True, False), Bound(index, high, False, False)], []
    number = _number(value)
    shapes = {"<": (False, True), "<=": (False, False), ">": (True, True), ">=": (True, False)}
    if number is None or operator not in shapes:
        return [], []
    low, strict = shapes[str(operator)]
    return [Bound(index, number, low, strict)], []


def _words(condition: Any) -> str:
    return f"{condition.get('type')} {condition.get('operator')} {condition.get('value')!r}"


def condition_conflicts(conditions: object, prefix: str = "conditions") -> Iterator[RuleWarning]:
    """``conditions_contradict`` for top-level conditions on one key that cannot all hold; else
    ``condition_implied`` for one that another already guarantees."""
    if not isinstance(conditions, list):
        return
    by_key: dict[str, list[int]] = {}
    for index, condition in enumerate(conditions):
        if isinstance(condition, dict) and isinstance(condition.get("type"), str):
            by_key.setdefault(condition["type"], []).append(index)
    for indexes in by_key.values():
        if len(indexes) < 2:
            continue
        bounds: list[Bound] = []
        equals: list[tuple[int, object]] = []
        for index in indexes:
            more_bounds, more_equals = _constraints(conditions[index], index)
            bounds += more_bounds
            equals += more_equals
        conflict = _contradiction(bounds, equals)
        if conflict is not None:
            first, second = conflict
            yield RuleWarning(
                "conditions_contradict",
                f"{_words(conditions[second])} can never hold together with {_words(conditions[first])}: "
                "this rule will never run its action.",
                f"{prefix}[{second}]",
            )
            continue
        yield from _implied(conditions, bounds, equals, prefix)


def _contradiction(bounds: list[Bound], equals: list[tuple[int, object]]) -> tuple[int, int] | None:
    for (first, value), (second, other) in itertools.pairwise(equals):
        if value != other:
            return first, second
    for index, value in equals:
        number = _number(value)
        for bound in bounds:
            if number is not None and not bound.admits(number):
                return min(index, bound.index), max(index, bound.index)
    lows = [bound for bound in bounds if bound.low]
    highs = [bound for bound in bounds if not bound.low]
    for low in lows:
        for high in highs:
            empty = low.value > high.value or (low.value == high.value and (low.strict or high.strict))
            if empty and low.index != high.index:
                return min(low.index, high.index), max(low.index, high.index)
    return None


def _implied(
    conditions: list[Any], bounds: list[Bound], equals: list[tuple[int, object]], prefix: str
) -> Iterator[RuleWarning]:
    reported: set[int] = set()
    for bound in bounds:
        for other in bounds:
            if other.index == bound.index or other.index in reported or bound.index in reported:
                continue
            if bound.tighter_than(other) and conditions[other.index].get("operator") != "between":
                reported.add(other.index)
                yield RuleWarning(
                    "condition_implied",
                    f"{_words(conditions[other.index])} adds nothing: {_words(conditions[bound.index])} "
                    "already guarantees it.",
                    f"{prefix}[{other.index}]",
                )
    for index, value in equals:
        number = _number(value)
        for bound in bounds:
            if bound.index in reported or number is None or conditions[bound.index].get("operator") == "between":
                continue
            reported.add(bound.index)
            yield RuleWarning(
                "condition_implied",
                f"{_words(conditions[bound.index])} adds nothing: {_words(conditions[index])} already guarantees it.",
                f"{prefix}[{bound.index}]",
            )


@register_warning_check
def check_conditions(rule: AutomationRule) -> Iterator[RuleWarning]:
    return condition_conflicts(rule.conditions)


# --- another rule doing the same -----------------------------------------------------------------------


TRIGGER_KEYS = {
    TriggerType.EVENT: "event_type",
    TriggerType.THRESHOLD: "metric",
    TriggerType.BEHAVIOR: "behavior_type",
}


def _same_trigger(rule: AutomationRule, other: AutomationRule) -> bool:
    if rule.trigger_type != other.trigger_type:
        return False
    key = TRIGGER_KEYS.get(TriggerType(rule.trigger_type)) if rule.trigger_type in TriggerType.values else None
    mine = rule.trigger_config if isinstance(rule.trigger_config, dict) else {}
    theirs = other.trigger_config if isinstance(other.trigger_config, dict) else {}
    if key is None:  # schedules: the same pattern and time
        return all(mine.get(part) == theirs.get(part) for part in ("pattern", "time", "day", "cron", "season"))
    return mine.get(key) == theirs.get(key)


@register_warning_check
def check_overlapping_rules(rule: AutomationRule) -> Iterator[RuleWarning]:
    others = AutomationRule.objects.filter(
        tenant_id=rule.tenant_id, enabled=True, trigger_type=rule.trigger_type, action_type=rule.action_type
    ).exclude(pk=rule.pk)
    for other in others.only("id", "name", "trigger_type", "trigger_config", "conditions")[:200]:
        if not _same_trigger(rule, other):
            continue
        mine = rule.conditions if isinstance(rule.conditions, list) else []
        theirs = other.conditions if isinstance(other.conditions, list) else []
        together = [*mine, *theirs]
        if any(w.code == "conditions_contradict" for w in condition_conflicts(together)):
            continue
        yield RuleWarning(
            "overlapping_rule",
            f"The enabled rule '{other.name}' has the same trigger and also runs {rule.action_type}, and its "
            "conditions can hold at the same time as these: customers may get both.",
            "trigger_config",
        )


# --- schedules across DST ------------------------------------------------------------------------------


@register_warning_check
def check_schedule_dst(rule: AutomationRule) -> Iterator[RuleWarning]:
    if rule.trigger_type != TriggerType.SCHEDULE or not isinstance(rule.trigger_config, dict):
        return
    zone_name = rule.trigger_config.get("timezone") or (rule.tenant.timezone if rule.tenant_id else "UTC")
    now = timezone.now()
    try:
        slots = slots_between(rule.trigger_config, zone_name, now, now + dt.timedelta(days=366), limit=2000)
        zone = zone_for(zone_name)
    except ScheduleError:
        return
    for slot in slots:
        wall = slot.scheduled
        if not wall_time_exists(wall, zone):
            yield RuleWarning(
                "schedule_dst_gap",
                f"{wall:%H:%M} does not exist in {zone_name} on {wall:%d %b %Y} (clocks jump forward): "
                f"that day it runs at {slot.local:%H:%M}, the first minute after the gap.",
                "trigger_config.time",
            )
            return
        if wall.replace(tzinfo=zone, fold=0).utcoffset() != wall.replace(tzinfo=zone, fold=1).utcoffset():
            yield RuleWarning(
                "schedule_dst_repeat",
                f"{wall:%H:%M} happens twice in {zone_name} on {wall:%d %b %Y} (clocks go back): "
                "it runs once, at the first of the two.",
                "trigger_config.time",
            )
            return


# --- actions and approvals -----------------------------------------------------------------------------


@register_warning_check
def check_notification_channels(rule: AutomationRule) -> Iterator[RuleWarning]:
    if rule.action_type != ActionType.SEND_NOTIFICATION or not isinstance(rule.action_config, dict):
        return
    if not rule.action_config.get("channels"):
        yield RuleWarning(
            "notification_in_app_only",
            "This notification is only shown in the portal's inbox: add email (or another channel) to reach "
            "people who are not signed in.",
            "action_config.channels",
        )


@register_warning_check
def check_approvers(rule: AutomationRule) -> Iterator[RuleWarning]:
    if rule.risk_level != RiskLevel.CRITICAL and not rule.requires_approval:
        return
    council = rule.assigned_council if rule.assigned_council_id else default_council(rule.tenant_id)
    approvers = Membership.objects.filter(
        tenant_id=rule.tenant_id,
        role__in=sorted(APPROVER_ROLES),
        user__council_memberships__council=council,
        user__is_active=True,
    )
    if council is None or not approvers.exists():
        name = council.name if council is not None else "the tenant's council"
        yield RuleWarning(
            "no_approver",
            f"Every run needs approval, but nobody on {name} may approve (a council member with the owner "
            "or council role): runs will wait until someone is added.",
            "assigned_council_id",
        )
