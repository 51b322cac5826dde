"""The kind registries: an operator added as one entry is validated, summarised, evaluated and offered."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from automations.conditions import compile_conditions, register
from automations.conditions.operators import InvalidCondition, Predicate
from automations.kinds.operators import OPERATORS, OperatorKind, operator_choices
from automations.summaries import summarize_rule
from automations.validators import validate_rule_definition
from tests.host.starts_with import STARTS_WITH

RULE: dict[str, Any] = {
    "name": "SKU alert",
    "trigger_type": "event",
    "trigger_config": {"event_type": "product_added"},
    "conditions": [],
    "action_type": "send_notification",
    "action_config": {"recipients": ["owner"]},
}


@pytest.fixture
def starts_with(settings: Any) -> None:
    settings.AUTOMATIONS = {
        **settings.AUTOMATIONS,
        "OPERATORS": ["tests.host.starts_with.STARTS_WITH"],
    }  # unloaded again afterwards
    assert OPERATORS["starts_with"] is STARTS_WITH


def with_condition(value: Any, operator: str = "starts_with") -> dict[str, Any]:
    return {**RULE, "conditions": [{"type": "product.sku", "operator": operator, "value": value}]}


def test_an_unregistered_operator_is_refused_naming_the_known_ones() -> None:
    errors = validate_rule_definition(with_condition("SKU-"))
    assert list(errors) == ["conditions[0].operator"]
    assert errors["conditions[0].operator"][0].startswith('"starts_with" is not one of =, !=, <, >')


def test_a_registered_operator_is_validated_by_its_own_check(starts_with: None) -> None:
    assert validate_rule_definition(with_condition("SKU-")) == {}
    assert validate_rule_definition(with_condition(3)) == {
        "conditions[0].value": ["must be the text the value starts with, such as SKU-"]
    }
    assert validate_rule_definition({**RULE, "conditions": [{"type": "sku", "operator": "starts_with"}]}) == {
        "conditions[0].value": ["this field is required"]
    }


def test_a_registered_operator_reads_with_its_phrase(starts_with: None) -> None:
    summary = summarize_rule(with_condition("SKU-"))
    assert summary.conditions_description == "Product sku starts with “SKU-”"
    negated = {**RULE, "conditions": [{"not": {"type": "product.sku", "operator": "starts_with", "value": "X"}}]}
    assert summarize_rule(negated).conditions_description == "Product sku does not start with “X”"


def test_a_registered_operator_is_evaluated_and_offered_to_the_builder(starts_with: None) -> None:
    compiled = compile_conditions([{"type": "sku", "operator": "starts_with", "value": "AB"}])
    assert compiled.matches({"sku": "AB-1"}) is True
    assert compiled.explain({"sku": "X"})[0].reason == "sku is 'X', which does not start with 'AB'"
    assert ("starts_with", "starts with") in operator_choices()


def test_an_operator_without_its_own_check_is_validated_by_building_it() -> None:
    """Before the registry, validation knew only the built-in values: a new operator's bad value passed."""

    @register("longer_than")
    def build(expected: Any) -> Predicate:
        if not isinstance(expected, int) or isinstance(expected, bool):
            raise InvalidCondition("longer_than needs a whole number")
        return Predicate(lambda actual, zone: isinstance(actual, str) and len(actual) > expected, lambda *_: "")

    try:
        assert validate_rule_definition(with_condition(3, "longer_than")) == {}
        assert validate_rule_definition(with_condition("three", "longer_than")) == {
            "conditions[0].value": ["longer_than needs a whole number"]
        }
        # Its default phrase uses the label (the key, for ``register``).
        assert summarize_rule(with_condition(3, "longer_than")).conditions_description == "Product sku longer_than 3"
    finally:
        del OPERATORS["longer_than"]


def test_the_builder_offers_a_registered_operator(owner: Any, client: Any, starts_with: None) -> None:
    client.force_login(owner)
    page = client.get("/portal/automations/builder/new").content.decode()
    template = page[page.index('<template id="condition-row-template">') :]
    assert '<option value="starts_with" >starts_with (starts with)</option>' in template


SHADOWS_EQUALS = OperatorKind("=", "is exactly", STARTS_WITH.build)


def test_a_host_spec_may_not_reuse_a_built_in_key(settings: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="reuses the built-in key '='"):
        settings.AUTOMATIONS = {**settings.AUTOMATIONS, "OPERATORS": ["tests.automations.test_kinds.SHADOWS_EQUALS"]}
    assert OPERATORS["="].label == "equals"
