"""A test-only stand-in for ``executions.services.trigger_rule`` until the pipeline lands.

It does what the listeners rely on: one pending AutomationExecution per (rule, occurrence_key),
created through the ORM and refused by the unique constraint the second time (then None).
Used by the ``fake_trigger_rule`` fixture and by bench/bench_listeners.py when the real one is absent.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from django.db import IntegrityError, transaction

from executions.choices import ExecutionStatus
from executions.models import AutomationExecution


def fake_trigger_rule(
    rule: Any, trigger_source: str, trigger_data: dict[str, Any], occurrence_key: str | None = None, event: Any = None
) -> AutomationExecution | None:
    try:
        with transaction.atomic():
            return AutomationExecution.objects.create(
                automation_rule_id=rule.pk,
                tenant_id=rule.tenant_id,
                event=event,
                occurrence_key=occurrence_key,
                trigger_source=trigger_source,
                trigger_data=trigger_data,
                status=ExecutionStatus.PENDING,
            )
    except IntegrityError:
        return None


def services_module() -> tuple[types.ModuleType, bool]:
    """``executions.services``, or a new empty module when the pipeline is not merged yet (and True)."""
    try:
        import executions.services as module
    except ImportError:
        return types.ModuleType("executions.services"), True
    return module, False


def install_fake_trigger_rule_unsafe() -> bool:
    """Install the fake process-wide (bench only; tests use the fixture). True if it was installed."""
    module, created = services_module()
    if not created and hasattr(module, "trigger_rule"):
        return False
    import executions

    sys.modules["executions.services"] = module
    executions.services = module  # type: ignore[attr-defined]
    module.trigger_rule = fake_trigger_rule  # type: ignore[attr-defined]
    return True
