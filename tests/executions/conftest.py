"""Fixtures for the listener tests."""

from __future__ import annotations

import sys

import pytest

import executions
from config.celery import app as celery_app
from tests.executions.fake_pipeline import fake_trigger_rule as fake
from tests.executions.fake_pipeline import services_module


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
