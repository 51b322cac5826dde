"""The Celery names of the service's tasks: one home for what is queued and what is registered.

Publishers queue by name (``executions.dispatch.publish``), so the services, the pipeline and the
listeners never import the task modules; ``executions.tasks`` and ``executions.tasks_listeners``
register their tasks under these names. The names are stored in beat's rows and in queued messages:
never rename one.
"""

from __future__ import annotations

MATCH_EVENT = "executions.match_event"
MATCH_EVENTS = "executions.match_events"
MATCH_BACKLOG = "executions.match_backlog"
RUN_EXECUTIONS = "executions.run_executions"
RUN_EXECUTION = "executions.run_execution"
RUN_ACTION = "executions.run_action"
SWEEP_OUTBOX = "executions.sweep_outbox"
SWEEP_LEASES = "executions.sweep_leases"
SEND_DELIVERY = "executions.send_delivery"
SEND_DUE_DELIVERIES = "executions.send_due_deliveries"
CHECK_SCHEDULES = "executions.check_schedules"
CHECK_THRESHOLDS = "executions.check_thresholds"
CHECK_METRIC_THRESHOLDS = "executions.check_metric_thresholds"
CHECK_BEHAVIORS = "executions.check_behaviors"
PRUNE_HISTORY = "executions.prune_history"
SEND_FAILURE_DIGESTS = "executions.send_failure_digests"
FOLD_DELIVERY_ROLLUPS = "executions.fold_delivery_rollups"
