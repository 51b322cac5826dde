"""The details page's History section (issue 16 item 5): versions with what changed, on/off with the actor,
and Restore through the same service and role checks as the API."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from automations.models import AutomationRule
from automations.services import rule_set_enabled, rule_update
from tests.api import staff_client
from tests.browser import screenshot
from tests.factories import make_rule, make_user


@pytest.mark.django_db
def test_history_lists_versions_and_state_changes_and_restore_makes_a_new_version(tenant, owner):
    rule = make_rule(tenant, owner, name="Restock")
    rule_update(rule, {"name": "Restock now"}, owner)
    rule_set_enabled(rule, False, owner)
    client = staff_client(owner)

    page = client.get(f"/portal/automations/{rule.pk}").content.decode()
    assert "Version 2: edited" in page and "Name was &#x27;Restock&#x27;; now &#x27;Restock now&#x27;" in page
    assert "Disabled" in page and 'data-restore-version="1"' in page and 'data-restore-version="2"' not in page

    response = client.post(f"/portal/automations/{rule.pk}/versions/1/restore")
    assert response.status_code == 302 and response["Location"].endswith("#rule-history")
    rule.refresh_from_db()
    assert (rule.version, rule.name) == (3, "Restock")
    assert "Version 1 restored as version 3." in client.get(response["Location"]).content.decode()


@pytest.mark.django_db
def test_restore_in_the_portal_keeps_the_role_checks_and_answers_unknown_versions_404(tenant, owner):
    rule = make_rule(tenant, owner, name="Risky", risk_level="high")
    rule_update(rule, {"risk_level": "low"}, owner)
    collaborator = staff_client(make_user("carl", tenant, "collaborator"))
    response = collaborator.post(f"/portal/automations/{rule.pk}/versions/1/restore", follow=True)
    assert "does not allow write on a high-risk rule" in response.content.decode()
    rule.refresh_from_db()
    assert (rule.version, rule.risk_level) == (2, "low")
    assert staff_client(owner).post(f"/portal/automations/{rule.pk}/versions/9/restore").status_code == 404
    assert staff_client(owner).get(f"/portal/automations/{rule.pk}/versions/1/restore").status_code == 405


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_history_section_and_restore_in_a_browser(page_for, owner, tenant):
    rule = make_rule(tenant, owner, name="Welcome")
    rule_update(rule, {"conditions": [{"type": "store_status", "operator": "=", "value": "paused"}]}, owner)
    page = page_for(owner)
    page.goto(f"/portal/automations/{rule.pk}#rule-history")
    history = page.locator("[data-rule-history]")
    expect(history.locator('[data-version="2"]')).to_contain_text("Conditions was Store is active; now Store is paused")
    page.locator('[data-restore-version="1"]').click()
    page.wait_for_url(re.compile(rf"/portal/automations/{rule.pk}#rule-history$"))
    expect(history.locator('[data-version="3"]')).to_contain_text("restored version 1")
    expect(history.locator('[data-version="3"]')).to_contain_text("current")
    assert AutomationRule.objects.get(pk=rule.pk).conditions[0]["value"] == "active"
    screenshot(page, "issue16-history")


@pytest.mark.django_db
def test_the_builder_previews_the_last_30_days_and_its_warnings(tenant, owner):
    from executions.models import Event

    for index in range(4):
        Event.objects.create(
            tenant=tenant, event_type="product_added", idempotency_key=f"p{index}", payload={"price": index * 10}
        )
    client = staff_client(owner)
    form = {
        "name": "Preview me",
        "trigger_type": "event",
        "t_event_type": "product_added",
        "action_type": "start_workflow",
        "a_start_workflow__workflow_type_id": "onboarding",
        "risk_level": "low",
        "cond-0-type": "price",
        "cond-0-operator": ">=",
        "cond-0-value": "10",
    }
    page = client.get("/portal/automations/builder/new").content.decode()
    assert 'id="backtest-preview"' in page
    response = client.post("/portal/automations/backtest-preview", form, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert "data-backtest-summary" in body, body
    assert "<strong>3 runs</strong> in the last 30 days, from 4 triggers" in body
    assert "data-rule-warnings" in body and "fires_too_often" not in body  # said in words, by field label
    assert "Conditions" in body and "would have run for 3 of 4 triggers" in body
    viewer = staff_client(make_user("vera", tenant, "viewer"))
    refused = viewer.post("/portal/automations/backtest-preview", form, HTTP_HX_REQUEST="true").content.decode()
    assert "Your role (viewer) does not allow test." in refused and "data-backtest-summary" not in refused


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_builder_preview_panel_in_a_browser(page_for, owner, tenant):
    from executions.models import Event

    rule = make_rule(
        tenant,
        owner,
        name="Big orders",
        trigger_type="event",
        trigger_config={"event_type": "order_placed"},
        conditions=[{"type": "amount", "operator": ">=", "value": 100}],
        action_type="start_workflow",
        action_config={"workflow_type_id": "vip"},
    )
    for index, amount in enumerate((50, 150, 250)):
        Event.objects.create(
            tenant=tenant, event_type="order_placed", idempotency_key=f"o{index}", payload={"amount": amount}
        )
    page = page_for(owner)
    page.goto(f"/portal/automations/builder/{rule.pk}")
    page.locator("#backtest-preview").click()
    panel = page.locator("[data-backtest-preview]")
    expect(panel.locator("[data-backtest-summary]")).to_contain_text("2 runs in the last 30 days, from 3 triggers")
    expect(panel.locator("figure.chart rect.bar")).to_have_count(31)
    expect(panel.locator("[data-backtest-sample]")).to_have_count(2)
    expect(panel.locator("[data-rule-warnings]")).to_contain_text("would have run for 2 of 3 triggers")
    screenshot(page, "issue16-builder-preview")


@pytest.mark.django_db
def test_an_execution_links_to_the_version_it_ran(tenant, owner):
    from automations.models import RuleVersion
    from tests.factories import make_execution

    rule = make_rule(tenant, owner, name="Restock")
    execution = make_execution(rule, rule_version=RuleVersion.objects.get(rule=rule, version=1))
    rule_update(rule, {"name": "Restock now"}, owner)
    page = staff_client(owner).get(f"/portal/automations/{rule.pk}/executions/{execution.pk}").content.decode()
    assert f'href="/portal/automations/{rule.pk}#rule-version-1" data-rule-version-link>version 1</a>' in page
    assert "(the rule is at version 2 now)" in page
    history = staff_client(owner).get(f"/portal/automations/{rule.pk}").content.decode()
    assert 'id="rule-version-1"' in history
