"""The portal pages through Django's test client: rendering, scoping, CSRF and validation."""

from __future__ import annotations

import pytest
from django.test import Client

from automations.models import AutomationRule
from executions.choices import ENDED_STATUSES, ExecutionStatus, TriggerSource
from executions.models import AutomationExecution
from executions.rollups import rollups_add_executions
from tests.factories import make_rule, make_user

VALID_POST = {
    "name": "Low Product Alert",
    "description": "Alert when product count drops below 3",
    "category": "product",
    "enabled": "on",
    "trigger_type": "threshold",
    "t_metric": "product_count",
    "t_operator": "<",
    "t_value": "3",
    "cond-0-type": "store_status",
    "cond-0-operator": "=",
    "cond-0-value": "active",
    "action_type": "send_notification",
    "a_send_notification__recipients": ["owner"],
    "a_send_notification__message": "Low product count",
    "risk_level": "low",
}


@pytest.fixture
def owner_client(owner):
    client = Client()
    client.force_login(owner)
    return client


def make_execution(rule, **fields):
    defaults = {"tenant": rule.tenant, "trigger_source": TriggerSource.MANUAL, "status": ExecutionStatus.SUCCEEDED}
    execution = AutomationExecution(automation_rule=rule, **{**defaults, **fields})
    execution.set_status(execution.status)
    execution.save()
    if execution.status in ENDED_STATUSES:  # in its daily roll-up, as the pipeline does when a run ends
        rollups_add_executions([execution])
    return execution


def test_pages_need_a_login(client, rule):
    for url in ["/portal/automations", f"/portal/automations/{rule.pk}", "/portal/automations/builder/new"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_login_page_logs_in_and_goes_to_the_dashboard(client, owner):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'<label for="id_username">' in response.content
    response = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 302 and response["Location"] == "/portal/dashboard"


def test_every_page_renders(owner_client, rule):
    execution = make_execution(rule, execution_time_ms=12.0, conditions_met=True)
    pages = [
        "/portal/automations",
        "/portal/automations?category=product",
        "/portal/automations/builder/new",
        f"/portal/automations/builder/{rule.pk}",
        f"/portal/automations/builder/{rule.pk}/delete",
        f"/portal/automations/{rule.pk}",
        f"/portal/automations/{rule.pk}/executions/{execution.pk}",
        "/portal/automations/recommendations",
    ]
    for url in pages:
        response = owner_client.get(url)
        assert response.status_code == 200, url
        assert b"csrfmiddlewaretoken" in response.content or url.endswith("recommendations"), url


def test_list_shows_stats_cards_and_a_dash_for_a_rule_never_run(owner_client, tenant, owner, rule):
    ran = make_rule(tenant, owner, name="Ran", category="marketing")
    AutomationRule.objects.filter(pk=ran.pk).update(execution_count=4, success_count=3, failure_count=1)
    make_execution(ran)
    response = owner_client.get("/portal/automations")
    html = response.content.decode()
    assert 'data-stat="total">2<' in html
    assert 'data-stat="executions-24h">1<' in html
    assert "75.0%" in html and "—" in html and "NaN" not in html
    marketing = owner_client.get("/portal/automations?category=marketing").content.decode()
    assert "Ran" in marketing and "Low Product Alert" not in marketing


def test_empty_state(owner_client, tenant):
    html = owner_client.get("/portal/automations").content.decode()
    assert "data-empty" in html and "No automations yet" in html


def test_another_tenants_rule_is_a_404_everywhere(client, rule, other_owner):
    client.force_login(other_owner)
    execution = make_execution(rule)
    for url in [
        f"/portal/automations/{rule.pk}",
        f"/portal/automations/builder/{rule.pk}",
        f"/portal/automations/builder/{rule.pk}/delete",
        f"/portal/automations/{rule.pk}/executions/{execution.pk}",
    ]:
        assert client.get(url).status_code == 404, url
    for url in [
        f"/portal/automations/{rule.pk}/toggle",
        f"/portal/automations/{rule.pk}/enabled",
        f"/portal/automations/{rule.pk}/test",
        f"/portal/automations/builder/{rule.pk}",
        f"/portal/automations/builder/{rule.pk}/delete",
    ]:
        assert client.post(url, {"enabled": "false"}).status_code == 404, url
    rule.refresh_from_db()
    assert rule.enabled and rule.deleted_at is None


def test_an_execution_of_another_rule_is_a_404(owner_client, tenant, owner, rule):
    other_rule = make_rule(tenant, owner, name="Other")
    execution = make_execution(other_rule)
    assert owner_client.get(f"/portal/automations/{rule.pk}/executions/{execution.pk}").status_code == 404


def test_posts_need_the_csrf_token(owner, rule):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"/portal/automations/{rule.pk}/toggle", {"enabled": "false"}).status_code == 403
    assert client.post("/portal/automations/builder/new", VALID_POST).status_code == 403
    rule.refresh_from_db()
    assert rule.enabled
    assert AutomationRule.objects.count() == 1


def test_toggle_with_htmx_returns_the_switch_and_saves(owner_client, rule):
    response = owner_client.post(f"/portal/automations/{rule.pk}/toggle", {"enabled": "false"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'aria-checked="false"' in response.content.decode()
    assert "<html" not in response.content.decode()
    assert 'hx-swap-oob="true"' in response.content.decode()
    assert 'data-stat="disabled">1<' in response.content.decode()
    rule.refresh_from_db()
    assert rule.enabled is False


def test_a_viewer_can_read_but_not_change(client, tenant, rule):
    viewer = make_user("victor", tenant, "viewer")
    client.force_login(viewer)
    assert client.get("/portal/automations").status_code == 200
    assert client.post(f"/portal/automations/{rule.pk}/toggle", {"enabled": "false"}).status_code == 403
    assert client.get("/portal/automations/builder/new").status_code == 403
    rule.refresh_from_db()
    assert rule.enabled


def test_save_creates_the_rule_and_goes_to_the_list(owner_client, tenant):
    response = owner_client.post("/portal/automations/builder/new", VALID_POST)
    assert response.status_code == 302 and response["Location"] == "/portal/automations"
    rule = AutomationRule.objects.get(tenant=tenant)
    assert rule.trigger_config == {"metric": "product_count", "operator": "<", "value": 3}
    assert rule.conditions == [{"type": "store_status", "operator": "=", "value": "active"}]
    assert rule.action_config == {"recipients": ["owner"], "message": "Low product count"}


def test_save_with_errors_shows_them_beside_each_field_and_keeps_the_input(owner_client, tenant):
    post = {
        **VALID_POST,
        "name": "",
        "trigger_type": "schedule",
        "t_pattern": "weekly",
        "t_time": "25:00",
        "t_timezone": "Mars/Base",
        "cond-0-operator": "between",
        "cond-0-value": "10, 1",
        "a_send_notification__recipients": [],
        "a_send_notification__message": "kept message",
    }
    response = owner_client.post("/portal/automations/builder/new", post)
    assert response.status_code == 400
    html = response.content.decode()
    for error_id in ("f-name-error", "f-t_time-error", "f-t_day-error", "f-t_timezone-error", "cond-0-value-error"):
        assert f'id="{error_id}"' in html, error_id
    assert 'id="f-a_send_notification__recipients-error"' in html
    assert 'value="Mars/Base"' in html and "kept message" in html and 'value="10, 1"' in html
    assert AutomationRule.objects.filter(tenant=tenant).count() == 0


def test_edit_saves_a_new_version(owner_client, rule):
    post = {**VALID_POST, "name": "Renamed", "t_value": "5"}
    response = owner_client.post(f"/portal/automations/builder/{rule.pk}", post)
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.name == "Renamed" and rule.trigger_config["value"] == 5 and rule.version == 2


def test_council_of_another_tenant_is_refused(owner_client, tenant, other_tenant):
    council = other_tenant.councils.get()
    response = owner_client.post("/portal/automations/builder/new", {**VALID_POST, "assigned_council": council.pk})
    assert response.status_code == 400
    assert 'id="f-assigned_council-error"' in response.content.decode()
    assert AutomationRule.objects.filter(tenant=tenant).count() == 0


def test_delete_asks_first_then_archives(owner_client, rule):
    page = owner_client.get(f"/portal/automations/builder/{rule.pk}/delete")
    assert "Delete “Low Product Alert”?" in page.content.decode()
    rule.refresh_from_db()
    assert rule.deleted_at is None
    response = owner_client.post(f"/portal/automations/builder/{rule.pk}/delete")
    assert response.status_code == 302
    assert AutomationRule.objects.filter(pk=rule.pk).count() == 0
    assert AutomationRule.all_objects.get(pk=rule.pk).deleted_at is not None


def test_details_page_stats_chart_and_paged_history(owner_client, rule):
    # the API's stats selector counts executions whose action ran: 20 succeeded, 5 failed, 0..24 ms
    for index in range(25):
        status = ExecutionStatus.SUCCEEDED if index < 20 else ExecutionStatus.FAILED
        make_execution(rule, status=status, execution_time_ms=float(index))
    html = owner_client.get(f"/portal/automations/{rule.pk}").content.decode()
    assert 'data-stat="total-executions">25<' in html
    assert 'data-stat="success-rate">80.0%<' in html
    assert 'data-stat="avg-time">12ms<' in html
    assert 'data-stat="last-24h">25<' in html
    assert html.count('<g class="day"') == 30 and html.count('<rect class="bar ') == 30
    assert 'data-count="25"' in html
    assert html.count("data-execution-id=") == 20
    assert "Page 1 of 2" in html
    page_two = owner_client.get(f"/portal/automations/{rule.pk}?page=2", HTTP_HX_REQUEST="true").content.decode()
    assert page_two.count("data-execution-id=") == 5 and "<html" not in page_two


def test_details_enable_disable_buttons(owner_client, rule):
    response = owner_client.post(f"/portal/automations/{rule.pk}/enabled", {"enabled": "false"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.enabled is False
    assert 'id="enable-button"' in owner_client.get(f"/portal/automations/{rule.pk}").content.decode()


def test_tenant_switcher_only_switches_to_own_tenants(client, tenant, other_tenant, owner, rule):
    from governance.services import membership_set

    client.force_login(owner)
    assert client.post("/portal/tenant", {"tenant": other_tenant.pk}).status_code == 404
    membership_set(other_tenant, owner, "owner")
    assert client.post("/portal/tenant", {"tenant": other_tenant.pk}).status_code == 302
    # the rule of the first tenant is now out of scope, and the switcher lists both tenants
    assert client.get(f"/portal/automations/{rule.pk}").status_code == 404
    html = client.get("/portal/automations").content.decode()
    assert 'id="tenant-switch"' in html and 'value="tenant_other" selected' in html


def test_a_tenant_removed_from_the_user_falls_back_to_another(client, tenant, other_tenant, owner):
    from governance.models import Membership
    from governance.services import membership_set

    client.force_login(owner)
    membership_set(other_tenant, owner, "owner")
    client.post("/portal/tenant", {"tenant": other_tenant.pk})
    Membership.objects.filter(user=owner, tenant=other_tenant).delete()
    html = client.get("/portal/automations").content.decode()
    assert "Test Shop" in html


def test_summary_fragment_uses_the_summary_service(owner_client, tenant):
    post = {**VALID_POST}
    response = owner_client.post("/portal/automations/builder/summary", post, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "When product count drops below 3 in an active store" in html
    half_typed = owner_client.post("/portal/automations/builder/summary", {"trigger_type": "event"})
    assert half_typed.status_code == 200
    assert AutomationRule.objects.count() == 0


def test_summary_fragment_needs_csrf(owner, tenant):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post("/portal/automations/builder/summary", VALID_POST).status_code == 403


def test_builder_prefilled_from_a_recommendation(owner_client, tenant):
    html = owner_client.get("/portal/automations/builder/new?recommendation=new_product_announcement").content.decode()
    assert 'value="New Product Announcement"' in html
    assert 'id="trigger-event" value="event" checked' in html
    unknown = owner_client.get("/portal/automations/builder/new?recommendation=nope").content.decode()
    assert 'id="f-name" name="name" value=""' in unknown


def test_recommendations_fragment_lists_match_and_reasoning(owner_client, tenant):
    html = owner_client.get("/portal/automations/recommendations").content.decode()
    assert "% match" in html and "Why:" in html and "?recommendation=" in html


def test_test_conditions_on_the_unsaved_form(owner_client, tenant):
    post = {
        **VALID_POST,
        "cond-1-type": "product_count",
        "cond-1-operator": "<",
        "cond-1-value": "3",
        "sample_context": '{"store_status": "active", "product_count": 5}',
    }
    html = owner_client.post("/portal/automations/builder/test", post, HTTP_HX_REQUEST="true").content.decode()
    # The threshold's own comparison comes first, as in the API's test-conditions (one answer).
    assert 'data-condition-result="0" data-passed="false"' in html
    assert 'data-condition-result="1" data-passed="true"' in html
    assert 'data-condition-result="2" data-passed="false"' in html
    assert "<code data-actual>5</code>" in html and "<code data-expected>3</code>" in html
    assert 'data-overall="fail"' in html
    assert AutomationRule.objects.count() == 0


def test_test_conditions_reports_bad_json_and_bad_conditions(owner_client, tenant):
    bad_json = owner_client.post("/portal/automations/builder/test", {**VALID_POST, "sample_context": "{nope"})
    assert "not valid JSON" in bad_json.content.decode()
    not_object = owner_client.post("/portal/automations/builder/test", {**VALID_POST, "sample_context": "[1]"})
    assert "must be a JSON object" in not_object.content.decode()
    bad_condition = owner_client.post(
        "/portal/automations/builder/test", {**VALID_POST, "cond-0-operator": "between", "sample_context": "{}"}
    )
    assert "conditions[0].value" in bad_condition.content.decode()


def test_details_test_runs_the_saved_rules_conditions(owner_client, rule):
    response = owner_client.post(f"/portal/automations/{rule.pk}/test", {"sample_context": '{"store_status": "x"}'})
    html = response.content.decode()
    assert 'data-condition-result="0" data-passed="false"' in html and "<code data-actual>&quot;x&quot;</code>" in html
