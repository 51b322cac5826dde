"""Fixtures for the pipeline tests (an event rule that matches product_added from the store) and the listener tests."""

from __future__ import annotations

import sys
from typing import Any

import pytest

import executions
from config.celery import app as celery_app
from executions.models import MetricSample
from tests.executions.fake_pipeline import fake_trigger_rule as fake
from tests.executions.fake_pipeline import services_module
from tests.factories import make_rule

EVENT_RULE: dict[str, Any] = {
    "name": "Restock after a new product",
    "description": "When a product is added to an active store, add seasonal products",
    "category": "product",
    "trigger_type": "event",
    "trigger_config": {"event_type": "product_added", "source": "store"},
    "conditions": [{"type": "store_status", "operator": "=", "value": "active"}],
    "action_type": "add_product",
    "action_config": {"template_id": "holiday_product", "count": 2, "category": "seasonal"},
    "risk_level": "low",
}


def make_event_rule(tenant: Any, user: Any = None, **overrides: Any) -> Any:
    return make_rule(tenant, user, **{**EVENT_RULE, **overrides})


@pytest.fixture
def event_rule(tenant, owner):
    return make_event_rule(tenant, owner)


@pytest.fixture
def risky_rule(tenant, owner):
    """A high-risk rule with no auto-approval rules: every run waits for the council."""
    return make_event_rule(tenant, owner, name="Risky restock", risk_level="high")


@pytest.fixture
def active_store(tenant):
    return MetricSample.objects.create(tenant=tenant, metric="store_status", value_text="active")


@pytest.fixture
def celery_app_on_broker():
    """A context manager pointing this process's Celery app at a real broker (not eager) for a while."""
    from tests.executions.workers import app_on_broker

    return app_on_broker


@pytest.fixture
def fake_trigger_rule(monkeypatch):
    """Replace ``executions.services.trigger_rule`` with the ORM-only fake (see fake_pipeline.py).

    TODO(lead): once the pipeline (issue 3) is merged, drop this fixture from the listener tests so
    they run against the real trigger_rule.
    """
    module, created = services_module()
    if created:
        monkeypatch.setitem(sys.modules, "executions.services", module)
        monkeypatch.setattr(executions, "services", module, raising=False)
    monkeypatch.setattr(module, "trigger_rule", fake, raising=False)
    return fake


@pytest.fixture
def eager_celery():
    """Run tasks in-process when ``.delay()`` is called (arguments still serialised)."""
    keys = ("task_always_eager", "task_eager_propagates")
    before = {key: celery_app.conf[key] for key in keys}
    celery_app.conf.update(dict.fromkeys(keys, True))
    yield celery_app
    celery_app.conf.update(before)
