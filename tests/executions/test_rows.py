"""One guarded UPDATE for many rows (executions.rows), on the test database (SQLite or PostgreSQL)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from executions import rows
from executions.choices import ExecutionStatus
from executions.models import AutomationExecution
from executions.rows import supported, update_rows
from tests.executions.conftest import make_event_rule
from tests.factories import make_execution

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["one statement", "one row at a time"])
def database(request, monkeypatch):
    """The test database as it is, and as a database without multi-row UPDATE ... FROM ... RETURNING."""
    assert supported()
    if request.param == "one row at a time":
        monkeypatch.setattr(rows, "supported", lambda: False)
    return request.param


def test_each_row_gets_its_own_values_where_its_guard_holds(tenant, owner, database):
    rule = make_event_rule(tenant, owner)
    first, second, moved = (make_execution(rule, status=ExecutionStatus.RUNNING, action_attempts=1) for _ in range(3))
    AutomationExecution.objects.filter(pk=moved.pk).update(action_attempts=2)  # another worker's newer attempt
    now = timezone.now()

    won = update_rows(
        AutomationExecution,
        [
            {
                "id": row.pk,
                "action_attempts": 1,
                "status": status,
                "success": success,
                "action_result": result,
                "action_completed_at": now,
                "next_attempt_at": None,
                "execution_time_ms": ms,
            }
            for row, status, success, result, ms in (
                (first, ExecutionStatus.SUCCEEDED, True, {"outcome": "succeeded", "n": [1, 2]}, 1.5),
                (second, ExecutionStatus.FAILED, False, None, 2.5),
                (moved, ExecutionStatus.SUCCEEDED, True, {}, 3.5),
            )
        ],
        keys=("id", "action_attempts"),
        where={"status": [ExecutionStatus.RUNNING]},
    )

    assert won == {first.pk, second.pk}
    rows = {e.pk: e for e in AutomationExecution.objects.all()}
    assert (rows[first.pk].status, rows[first.pk].success) == (ExecutionStatus.SUCCEEDED, True)
    assert rows[first.pk].action_result == {"outcome": "succeeded", "n": [1, 2]}
    assert rows[first.pk].action_completed_at == now and rows[first.pk].execution_time_ms == 1.5
    assert (rows[second.pk].status, rows[second.pk].action_result) == (ExecutionStatus.FAILED, None)
    assert (rows[moved.pk].status, rows[moved.pk].action_attempts) == (ExecutionStatus.RUNNING, 2)


def test_no_rows_update_nothing():
    assert update_rows(AutomationExecution, []) == set()
