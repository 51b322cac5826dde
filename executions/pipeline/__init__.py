"""The execution pipeline: one path for one item or many (docs/pipeline.md).

One module per step, each with one implementation:

- ``create``: the execution log (``executions_create``; ``trigger_rules`` / ``trigger_rule`` for listeners);
- ``match``: events to rules (``match_events``, ``match_event``; ``match_backlog`` on the backlog lane);
- ``evaluate``: conditions and governance, and recording what they decided (``evaluate``,
  ``record_evaluations``; approval requests opened here);
- ``act``: claim the action attempt and run it: deliver the kind's command or call its in-process run;
- ``record``: record results, and what follows an ended run (rule totals, owner notices, settling
  webhook deliveries);
- ``run``: the steps in order for loaded executions (``run_loaded``), and its entries
  (``run_executions``, ``run_execution``, ``execution_run_action``, ``execute_rule_manually``);
- ``batch``: loading executions, applying written rows.
"""

from executions.pipeline.act import get_action_handler
from executions.pipeline.create import TriggerRequest, executions_create, trigger_rule, trigger_rules
from executions.pipeline.match import MatchResult, match_backlog, match_event, match_events
from executions.pipeline.record import execution_settle_deliveries
from executions.pipeline.run import (
    execute_rule_manually,
    execution_run_action,
    run_execution,
    run_executions,
)

__all__ = [
    "MatchResult",
    "TriggerRequest",
    "execute_rule_manually",
    "execution_run_action",
    "execution_settle_deliveries",
    "executions_create",
    "get_action_handler",
    "match_backlog",
    "match_event",
    "match_events",
    "run_execution",
    "run_executions",
    "trigger_rule",
    "trigger_rules",
]
