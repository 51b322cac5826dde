"""Builders that go through the services, so validation runs as it does for users."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from automations.models import AutomationRule
from automations.services import rule_create
from governance.models import Tenant
from governance.services import membership_set, tenant_get_or_create

User = get_user_model()

LOW_PRODUCT_ALERT: dict[str, Any] = {
    "name": "Low Product Alert",
    "description": "Alert when product count drops below 3",
    "category": "product",
    "trigger_type": "threshold",
    "trigger_config": {"metric": "product_count", "operator": "<", "value": 3},
    "conditions": [{"type": "store_status", "operator": "=", "value": "active"}],
    "action_type": "send_notification",
    "action_config": {"recipients": ["owner"], "message": "Low product count"},
    "risk_level": "low",
}


def make_tenant(tenant_id: str = "tenant_test", **kwargs: Any) -> Tenant:
    return tenant_get_or_create(tenant_id, **kwargs)


def make_user(username: str, tenant: Tenant | None = None, role: str | None = None, **kwargs: Any) -> AbstractBaseUser:
    user = User.objects.create_user(username=username, password="pw-" + username, **kwargs)
    if tenant is not None and role is not None:
        membership_set(tenant, user, role)
    return user


def make_rule(tenant: Tenant, user: AbstractBaseUser | None = None, **overrides: Any) -> AutomationRule:
    data = {**LOW_PRODUCT_ALERT, **overrides}
    return rule_create(tenant, data, user)


def make_execution(rule: AutomationRule, status: str = "succeeded", **fields: Any) -> Any:
    """An execution row in ``status`` (success set to match), for reads and stats; an ended one is in its
    daily roll-up."""
    from executions.choices import ENDED_STATUSES, success_for_status
    from executions.models import AutomationExecution
    from executions.rollups import rollups_add_executions

    defaults: dict[str, Any] = {"trigger_source": "manual", "execution_time_ms": 100.0}
    execution = AutomationExecution.objects.create(
        automation_rule=rule,
        tenant_id=rule.tenant_id,
        status=status,
        success=success_for_status(status),
        **{**defaults, **fields},
    )
    if status in ENDED_STATUSES:  # counted in its daily roll-up, as the pipeline does when a run ends
        rollups_add_executions([execution])
    return execution


def tenant_admin_form(tenant: Tenant, **overrides: Any) -> dict[str, str]:
    """The admin's tenant change form as a browser posts it: every editable field at the tenant's stored
    value (JSON fields as JSON text), no membership rows, then ``overrides``."""
    import datetime as dt
    import json

    from django.db import models

    from governance.services import TENANT_EDITABLE_FIELDS

    form: dict[str, str] = {"memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}
    for name in TENANT_EDITABLE_FIELDS:
        value = getattr(tenant, name)
        if isinstance(Tenant._meta.get_field(name), models.JSONField):
            form[name] = json.dumps(value)
        elif isinstance(value, dt.time):
            form[name] = value.strftime("%H:%M")
        else:
            form[name] = str(value)
    return {**form, **{key: str(value) for key, value in overrides.items()}}
