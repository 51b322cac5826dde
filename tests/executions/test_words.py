"""Words (issue 15, item 10): an execution's status as a sentence, one condition as "The condition", and
every count through one pluralisation helper."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import Client

from automations.selectors import conditions_summary
from executions.choices import EXECUTION_STATUS_PREDICATES, ExecutionStatus, execution_sentence
from governance.common.words import plural, plural_suffix
from tests.api import post_json, token_client

ACTIVE = {"product_count": 2, "store_status": "active"}


def test_every_status_has_its_words():
    assert set(EXECUTION_STATUS_PREDICATES) == set(ExecutionStatus.values)
    assert execution_sentence("Execution 1", ExecutionStatus.SUCCEEDED) == "Execution 1 succeeded"
    assert execution_sentence("Execution 2", ExecutionStatus.FAILED) == "Execution 2 failed"
    assert execution_sentence("Execution 3", "awaiting_approval") == "Execution 3 is awaiting approval"
    assert execution_sentence("Execution 4", "made_up") == "Execution 4 has the status “made_up”"


@pytest.mark.parametrize(
    ("results", "summary"),
    [
        ([], "No conditions to check"),
        ([{"passed": True}], "The condition passed"),
        ([{"passed": False, "reason": "x is 1"}], "The condition failed: x is 1"),
        ([{"passed": True}, {"passed": True}], "All 2 conditions passed"),
        ([{"passed": True}, {"passed": False, "reason": "y"}], "1 of 2 conditions failed: y"),
    ],
)
def test_conditions_summary(results, summary):
    assert conditions_summary(results) == summary


@pytest.mark.parametrize(
    ("count", "text"), [(0, "0 executions"), (1, "1 execution"), (2, "2 executions"), (1000, "1,000 executions")]
)
def test_one_plural_helper_for_code_and_templates(count, text):
    assert plural(count, "execution") == text
    assert Template('{% load portal %}{{ n|plural:"execution" }}').render(Context({"n": count})) == text
    assert plural_suffix(count) == ("" if count == 1 else "s")
    assert plural(2, "child", "children") == "2 children"


@pytest.mark.django_db
def test_execute_answers_in_a_sentence(owner, rule):
    data = post_json(token_client(owner), f"/api/automations/{rule.pk}/execute", {"context": ACTIVE}).json()
    assert data["message"] == f"Execution {data['execution']['id']} succeeded"
    tested = post_json(token_client(owner), f"/api/automations/{rule.pk}/test-conditions", {"context": ACTIVE})
    assert tested.json()["summary"] == "All 2 conditions passed"  # the threshold's comparison and one condition


@pytest.mark.django_db
def test_run_now_and_history_in_words(owner, rule):
    client = Client()
    client.force_login(owner)
    response = client.post(
        f"/portal/automations/{rule.pk}/run", {"sample_context": '{"store_status": "active", "product_count": 2}'}
    )
    page = client.get(response["Location"]).content.decode()
    assert "succeeded." in page and " is succeeded" not in page
    assert "· 1 execution</span>" in client.get(f"/portal/automations/{rule.pk}").content.decode()
