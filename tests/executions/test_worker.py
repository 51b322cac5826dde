"""Testing Guide §3: the worker's event listener and its on-demand checks, run in this process."""

import datetime as dt

import pytest

from executions.choices import ExecutionStatus, TriggerSource
from executions.models import AutomationExecution, MetricSample
from executions.worker import AutomationWorker
from tests.executions.conftest import make_event_rule
from tests.factories import make_rule


@pytest.mark.django_db(transaction=True)
def test_testing_guide_worker_section(tenant, owner, eager_celery):
    # given: an event rule, a threshold rule whose metric is low, and a schedule rule due a minute ago
    event_rule = make_event_rule(tenant, owner, conditions=[])
    threshold_rule = make_rule(tenant, owner, conditions=[])
    MetricSample.objects.create(tenant=tenant, metric="product_count", value_number=2)
    schedule_rule = make_rule(
        tenant,
        owner,
        name="Daily report",
        trigger_type="schedule",
        trigger_config={"pattern": "daily", "time": "09:00", "timezone": "UTC"},
        conditions=[],
    )
    worker = AutomationWorker(tenant_id=tenant.pk)

    # when
    result = worker.event_listener.emit_event(
        "product_added", {"product_id": "prod_123", "store_id": "store_456"}, source="store"
    )
    worker.check_thresholds()
    due = schedule_rule.__class__.objects.get(pk=schedule_rule.pk).next_run_at
    schedule_counts = worker.check_schedules(now=due + dt.timedelta(seconds=30))
    behavior_counts = worker.check_behaviors()

    # then: each trigger produced one complete execution log through the real pipeline
    [from_event] = AutomationExecution.objects.filter(automation_rule=event_rule)
    assert from_event.event_id == result.id and from_event.trigger_source == TriggerSource.EVENT
    assert from_event.status == ExecutionStatus.SUCCEEDED and from_event.success is True
    [from_threshold] = AutomationExecution.objects.filter(automation_rule=threshold_rule)
    assert from_threshold.trigger_source == TriggerSource.THRESHOLD
    assert from_threshold.status == ExecutionStatus.SUCCEEDED
    [from_schedule] = AutomationExecution.objects.filter(automation_rule=schedule_rule)
    assert from_schedule.trigger_source == TriggerSource.SCHEDULER
    assert (schedule_counts.due, schedule_counts.fired, schedule_counts.errors) == (1, 1, 0)
    assert (behavior_counts.rules, behavior_counts.fired, behavior_counts.errors) == (0, 0, 0)  # no behaviour rules


def test_emit_without_any_tenant_is_a_clear_error(db, settings):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "DEFAULT_TENANT": None}
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        AutomationWorker().event_listener.emit_event("product_added", {"product_id": "p1"})
    assert "tenant" in str(caught.value).lower()
