"""Every FilterSet refuses a value it cannot read (400 naming the field) instead of ignoring it (issue 15,
item 4): the API's lists, and the portal list that shares the rules' FilterSet."""

from __future__ import annotations

import pytest
from django.test import Client

from automations.filters import AutomationRuleFilterSet
from automations.models import AutomationRule
from executions.delivery.services import endpoint_create
from executions.filters import AutomationExecutionFilterSet, WebhookEndpointFilterSet
from tests.api import token_client
from tests.factories import make_rule

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("filterset", "name"),
    [
        (AutomationRuleFilterSet, "enabled"),
        (AutomationExecutionFilterSet, "success"),
        (WebhookEndpointFilterSet, "enabled"),
    ],
)
@pytest.mark.parametrize(
    ("typed", "read"),
    [("true", True), ("TRUE", True), ("1", True), ("false", False), ("False", False), ("0", False), ("", None)],
)
def test_boolean_filters_read_true_false_and_empty(filterset, name, typed, read):
    form = filterset({name: typed}, queryset=filterset._meta.model.objects.none()).form
    assert form.is_valid(), form.errors
    assert form.cleaned_data[name] is read


@pytest.mark.parametrize(
    ("filterset", "name"),
    [
        (AutomationRuleFilterSet, "enabled"),
        (AutomationExecutionFilterSet, "success"),
        (WebhookEndpointFilterSet, "enabled"),
    ],
)
@pytest.mark.parametrize("typed", ["maybe", "yes", "2", "truee", " true"])
def test_boolean_filters_refuse_anything_else(filterset, name, typed):
    filters = filterset({name: typed}, queryset=filterset._meta.model.objects.none())
    assert not filters.is_valid()
    assert filters.errors[name] == ["Must be true or false."]


def test_rules_list_refuses_enabled_maybe(tenant, owner):
    make_rule(tenant, owner, name="on")
    make_rule(tenant, owner, name="off", enabled=False)
    client = token_client(owner)
    response = client.get("/api/automations?enabled=maybe")
    assert response.status_code == 400
    assert response.json() == {"enabled": ["Must be true or false."]}
    # the good values still filter
    assert client.get("/api/automations?enabled=FALSE").json()["count"] == 1
    assert client.get("/api/automations?enabled=").json()["count"] == 2


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("success=maybe", "success"),
        ("status=nope", "status"),
        ("trigger_source=nope", "trigger_source"),
        ("since=yesterday", "since"),
    ],
)
def test_execution_lists_refuse_bad_filters(tenant, owner, rule, query, field):
    client = token_client(owner)
    for path in ("/api/executions", f"/api/automations/{rule.pk}/executions"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, (path, response.content)
        assert field in response.json(), path


@pytest.mark.parametrize(("query", "field"), [("enabled=maybe", "enabled"), ("action_type=nope", "action_type")])
def test_webhook_list_refuses_bad_filters(tenant, owner, query, field):
    endpoint_create(tenant, "https://hooks.example.com/in")
    response = token_client(owner).get(f"/api/webhook-endpoints?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_portal_list_never_500s_on_filter_values(tenant, owner):
    make_rule(tenant, owner, name="Shown")
    client = Client()
    client.force_login(owner)
    response = client.get("/portal/automations?category=nope&enabled=maybe&risk_level=x")
    assert response.status_code == 200
    assert b"Shown" in response.content
    assert AutomationRule.objects.count() == 1
