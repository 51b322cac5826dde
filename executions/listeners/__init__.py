"""Listeners: the schedule, threshold and behaviour checks that decide *that* a rule fires.

Each check is a plain function the Celery beat ticks and ``AutomationWorker`` call:

- ``executions.listeners.schedule.check_schedules(now=None)``
- ``executions.listeners.threshold.check_thresholds(now=None)``
  (and ``check_metric_thresholds(tenant_id, metric)`` right after a pushed sample)
- ``executions.listeners.behavior.check_behaviors(now=None)``

They hand each firing to the shared pipeline, ``executions.pipeline.trigger_rule(s)``.
"""
