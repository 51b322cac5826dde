"""One definition of "executions" on every surface (issue 15, item 5): the list page's 24-hour card, the
rules' own figures, the details page and the API's stats count the same runs (those whose action ran), and
the success rate comes from one function."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from automations.models import AutomationRule, success_rate
from tests.api import post_json, token_client
from tests.factories import make_rule

pytestmark = pytest.mark.django_db

ACTIVE = {"product_count": 2, "store_status": "active"}
CLOSED = {"product_count": 2, "store_status": "closed"}


def stat(html: str, key: str) -> str:
    return re.search(rf'data-stat="{key}">([^<]*)<', html).group(1)


def test_list_details_and_api_count_the_same_runs(tenant, owner):
    # given: a rule that ran twice and was skipped once, and a high-risk rule whose run awaits approval
    api = token_client(owner)
    ran = make_rule(tenant, owner, name="Ran")
    waiting = make_rule(tenant, owner, name="Waiting", risk_level="high")
    for context in (ACTIVE, ACTIVE, CLOSED):
        post_json(api, f"/api/automations/{ran.pk}/execute", {"context": context})
    post_json(api, f"/api/automations/{waiting.pk}/execute", {"context": ACTIVE})

    # when: each surface is read
    client = Client()
    client.force_login(owner)
    listing = client.get("/portal/automations").content.decode()
    details = client.get(f"/portal/automations/{ran.pk}").content.decode()
    got = api.get(f"/api/automations/{ran.pk}").json()["stats"]
    stats = api.get(f"/api/automations/{ran.pk}/stats").json()

    # then: the 24-hour card is the sum of the rules' figures (the skipped and awaiting runs count nowhere)
    per_rule = [int(n) for n in re.findall(r'data-field="execution-count">(\d+)<', listing)]
    assert sorted(per_rule) == [0, 2]
    assert int(stat(listing, "executions-24h")) == sum(per_rule) == 2
    assert int(stat(details, "total-executions")) == int(stat(details, "last-24h")) == 2
    assert got["total_executions"] == got["last_24h_executions"] == stats["total_executions"] == 2
    assert stats["skipped_count"] == 1
    assert AutomationRule.objects.get(pk=waiting.pk).execution_count == 0
    # and one success rate everywhere
    rule = AutomationRule.objects.get(pk=ran.pk)
    assert rule.success_rate == got["success_rate"] == stats["success_rate"] == success_rate(2, 0) == 1.0
    assert stat(details, "success-rate") == "100.0%"
    card = listing[listing.index(f'data-rule-id="{ran.pk}"') :]
    assert re.search(r'data-field="success-rate">([^<]*)<', card).group(1) == "100.0%"


@pytest.mark.parametrize(("succeeded", "failed", "rate"), [(0, 0, None), (2, 1, 0.6667), (3, 0, 1.0), (0, 4, 0.0)])
def test_success_rate(succeeded, failed, rate):
    assert success_rate(succeeded, failed) == rate
