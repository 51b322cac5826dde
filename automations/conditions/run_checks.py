"""What a run of a rule checks before governance: the one answer to "would this run?".

``rule_run_checks(rule, context)`` is used by every surface that asks: Test Conditions in the API
(saved and unsaved rules), the builder's and the rule page's Test (``automations.selectors.
rule_condition_report``), and every execution the pipeline evaluates (manual runs from the API's execute
and the portal's Run now, events, schedules, thresholds, behaviours: ``executions.pipeline.evaluate``),
which stores its rows as the execution's ``condition_results``. So a manual run with a context is skipped
exactly when Test with that context says a check fails, and its log shows the same rows.

The checks, in order:

1. for a threshold rule, the trigger's own comparison (``metric operator value``) against the metric's
   value in the context (``explain_threshold``, the comparison the threshold tick uses); a run the tick
   fires carries the crossing's value under the metric's name, so its row shows what crossed;
2. each top-level condition (``compiled_conditions_for_rule(rule).explain``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from automations.choices import TriggerType
from automations.conditions.cache import compiled_conditions_for_rule
from automations.conditions.evaluator import ConditionResult
from automations.conditions.threshold import explain_threshold

if TYPE_CHECKING:
    from automations.models import AutomationRule


def rule_run_checks(rule: AutomationRule, context: Mapping[str, Any]) -> list[ConditionResult]:
    """One result per check of a run of ``rule`` with ``context`` (threshold comparison first); never raises
    on context data. The run goes on to governance only when every result passed."""
    results: list[ConditionResult] = []
    config = rule.trigger_config
    if rule.trigger_type == TriggerType.THRESHOLD and isinstance(config, Mapping) and "metric" in config:
        results.append(explain_threshold(config, context))
    results.extend(compiled_conditions_for_rule(rule).explain(context))
    return results
