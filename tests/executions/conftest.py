"""Fixtures for the pipeline tests (an event rule that matches product_added from the store) and the listener tests."""

from __future__ import annotations

from typing import Any

import pytest

from config.celery import app as celery_app
from executions.models import MetricSample
from tests.executions.delivery.sink import Sink, assert_webhooks_verified
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
def pipeline_trigger_rule():
    """The pipeline's real ``trigger_rule``, for listener tests that wrap it (e.g. to make it fail once)."""
    from executions.pipeline import trigger_rule

    return trigger_rule


@pytest.fixture
def eager_celery():
    """Run tasks in-process when ``.delay()`` is called (arguments still serialised)."""
    keys = ("task_always_eager", "task_eager_propagates")
    before = {key: celery_app.conf[key] for key in keys}
    celery_app.conf.update(dict.fromkeys(keys, True))
    yield celery_app
    celery_app.conf.update(before)


def _database_outlives_sink(request: pytest.FixtureRequest) -> None:
    """Set the test's database up before the sink, so it is torn down after the sink's check reads it."""
    if "_django_db_helper" in request.fixturenames:
        request.getfixturevalue("_django_db_helper")


@pytest.fixture
def sink(request):
    """A real HTTP server on 127.0.0.1 that records the webhooks it receives (answers 200 by default).

    When the test ends, every webhook it received must verify with ``standardwebhooks``.
    """
    _database_outlives_sink(request)
    server = Sink().start()
    yield server
    server.close()
    assert_webhooks_verified(server)


@pytest.fixture
def other_sink(request):
    _database_outlives_sink(request)
    server = Sink().start()
    yield server
    server.close()
    assert_webhooks_verified(server)


@pytest.fixture
def loopback_allowed(settings):
    """Only tests that deliver to a local sink turn this on; the default refuses loopback."""
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True}
    return settings
