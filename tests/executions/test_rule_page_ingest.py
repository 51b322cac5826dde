"""The rule page's "Send test event" and "Push a metric value": the API's ingestion services, its role check
(``ingest``) and field-level errors, one tenant's rules only; then in Chromium, the rule fires."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from executions.models import AutomationExecution, Event, MetricSample
from tests.browser import screenshot
from tests.factories import make_rule

EVENT_RULE = {
    "name": "Landing page for new products",
    "trigger_type": "event",
    "trigger_config": {"event_type": "product_added", "source": "store"},
}
THRESHOLD_RULE = {
    "name": "Low stock",
    "trigger_type": "threshold",
    "trigger_config": {"metric": "product_count", "operator": "<", "value": 3},
    "action_type": "send_notification",
    "action_config": {"recipients": ["owner"], "message": "Low"},
}


@pytest.fixture
def event_rule(tenant, owner):
    return make_rule(tenant, owner, **EVENT_RULE)


@pytest.fixture
def threshold_rule(tenant, owner):
    return make_rule(tenant, owner, **THRESHOLD_RULE)


def test_event_rule_page_offers_a_prefilled_test_event(client, owner, event_rule, threshold_rule):
    client.force_login(owner)
    page = client.get(f"/portal/automations/{event_rule.pk}").content.decode()
    assert "Send test event" in page and "Push a metric value" not in page
    assert 'value="product_added"' in page and 'value="store"' in page and "prod_123" in page
    # the dialog once, in the page's body; the title is the rule's name alone
    assert page.count('id="send-event-dialog"') == 1
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert event_rule.name in title and "dialog" not in title
    page = client.get(f"/portal/automations/{threshold_rule.pk}").content.decode()
    assert "Push a metric value" in page and "Send test event" not in page
    assert 'value="product_count"' in page and 'value="2"' in page  # a value on the firing side of "< 3"


def test_a_test_event_is_stored_as_the_api_would_with_the_person_as_actor(client, collaborator, event_rule):
    client.force_login(collaborator)
    form = {"event_type": "product_added", "source": "store", "customer_id": "", "payload": '{"product_id": "p1"}'}
    response = client.post(f"/portal/automations/{event_rule.pk}/send-event", form)
    assert response.status_code == 302
    event = Event.objects.get()
    assert (event.tenant_id, event.event_type, event.source, event.payload) == (
        event_rule.tenant_id,
        "product_added",
        "store",
        {"product_id": "p1"},
    )
    assert event.actor_id == collaborator.pk
    assert "accepted" in client.get(response.url).content.decode()


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"event_type": "product added!", "payload": "{}"}, "event_type", "letters, digits"),
        ({"event_type": "product_added", "payload": "{not json"}, "payload", "not valid JSON"),
        ({"event_type": "product_added", "payload": "[1, 2]"}, "payload", "must be a JSON object"),
        ({"event_type": "product_added", "payload": "{}", "customer_id": "x" * 101}, "customer_id", "at most 100"),
    ],
)
def test_a_bad_test_event_is_a_400_with_the_message_at_its_field(client, owner, event_rule, form, field, message):
    client.force_login(owner)
    response = client.post(f"/portal/automations/{event_rule.pk}/send-event", form, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    page = response.content.decode()
    assert f'id="f-{field}-error"' in page and message.lower() in page.lower()
    assert not Event.objects.exists()
    # without htmx, the whole page with the dialog open at the error
    response = client.post(f"/portal/automations/{event_rule.pk}/send-event", form)
    assert response.status_code == 400 and 'id="send-event-dialog" aria-labelledby="send-event-title" open' in (
        response.content.decode()
    )


def test_pushing_a_metric_value_fires_the_threshold_rule(
    client, owner, threshold_rule, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/portal/automations/{threshold_rule.pk}/push-metric",
            {"metric": "product_count", "value": "2"},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200 and "product_count = 2" in response.content.decode()
    assert MetricSample.objects.get().value == 2
    assert AutomationExecution.objects.get().automation_rule == threshold_rule


@pytest.mark.parametrize(
    ("form", "field"),
    [({"metric": "product count", "value": "2"}, "metric"), ({"metric": "product_count", "value": " "}, "value")],
)
def test_a_bad_metric_value_is_a_400_at_its_field(client, owner, threshold_rule, form, field):
    client.force_login(owner)
    response = client.post(f"/portal/automations/{threshold_rule.pk}/push-metric", form, HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and f'id="f-{field}-error"' in response.content.decode()
    assert not MetricSample.objects.exists()


def test_roles_without_ingest_are_refused_and_other_tenants_rules_are_not_found(
    client, council_member, other_owner, event_rule, threshold_rule
):
    # a council member (no ingest, as in the API) sees no forms and is refused
    client.force_login(council_member)
    page = client.get(f"/portal/automations/{event_rule.pk}").content.decode()
    assert "Send test event" not in page
    form = {"event_type": "product_added", "payload": "{}"}
    assert client.post(f"/portal/automations/{event_rule.pk}/send-event", form).status_code == 403
    metric = {"metric": "product_count", "value": "2"}
    assert client.post(f"/portal/automations/{threshold_rule.pk}/push-metric", metric).status_code == 403
    # another tenant's owner cannot reach these rules
    client.force_login(other_owner)
    assert client.post(f"/portal/automations/{event_rule.pk}/send-event", form).status_code == 404
    assert client.post(f"/portal/automations/{threshold_rule.pk}/push-metric", metric).status_code == 404
    assert not Event.objects.exists() and not MetricSample.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_send_a_test_event_and_push_a_metric_in_the_browser(page_for, tenant, owner, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    event_rule = make_rule(tenant, owner, **EVENT_RULE)
    threshold_rule = make_rule(tenant, owner, **THRESHOLD_RULE)
    page = page_for(owner)

    # the event rule: the dialog is prefilled; a bad payload is refused at its field, then a good one fires
    page.goto(f"/portal/automations/{event_rule.pk}")
    page.get_by_role("button", name="Send test event").click()
    dialog = page.locator("#send-event-dialog")
    expect(dialog.get_by_label("Event type")).to_have_value("product_added")
    assert json.loads(dialog.get_by_label("Payload (JSON)").input_value())["product_id"] == "prod_123"
    dialog.get_by_label("Payload (JSON)").fill("{oops")
    dialog.get_by_role("button", name="Send event").click()
    expect(dialog.locator("#f-payload-error")).to_contain_text("Not valid JSON")
    dialog.get_by_label("Payload (JSON)").fill('{"product_id": "prod_9"}')
    dialog.get_by_role("button", name="Send event").click()
    expect(dialog.locator("[data-ingest-accepted]")).to_contain_text("accepted")
    screenshot(page, "rule-send-test-event")
    assert Event.objects.get().payload == {"product_id": "prod_9"}
    assert AutomationExecution.objects.filter(automation_rule=event_rule).count() == 1

    # the threshold rule: a bad metric name at its field, then a value that crosses fires the rule
    page.goto(f"/portal/automations/{threshold_rule.pk}")
    page.get_by_role("button", name="Push a metric value").click()
    dialog = page.locator("#push-metric-dialog")
    expect(dialog.get_by_label("Value")).to_have_value("2")
    dialog.get_by_label("Metric").fill("product count")
    dialog.get_by_role("button", name="Push value").click()
    expect(dialog.locator("#f-metric-error")).to_be_visible()
    dialog.get_by_label("Metric").fill("product_count")
    dialog.get_by_role("button", name="Push value").click()
    expect(dialog.locator("[data-ingest-accepted]")).to_contain_text("product_count = 2")
    screenshot(page, "rule-push-metric")
    assert AutomationExecution.objects.filter(automation_rule=threshold_rule).count() == 1
