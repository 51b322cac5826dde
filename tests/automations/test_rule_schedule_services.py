"""next_run_at is kept in sync by the rule services; enabling never fires a past slot."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from automations.models import AutomationRule
from automations.schedule_times import next_slot_after
from automations.services import rule_archive, rule_set_enabled, rule_update, rules_reschedule
from tests.factories import make_rule

DAILY = {"pattern": "daily", "time": "09:00", "timezone": "America/New_York"}


def schedule_rule(tenant, owner, config=None, **overrides):
    return make_rule(tenant, owner, trigger_type="schedule", trigger_config=config or DAILY, **overrides)


@pytest.mark.django_db
def test_create_sets_next_run_at_to_the_first_slot_after_now(tenant, owner):
    before = timezone.now()
    rule = schedule_rule(tenant, owner)
    assert rule.next_run_at is not None and rule.next_run_at > before
    assert rule.next_run_at == next_slot_after(DAILY, "UTC", before).utc
    assert AutomationRule.objects.get(pk=rule.pk).next_run_at == rule.next_run_at


@pytest.mark.django_db
def test_other_triggers_and_disabled_rules_have_none(tenant, owner):
    assert make_rule(tenant, owner).next_run_at is None  # a threshold rule
    assert schedule_rule(tenant, owner, enabled=False).next_run_at is None


@pytest.mark.django_db
def test_a_cron_that_never_fires_has_none(tenant, owner):
    assert schedule_rule(tenant, owner, {"pattern": "cron", "cron": "0 0 31 2 *"}).next_run_at is None


@pytest.mark.django_db
def test_tenant_zone_is_the_default(owner, tenant):
    tenant.timezone = "Asia/Tokyo"
    tenant.save()
    rule = schedule_rule(tenant, owner, {"pattern": "daily", "time": "09:00"})
    assert rule.next_run_at.astimezone(tenant.zone).strftime("%H:%M") == "09:00"


@pytest.mark.django_db
def test_editing_the_schedule_recomputes_editing_the_name_does_not(tenant, owner):
    rule = schedule_rule(tenant, owner)
    overdue = timezone.now() - dt.timedelta(seconds=30)  # a slot the tick has not reached yet
    AutomationRule.objects.filter(pk=rule.pk).update(next_run_at=overdue)
    rule.refresh_from_db()
    rule_update(rule, {"name": "Renamed"}, owner)
    assert AutomationRule.objects.get(pk=rule.pk).next_run_at == overdue  # the pending slot still fires
    rule_update(rule, {"trigger_config": {**DAILY, "time": "10:15"}}, owner)
    rule.refresh_from_db()
    assert rule.next_run_at > timezone.now()
    assert rule.next_run_at.astimezone(zoneinfo.ZoneInfo("America/New_York")).strftime("%H:%M") == "10:15"


@pytest.mark.django_db
def test_changing_the_trigger_type_away_from_schedule_clears_it(tenant, owner):
    rule = schedule_rule(tenant, owner)
    rule_update(rule, {"trigger_type": "threshold", "trigger_config": {"metric": "m", "operator": "<", "value": 1}})
    assert AutomationRule.objects.get(pk=rule.pk).next_run_at is None


@pytest.mark.django_db
def test_disable_clears_and_enable_computes_from_now(tenant, owner):
    rule = schedule_rule(tenant, owner)
    rule_set_enabled(rule, False)
    assert AutomationRule.objects.get(pk=rule.pk).next_run_at is None
    # a slot passes while the rule is off; enabling must not bring it back
    before = timezone.now()
    rule_set_enabled(rule, True)
    stored = AutomationRule.objects.get(pk=rule.pk).next_run_at
    assert stored is not None and stored > before


@pytest.mark.django_db
def test_enabling_an_enabled_rule_keeps_its_pending_slot(tenant, owner):
    rule = schedule_rule(tenant, owner)
    pending = timezone.now() - dt.timedelta(seconds=10)
    AutomationRule.objects.filter(pk=rule.pk).update(next_run_at=pending)
    rule.refresh_from_db()
    rule_set_enabled(rule, True)
    assert AutomationRule.objects.get(pk=rule.pk).next_run_at == pending


@pytest.mark.django_db
def test_archive_clears(tenant, owner):
    rule = schedule_rule(tenant, owner)
    rule_archive(rule)
    assert AutomationRule.all_objects.get(pk=rule.pk).next_run_at is None


@pytest.mark.django_db
def test_rules_reschedule_follows_a_tenant_zone_change(tenant, owner):
    rule = schedule_rule(tenant, owner, {"pattern": "daily", "time": "09:00"})
    tenant.timezone = "Asia/Tokyo"
    tenant.save()
    now = timezone.now()
    assert rules_reschedule(tenant, now=now) == 1
    rule.refresh_from_db()
    assert rule.next_run_at == next_slot_after({"pattern": "daily", "time": "09:00"}, "Asia/Tokyo", now).utc
    assert rules_reschedule(tenant, now=now) == 0
