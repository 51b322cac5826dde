"""Fixtures for delivery tests: a real HTTP sink, an execution, and an endpoint pointing at the sink."""

from __future__ import annotations

import pytest

from executions.choices import TriggerSource
from executions.delivery.services import endpoint_create
from executions.models import AutomationExecution


@pytest.fixture
def execution(rule):
    return make_execution(rule)


def make_execution(rule, **overrides) -> AutomationExecution:
    data = {"automation_rule": rule, "tenant": rule.tenant, "trigger_source": TriggerSource.EVENT, **overrides}
    return AutomationExecution.objects.create(**data)


@pytest.fixture
def endpoint_with_secret(tenant, sink, loopback_allowed):
    return endpoint_create(tenant, sink.url(), description="test sink")
