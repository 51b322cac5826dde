"""record_execution keeps exact totals and averages, also when processes record at once."""

import threading

import pytest
from django.db import close_old_connections, connection

from automations.models import AutomationRule
from tests.factories import make_rule


def test_totals_and_rolling_average(rule):
    for success, elapsed in [(True, 100.0), (False, 200.0), (True, 600.0)]:
        rule.record_execution(success, elapsed)
    assert (rule.execution_count, rule.success_count, rule.failure_count) == (3, 2, 1)
    assert rule.average_execution_time_ms == pytest.approx(300.0)
    assert rule.last_executed_at is not None
    assert rule.success_rate == 0.6667  # automations.models.success_rate: 4 decimals, as the API's stats


@pytest.mark.django_db(transaction=True)
def test_concurrent_recorders_lose_nothing(tenant):
    # given: one rule and 8 threads, each with its own database connection, recording 25 runs each
    rule = make_rule(tenant)
    threads_count, runs_each = 8, 25
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def record(thread_index: int) -> None:
        try:
            own_copy = AutomationRule.objects.get(pk=rule.pk)
            barrier.wait()
            for run in range(runs_each):
                own_copy.record_execution(run % 5 != 0, float(thread_index * 100 + run))
        except BaseException as error:  # collected and re-raised in the main thread
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    # when
    threads = [threading.Thread(target=record, args=(index,)) for index in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then: every run is counted once and the average is the exact mean of all recorded times
    assert errors == []
    rule.refresh_from_db()
    total = threads_count * runs_each
    expected_mean = sum(i * 100 + r for i in range(threads_count) for r in range(runs_each)) / total
    assert rule.execution_count == total
    assert rule.success_count == threads_count * sum(1 for r in range(runs_each) if r % 5 != 0)
    assert rule.failure_count == total - rule.success_count
    assert rule.average_execution_time_ms == pytest.approx(expected_mean, rel=1e-9)
