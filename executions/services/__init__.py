"""The execution services' public API (docs/pipeline.md); the pipeline's steps are ``executions.pipeline``.

Events: ``emit_event``, ``emit_events``, ``match_event``. Executions: ``trigger_rule``,
``run_execution``, ``execution_run_action``, ``execute_rule_manually``, ``build_context``.
Approvals: ``execution_approve``, ``execution_reject``, ``execution_decision_refusal``. Webhook deliveries:
``send_and_settle_delivery``, ``send_due_deliveries_and_settle``, ``execution_settle_deliveries``. Notices:
``notify_users``, ``notification_mark_read``, ``notifications_mark_read``, ``notifications_mark_all_read``,
``notices_mark_done``. Sweepers:
``sweep_outbox``, ``sweep_expired_leases``.
History: ``prune_history``, ``history_kept_since``.
"""

from executions.approvals import execution_approve, execution_decision_refusal, execution_reject
from executions.context import build_context
from executions.notifications.notices import (
    notices_mark_done,
    notification_mark_read,
    notifications_mark_all_read,
    notifications_mark_read,
    notify_users,
)
from executions.pipeline import (
    MatchResult,
    execute_rule_manually,
    execution_run_action,
    match_event,
    run_execution,
    trigger_rule,
)
from executions.services.delivery_settlement import (
    execution_settle_deliveries,
    send_and_settle_delivery,
    send_due_deliveries_and_settle,
)
from executions.services.events import EmitResult, emit_event, emit_events, events_check, events_store
from executions.services.history import HistoryPruneResult, history_kept_since, prune_history
from executions.services.sweepers import sweep_expired_leases, sweep_outbox
from executions.transitions import ExecutionConflict

__all__ = [
    "EmitResult",
    "ExecutionConflict",
    "HistoryPruneResult",
    "MatchResult",
    "build_context",
    "emit_event",
    "emit_events",
    "events_check",
    "events_store",
    "execute_rule_manually",
    "execution_approve",
    "execution_decision_refusal",
    "execution_reject",
    "execution_run_action",
    "execution_settle_deliveries",
    "history_kept_since",
    "match_event",
    "notices_mark_done",
    "notification_mark_read",
    "notifications_mark_all_read",
    "notifications_mark_read",
    "notify_users",
    "prune_history",
    "run_execution",
    "send_and_settle_delivery",
    "send_due_deliveries_and_settle",
    "sweep_expired_leases",
    "sweep_outbox",
    "trigger_rule",
]
