"""The context a rule's conditions see (docs/pipeline.md, "The context").

Governance reads none of it: its facts are ``automations.approval_facts.TrustedFacts`` (the run's
authenticated actor, the server clock, the rule's own budget, our own execution counts), so a
``now``, ``user_id`` or ``budget`` in a payload or a caller's context is ordinary data.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from executions.providers import metric_providers
from executions.selectors import tenant_latest_metric_values
from governance.choices import WEEKDAYS_BY_INDEX

if TYPE_CHECKING:
    import datetime as dt

    from automations.models import AutomationRule
    from governance.models import Tenant

logger = logging.getLogger(__name__)


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON types (datetimes and decimals become strings)."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def builtin_facts(tenant: Tenant, moment: dt.datetime | None = None) -> dict[str, Any]:
    """The built-ins: the moment in UTC and its date, time and weekday in the tenant's time zone."""
    now = moment or timezone.now()
    local = now.astimezone(tenant.zone)
    return {
        "now": now.isoformat(),
        "date": local.date().isoformat(),
        "time": local.strftime("%H:%M"),
        "weekday": WEEKDAYS_BY_INDEX[local.weekday()],
        "hour": local.hour,
        "day": local.day,
        "month": local.month,
        "year": local.year,
        "timezone": tenant.timezone,
        "tenant_id": tenant.pk,
    }


def provider_facts(tenant: Tenant) -> dict[str, Any]:
    """Facts from the metric providers (``AUTOMATIONS["METRIC_PROVIDERS"]``, each ``(tenant) -> value``).

    A provider that fails or returns None is left out (and logged): one broken source must not stop
    every rule of the tenant.
    """
    facts: dict[str, Any] = {}
    for metric, provider in metric_providers().items():
        try:
            value = provider(tenant)
        except Exception:  # a provider is a boundary: third-party code, logged and skipped
            logger.exception(
                "metric provider %r for %s failed for tenant %s",
                provider,
                metric,
                tenant.pk,
                extra={"tenant_id": tenant.pk},
            )
            continue
        if value is not None:
            facts[metric] = json_safe(value)
    return facts


def tenant_facts(tenant: Tenant) -> dict[str, Any]:
    """The tenant's latest facts: metric samples, then registered providers (a provider wins)."""
    return {**tenant_latest_metric_values(tenant.pk), **provider_facts(tenant)}


def build_context(
    rule: AutomationRule,
    trigger_data: dict[str, Any] | None,
    manual_context: dict[str, Any] | None = None,
    facts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The context for one run of ``rule``; later layers win.

    1. built-ins (``now``, ``date``, ``time``, ``weekday``, ... in the tenant's time zone);
    2. the tenant's latest facts (``MetricSample`` rows, then ``AUTOMATIONS["METRIC_PROVIDERS"]``);
    3. the trigger's data (event payload and ``event`` metadata, metric values, schedule slot, ...);
    4. for manual runs, the caller's context.

    ``facts``: layer 2 as the caller already read it (``tenant_facts``), e.g. once for a batch.
    Later layers may shadow the built-ins (a replay pinning ``now``); that affects conditions only.
    """
    tenant = rule.tenant
    context: dict[str, Any] = builtin_facts(tenant)
    context.update(tenant_facts(tenant) if facts is None else facts)
    if isinstance(trigger_data, dict):
        context.update(json_safe(trigger_data))
    if isinstance(manual_context, dict):
        context.update(json_safe(manual_context))
    return context
