"""Issue 12 item 5 on a real Celery worker (Redis broker): one tenant's catastrophic patterns on long
payloads do not delay another tenant's event.

With Python's ``re`` each of tenant A's events held a pool process until the 40 s soft time limit, so
tenant B's event, queued behind them, waited minutes. On RE2 evaluation is linear in the text.
"""

from __future__ import annotations

import time

import pytest

from executions.choices import ENDED_STATUSES, ExecutionStatus
from executions.models import AutomationExecution
from executions.services import emit_event
from tests.executions.conftest import make_event_rule
from tests.executions.workers import Broker, app_on_broker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The three patterns the review found accepted by the old guard, each made to fail on its text.
EVIL_CONDITIONS = [
    {
        "any": [
            {"type": "sku", "operator": "matches", "value": r"((a+))+$"},
            {"type": "sku", "operator": "matches", "value": r"a*a*a*a*a*a*a*a*b"},
            {"type": "code", "operator": "matches", "value": r"\d*\d*\d*\d*\d*\d*x"},
        ]
    }
]
EVIL_PAYLOAD = {"sku": "a" * 9_999 + "!", "code": "1" * 10_000}
EVIL_EVENTS = 6  # three per pool process
# Loose: B's event takes well under a second once the worker is up; with Python's re it waited for
# A's events to reach the soft time limit (40 s each, two at a time).
B_BOUND_SECONDS = 20


@pytest.fixture
def redis_broker(tmp_path):
    broker = Broker("redis", tmp_path)
    broker.purge()
    with app_on_broker(broker.url, broker.transport_options):
        yield broker
    broker.purge()


def ended(**filters) -> list[AutomationExecution]:
    return list(AutomationExecution.objects.filter(status__in=sorted(ENDED_STATUSES), **filters))


def test_catastrophic_patterns_of_one_tenant_do_not_delay_another_tenants_event(
    redis_broker, tenant, owner, other_tenant, other_owner
):
    # given: tenant A's rule has the catastrophic patterns, tenant B's rule runs on any product_added
    evil = make_event_rule(tenant, owner, name="Evil patterns", conditions=EVIL_CONDITIONS)
    plain = make_event_rule(other_tenant, other_owner, name="Plain", conditions=[])
    worker = redis_broker.worker(name="worker").start(concurrency=2)
    try:
        worker.wait_ready()

        # when: A's events with 10,000-character texts go first, then B's event
        a_ids = [emit_event(tenant.pk, "product_added", EVIL_PAYLOAD, source="store").id for _ in range(EVIL_EVENTS)]
        started = time.monotonic()
        b_id = emit_event(other_tenant.pk, "product_added", {"product_id": "p1"}, source="store").id
        (b_execution,) = wait_for(lambda: ended(event_id=b_id), timeout=90, message="B's execution")
        b_waited = time.monotonic() - started
        a_executions = wait_for(
            lambda: (found := ended(event_id__in=a_ids)) and len(found) == EVIL_EVENTS and found,
            timeout=90,
            message="A's executions",
        )
    finally:
        worker.stop()

    # then: B ran at once, and every one of A's events was evaluated (not cut off by a time limit)
    assert b_execution.automation_rule_id == plain.pk
    assert b_execution.status == ExecutionStatus.SUCCEEDED, worker.log()
    assert b_waited < B_BOUND_SECONDS, f"B's event waited {b_waited:.1f}s"
    for execution in a_executions:
        assert execution.automation_rule_id == evil.pk
        assert execution.status == ExecutionStatus.SKIPPED, (execution.status, execution.error_message)
        assert execution.conditions_met is False
        assert execution.condition_results[0]["reason"].startswith("none of 3 passed")
