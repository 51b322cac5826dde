"""The activity log (issue 17 item 1): every execution of the tenant across rules, newest first, with the
API's execution filters, free text, keyset paging, archived rules marked, and their executions' pages."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from automations.services import rule_archive
from executions import selectors
from tests.api import staff_client, token_client
from tests.factories import make_execution, make_rule, make_tenant, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(tenant, owner):
    restock = make_rule(tenant, owner, name="Restock alert")
    welcome = make_rule(tenant, owner, name="Welcome mail")
    now = timezone.now()
    rows = [
        make_execution(restock, "succeeded", triggered_at=now - dt.timedelta(minutes=3)),
        make_execution(
            welcome, "failed", triggered_at=now - dt.timedelta(minutes=2), error_message="HTTP 400 from receiver"
        ),
        make_execution(restock, "skipped", triggered_at=now - dt.timedelta(minutes=1)),
    ]
    return restock, welcome, rows


def ids_on(page: str) -> list[int]:
    return [int(number) for number in re.findall(r'data-execution-id="(\d+)"', page)]


def test_every_rule_newest_first_with_links(history, owner):
    _, welcome, rows = history
    page = staff_client(owner).get("/portal/activity").content.decode()
    assert ids_on(page) == [rows[2].pk, rows[1].pk, rows[0].pk]
    assert f'href="/portal/automations/{welcome.pk}/executions/{rows[1].pk}"' in page
    assert "HTTP 400 from receiver" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [("status=failed", [1]), ("q=restock", [2, 0]), ("q=HTTP+400", [1]), ("trigger_source=manual", [2, 1, 0])],
)
def test_filters_narrow_the_log(history, owner, query, expected):
    _, _, rows = history
    page = staff_client(owner).get(f"/portal/activity?{query}").content.decode()
    assert ids_on(page) == [rows[index].pk for index in expected]


def test_a_filter_it_cannot_read_is_a_400_that_says_which(history, owner):
    client = staff_client(owner)
    for query, field in (("status=maybe", "status"), ("since=yesterday", "since"), ("cursor=nonsense", "cursor")):
        response = client.get(f"/portal/activity?{query}")
        assert response.status_code == 400, query
        assert f"<strong>{field}</strong>" in response.content.decode()


def test_keyset_pages_walk_every_row_once(tenant, owner, monkeypatch):
    rule = make_rule(tenant, owner)
    moment = timezone.now()
    made = [make_execution(rule, triggered_at=moment - dt.timedelta(seconds=index // 2)) for index in range(7)]
    monkeypatch.setattr(selectors, "ACTIVITY_PAGE_SIZE", 3)
    client, seen, url = staff_client(owner), [], "/portal/activity"
    while url:
        page = client.get(url).content.decode()
        seen += ids_on(page)
        found = re.search(r'href="(\?[^"]*cursor=[^"]*)" data-next-page', page)
        url = "/portal/activity" + found.group(1).replace("&amp;", "&") if found else ""
    assert sorted(seen) == sorted(row.pk for row in made) and len(seen) == len(set(seen))


def test_an_archived_rules_runs_stay_marked_and_readable(history, owner):
    restock, _, rows = history
    rule_archive(restock, owner)
    client = staff_client(owner)
    page = client.get("/portal/activity").content.decode()
    assert page.count("data-archived") == 2
    assert "Restock alert (archived)" in page
    detail = client.get(f"/portal/automations/{restock.pk}/executions/{rows[0].pk}")
    assert detail.status_code == 200 and "data-rule-archived" in detail.content.decode()
    assert client.get(f"/portal/automations/{restock.pk}").status_code == 404


def test_the_rule_filter_lists_the_tenants_rules_escaped_with_the_chosen_one_selected(history, owner, tenant):
    restock, welcome, _ = history
    rule_archive(restock, owner)
    odd = make_rule(tenant, owner, name="<b>Odd</b> & co")
    other = make_tenant("tenant_other_options")
    make_rule(other, make_user("other_options_owner", other, "owner"), name="Their rule")

    page = staff_client(owner).get(f"/portal/activity?automation_rule_id={welcome.pk}").content.decode()

    options = re.findall(r'<option value="(automation_[^"]*)"( selected)?>([^<]*)</option>', page)
    assert options == [
        (odd.pk, "", "&lt;b&gt;Odd&lt;/b&gt; &amp; co"),
        (restock.pk, "", "Restock alert (archived)"),
        (welcome.pk, " selected", "Welcome mail"),
    ]


def test_another_tenants_executions_never_show(history, owner):
    stranger = make_user("sam", make_tenant("tenant_b"), "owner")
    other_rule = make_rule(stranger.memberships.first().tenant, stranger, name="Theirs")
    theirs = make_execution(other_rule, "failed")
    mine = ids_on(staff_client(owner).get("/portal/activity").content.decode())
    assert theirs.pk not in mine
    assert ids_on(staff_client(stranger).get("/portal/activity").content.decode()) == [theirs.pk]
    restock, _, rows = history
    assert staff_client(stranger).get(f"/portal/automations/{restock.pk}/executions/{rows[0].pk}").status_code == 404


def test_the_api_reads_the_same_free_text_filter(history, owner):
    _, _, rows = history
    response = token_client(owner).get("/api/executions", {"q": "HTTP 400"})
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["executions"]] == [rows[1].pk]


def test_the_api_pages_by_cursor_in_the_same_order_as_by_offset_without_a_count(tenant, owner):
    # given: 7 executions, pairs sharing a second (the id breaks the tie), and another tenant's
    rule = make_rule(tenant, owner)
    moment = timezone.now()
    for index in range(7):
        make_execution(
            rule, "failed" if index == 3 else "succeeded", triggered_at=moment - dt.timedelta(seconds=index // 2)
        )
    other = make_tenant("tenant_cursor_other")
    make_execution(make_rule(other, make_user("cursor_other_owner", other, "owner")), triggered_at=moment)
    client = token_client(owner)

    # when: walking by cursor, 3 at a time
    seen, cursor, pages = [], "", 0
    while cursor is not None:
        body = client.get("/api/executions", {"cursor": cursor, "limit": 3}).json()
        assert set(body) == {"executions", "limit", "next_cursor"}  # no count, no offset
        seen += [item["id"] for item in body["executions"]]
        cursor, pages = body["next_cursor"], pages + 1

    # then: the offset list's order, every row once, the other tenant's never
    by_offset = client.get("/api/executions", {"limit": 200}).json()
    assert seen == [item["id"] for item in by_offset["executions"]] and by_offset["count"] == 7
    assert pages == 3
    # and filters apply as they do by offset, on the rule's own list too
    failed = client.get("/api/executions", {"cursor": "", "status": "failed"}).json()
    assert len(failed["executions"]) == 1 and failed["next_cursor"] is None
    own = client.get(f"/api/automations/{rule.pk}/executions", {"cursor": "", "limit": 5}).json()
    assert len(own["executions"]) == 5 and own["next_cursor"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "yesterday~1"}, "cursor"),
        ({"cursor": "2026-01-01T00:00:00~x"}, "cursor"),  # no offset, no number
        ({"cursor": "0001-01-01T00:00:00+23:59~1"}, "cursor"),  # before the calendar's first day in UTC
        ({"cursor": "", "offset": "3"}, "offset"),
        ({"cursor": "", "limit": "0"}, "limit"),
    ],
)
def test_a_cursor_it_cannot_read_is_a_400_naming_the_parameter(owner, params, field):
    response = token_client(owner).get("/api/executions", params)
    assert response.status_code == 400 and field in response.json(), response.content
