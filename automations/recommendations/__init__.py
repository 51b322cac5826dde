"""Recommended automations for a tenant (spec: API endpoint 12 and the Recommendations Modal).

``recommend`` scores every template in the catalogue against the signals in a context, leaves out
the ones the tenant already runs, and returns the rest best first. It reads the tenant's rules and
writes nothing. Catalogue and signals: docs/recommendations.md.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from automations.choices import ThresholdOperator, TriggerType
from automations.models import AutomationRule
from automations.page_facts import page_facts
from automations.recommendations.catalogue import CATALOGUE, Contribution, Template
from automations.recommendations.signals import Signals
from automations.summaries import summarize_rule
from governance.common.words import plural

if TYPE_CHECKING:
    from governance.models import Tenant

__all__ = ["CATALOGUE", "Recommendation", "Signals", "recommend", "rule_shape", "score_template", "tenant_today"]

MIN_SCORE = 0.05
MAX_SCORE = 0.99
MAX_REASONS = 3

DIRECTIONS: dict[str, str] = {
    ThresholdOperator.LT: "below",
    ThresholdOperator.LTE: "below",
    ThresholdOperator.GT: "above",
    ThresholdOperator.GTE: "above",
    ThresholdOperator.EQ: "equal",
    ThresholdOperator.NEQ: "equal",
}


@dataclass(frozen=True)
class Recommendation:
    """The spec's recommendation keys, plus the template ``key`` and the rule's plain-English ``summary``."""

    name: str
    description: str
    category: str
    relevance_score: float
    reasoning: str
    suggested_config: dict[str, Any]
    key: str = ""
    summary: str = ""
    # What a 30-day backtest of suggested_config on the tenant's history found (None: not replayable).
    backtest: dict[str, int] | None = None
    contributions: tuple[Contribution, ...] = field(default=(), repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "relevance_score": self.relevance_score,
            "reasoning": self.reasoning,
            "suggested_config": copy.deepcopy(self.suggested_config),
            "key": self.key,
            "summary": self.summary,
            "backtest": dict(self.backtest) if self.backtest is not None else None,
        }


def rule_shape(trigger_type: object, trigger_config: object, action_type: object) -> tuple[str, ...] | None:
    """What makes two rules "the same automation": the trigger type, the trigger's key setting and
    the action type. Event: the event type; schedule: the pattern (and season for seasonal ones);
    threshold: the metric and direction; behaviour: the behaviour type. None for unreadable rules."""
    if not isinstance(trigger_type, str) or not isinstance(action_type, str) or not isinstance(trigger_config, dict):
        return None
    if trigger_type == TriggerType.EVENT:
        key: tuple[str, ...] = (str(trigger_config.get("event_type")),)
    elif trigger_type == TriggerType.SCHEDULE:
        pattern = str(trigger_config.get("pattern"))
        if pattern == "seasonal":
            season = trigger_config.get("season")
            key = (pattern, str(season) if season else f"{trigger_config.get('month')}-{trigger_config.get('day')}")
        else:
            key = (pattern,)
    elif trigger_type == TriggerType.THRESHOLD:
        operator = trigger_config.get("operator")
        direction = DIRECTIONS.get(operator, "") if isinstance(operator, str) else ""
        key = (str(trigger_config.get("metric")), direction)
    elif trigger_type == TriggerType.BEHAVIOR:
        key = (str(trigger_config.get("behavior_type")),)
    else:
        return None
    return (trigger_type, *key, action_type)


def _running_shapes(tenant: Tenant | None) -> set[tuple[str, ...]]:
    """The shapes of the tenant's live (not archived) rules, enabled or not."""
    if tenant is None:
        return set()
    rows = AutomationRule.objects.filter(tenant=tenant).values_list("trigger_type", "trigger_config", "action_type")
    return {shape for row in rows if (shape := rule_shape(*row)) is not None}


def _reasoning(template: Template, contributions: list[Contribution]) -> str:
    """Reasons for the score first (biggest first), the template's general case when no signal
    spoke for it, then reasons against; at most three sentences."""
    ups = sorted((c for c in contributions if c.delta > 0), key=lambda c: -c.delta)
    downs = sorted((c for c in contributions if c.delta < 0), key=lambda c: c.delta)
    sentences = [c.reason for c in ups]
    if not sentences:
        sentences.append(template.general_reason)
    sentences.extend(c.reason for c in downs)
    return " ".join(sentences[:MAX_REASONS])


def score_template(template: Template, signals: Signals) -> tuple[float, list[Contribution]]:
    """The template's relevance (0.05 to 0.99, two decimals) and the contributions that moved it."""
    contributions = [c for scorer in template.scorers if (c := scorer(signals)) is not None]
    raw = template.base_score + sum(c.delta for c in contributions)
    return round(min(MAX_SCORE, max(MIN_SCORE, raw)), 2), contributions


# How the last 30 days' evidence moves a score: it would have run (up), nothing would have triggered it (down).
EVIDENCE_WOULD_RUN = 0.1
EVIDENCE_NO_TRIGGER = -0.1


def evidence_contribution(estimate: dict[str, int] | None) -> Contribution | None:
    """The backtest's word on a template: "would have fired 12 times in the last 30 days"."""
    if estimate is None:
        return None
    days, fired, seen = estimate["days"], estimate["would_fire"], estimate["triggers_seen"]
    if fired:
        return Contribution(
            EVIDENCE_WOULD_RUN, f"On your history it would have fired {plural(fired, 'time')} in the last {days} days."
        )
    if not seen:
        return Contribution(EVIDENCE_NO_TRIGGER, f"Nothing in your last {days} days would have triggered it.")
    return Contribution(0.0, f"On your history it would not have fired in the last {days} days.")


def tenant_today(tenant: Tenant | None, now: dt.datetime | None = None) -> tuple[dt.date, str]:
    """The tenant's local date at ``now`` (the server clock, ``timezone.now()``, unless given) and its time
    zone's name (UTC without a tenant)."""
    zone = tenant.zone if tenant is not None else dt.UTC
    moment = now if now is not None else timezone.now()
    return moment.astimezone(zone).date(), str(zone)


def recommend(
    tenant: Tenant | None,
    context: Mapping[str, Any] | None,
    *,
    limit: int | None = None,
    today: dt.date | None = None,
) -> list[Recommendation]:
    """Recommendations for ``tenant`` given the signals in ``context``, best first (ties by name).

    Templates whose shape (``rule_shape``) matches one of the tenant's live rules are left out.
    Unusable signal values are ignored; this never raises on context data. Without a usable
    ``seasonal_context`` the season is that of ``today``: by default the tenant's local date by the
    server clock (``tenant_today``), never a date from the context.
    """
    local_today, zone_name = tenant_today(tenant)
    signals = Signals.from_context(context, today if today is not None else local_today, zone_name)
    running = _running_shapes(tenant)
    results = []
    templates = [
        template
        for template in CATALOGUE
        if rule_shape(
            template.suggested_config["trigger_type"],
            template.suggested_config["trigger_config"],
            template.suggested_config["action_type"],
        )
        not in running
    ]
    configs = [template.suggested_config for template in templates]
    estimates = page_facts.backtest_estimates(tenant, configs) if tenant is not None else [None] * len(configs)
    for template, config, estimate in zip(templates, configs, estimates, strict=True):
        score, contributions = score_template(template, signals)
        evidence = evidence_contribution(estimate)
        reasoning = _reasoning(template, contributions)
        if evidence is not None:  # always said, after the other reasons
            contributions.append(evidence)
            score = round(min(MAX_SCORE, max(MIN_SCORE, score + evidence.delta)), 2)
            reasoning = f"{reasoning} {evidence.reason}"
        results.append(
            Recommendation(
                name=template.name,
                description=template.description,
                category=template.category,
                relevance_score=score,
                reasoning=reasoning,
                suggested_config=copy.deepcopy(config),
                key=template.key,
                summary=summarize_rule(config).summary,
                backtest=estimate,
                contributions=tuple(contributions),
            )
        )
    results.sort(key=lambda rec: (-rec.relevance_score, rec.name))
    return results if limit is None else results[: max(0, limit)]
