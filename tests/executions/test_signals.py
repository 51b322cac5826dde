"""Signals in, events out: the documented automation_event signal and AUTOMATIONS["MODEL_EVENTS"]."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from executions.models import AutomationExecution, Event
from executions.signals import automation_event
from governance.models import Council
from tests.overrides import override_automations

# Council stands in for a host model: it has a tenant_id, like a shop's Product would.
COUNCIL_EVENTS = {
    "governance.Council": {
        "created": "council_added",
        "updated": "council_changed",
        "deleted": "council_removed",
        "tenant_attribute": "tenant_id",
        "source": "store",
    }
}


@pytest.mark.django_db
def test_any_code_can_send_an_automation_event(tenant, event_rule, active_store, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        responses = automation_event.send(
            sender=None,
            tenant_id=tenant.pk,
            event_type="product_added",
            payload={"product_id": "p1"},
            source="store",
            idempotency_key="p1:created",
        )

    result = responses[0][1]
    assert Event.objects.get(pk=result.id).idempotency_key == "p1:created"
    assert AutomationExecution.objects.get().status == "succeeded"


@pytest.mark.django_db
def test_a_bad_signal_is_refused_naming_the_field(tenant):
    with pytest.raises(ValidationError) as error:
        automation_event.send(sender=None, tenant_id=tenant.pk, payload={})
    assert "event_type" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        automation_event.send(sender=None, tenant_id=tenant.pk, event_type="x", colour="red")
    assert "colour" in error.value.message_dict


@pytest.mark.django_db
@override_automations(MODEL_EVENTS=COUNCIL_EVENTS)
def test_a_mapped_models_saves_and_deletes_become_events(tenant):
    council = Council.objects.create(tenant=tenant, name="Pricing")
    council.name = "Pricing council"
    council.save()
    council_id = council.pk
    council.delete()

    events = list(Event.objects.order_by("id"))
    assert [e.event_type for e in events] == ["council_added", "council_changed", "council_removed"]
    assert all(e.tenant_id == tenant.pk and e.source == "store" for e in events)
    assert events[0].payload["name"] == "Pricing" and events[1].payload["name"] == "Pricing council"
    assert events[0].payload["object_id"] == council_id and events[0].payload["model"] == "governance.council"
    assert events[0].idempotency_key == f"governance.council:{council_id}:created"


@pytest.mark.django_db
@override_automations(MODEL_EVENTS={"governance.Council": {"created": "council_added"}})
def test_only_the_mapped_changes_become_events(tenant):
    council = Council.objects.create(tenant=tenant, name="Pricing")
    council.save()
    council.delete()
    assert list(Event.objects.values_list("event_type", flat=True)) == ["council_added"]


@pytest.mark.django_db
@override_automations(MODEL_EVENTS={"governance.Council": {"created": "council_added", "tenant_attribute": "nope"}})
def test_an_instance_without_a_tenant_is_skipped_not_an_error(tenant):
    Council.objects.create(tenant=tenant, name="Pricing")
    assert Event.objects.count() == 0


@pytest.mark.django_db
@override_automations(MODEL_EVENTS=COUNCIL_EVENTS)
def test_a_failed_save_dispatches_nothing(tenant, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        Council.objects.create(tenant=tenant, name="Pricing")
        raise RuntimeError("the request failed")
    assert callbacks == [] and Event.objects.count() == 0


@pytest.mark.django_db
def test_unmapped_models_emit_nothing(tenant):
    Council.objects.create(tenant=tenant, name="Pricing")
    assert Event.objects.count() == 0


def council_tenant(council: Council) -> str:
    """A host's tenant callable: the tenant an instance's events belong to."""
    return council.tenant_id


@pytest.mark.django_db
@override_automations(
    MODEL_EVENTS={
        "governance.Council": {
            "post_save": "council_saved",
            "post_delete": "council_gone",
            "tenant": "tests.executions.test_signals.council_tenant",
        }
    }
)
def test_post_save_and_post_delete_name_every_save_and_delete_and_a_callable_finds_the_tenant(tenant):
    council = Council.objects.create(tenant=tenant, name="Pricing")
    council.save()
    council.delete()
    events = list(Event.objects.order_by("id").values_list("event_type", "tenant_id"))
    assert events == [("council_saved", tenant.pk)] * 2 + [("council_gone", tenant.pk)]


@pytest.mark.django_db
@override_automations(
    MODEL_EVENTS={"governance.Council": {"created": "council_added", "tenant_attribute": "nope"}},
    DEFAULT_TENANT="tenant_test",
)
def test_an_instance_without_a_tenant_falls_back_to_the_default_tenant(tenant):
    Council.objects.create(tenant=tenant, name="Pricing")
    assert list(Event.objects.values_list("tenant_id", flat=True)) == ["tenant_test"]


@override_automations(
    MODEL_EVENTS={
        "governance.Council": {"created": "council_added", "colour": "red", "tenant": "tests.nowhere.tenant_of"},
        "shop.Product": {"created": "product_added"},
    }
)
def test_the_checks_name_a_bad_model_mapping():
    from automations.checks import check_automations_settings

    messages = [message.msg for message in check_automations_settings()]
    assert any("['governance.Council']['colour'] is not a key" in msg for msg in messages)
    assert any(
        "['governance.Council']['tenant'] = 'tests.nowhere.tenant_of' does not import" in msg for msg in messages
    )
    assert any("no installed model 'shop.Product'" in msg for msg in messages)
