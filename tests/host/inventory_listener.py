"""``inventory_count``'s listener (the runtime half): a stock count starts the matching rules."""

from __future__ import annotations

from automations.models import AutomationRule
from executions.choices import TriggerSource
from executions.models import AutomationExecution
from executions.services import trigger_rule

TRIGGER_TYPE = "inventory_count"


def inventory_counted(tenant_id: str, warehouse: str, count: int, count_id: str) -> list[AutomationExecution]:
    """One execution per enabled ``inventory_count`` rule of the tenant whose warehouse and level match."""
    rules = AutomationRule.objects.filter(
        tenant_id=tenant_id, trigger_type=TRIGGER_TYPE, enabled=True, deleted_at__isnull=True
    )
    started = []
    for rule in rules:
        config = rule.trigger_config
        if config.get("warehouse") == warehouse and count < config.get("below", 0):
            data = {"warehouse": warehouse, "count": count}
            execution = trigger_rule(rule, TriggerSource.EVENT, data, occurrence_key=f"inventory:{count_id}")
            if execution is not None:
                started.append(execution)
    return started
