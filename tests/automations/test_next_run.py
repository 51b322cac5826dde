"""When a schedule runs next (issue 15, item 6): ``next_run_at`` in the API's rule and "Next run: …" on the
list and details pages, both from the schedule code (automations/schedule_times.py)."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from django.test import Client

from automations.models import AutomationRule
from automations.schedule_times import next_run_text, next_slot_after, schedule_timezone
from tests.api import token_client
from tests.factories import make_rule

UTC = dt.UTC
NOW_2025 = dt.datetime(2025, 12, 4, 12, 0, tzinfo=UTC)
WEEKLY_NY = {"pattern": "weekly", "day": "monday", "time": "09:00", "timezone": "America/New_York"}


@pytest.mark.parametrize(
    ("moment", "zone", "text"),
    [
        (dt.datetime(2025, 12, 8, 14, 0, tzinfo=UTC), "America/New_York", "Mon 8 Dec, 09:00 (America/New_York)"),
        (dt.datetime(2025, 12, 31, 23, 30, tzinfo=UTC), "Asia/Tokyo", "Thu 1 Jan 2026, 08:30 (Asia/Tokyo)"),
        (dt.datetime(2026, 3, 8, 7, 0, tzinfo=UTC), "America/New_York", "Sun 8 Mar 2026, 03:00 (America/New_York)"),
        (dt.datetime(2025, 12, 5, 0, 5, tzinfo=UTC), "UTC", "Fri 5 Dec, 00:05 (UTC)"),
        (dt.datetime(2025, 12, 5, 0, 5, tzinfo=UTC), "Not/AZone", "Fri 5 Dec, 00:05 (UTC)"),
    ],
)
def test_next_run_text(moment, zone, text):
    assert next_run_text(moment, zone, NOW_2025) == text


def test_the_text_reads_the_slot_the_schedule_code_computes():
    slot = next_slot_after(WEEKLY_NY, "UTC", NOW_2025)
    assert schedule_timezone(WEEKLY_NY, "UTC") == "America/New_York"
    assert next_run_text(slot.utc, "America/New_York", NOW_2025) == "Mon 8 Dec, 09:00 (America/New_York)"
    assert schedule_timezone({"pattern": "daily", "time": "09:00"}, "Europe/Berlin") == "Europe/Berlin"


@pytest.mark.django_db
def test_api_shows_next_run_at_for_enabled_schedules_only(tenant, owner):
    client = token_client(owner)
    schedule = make_rule(tenant, owner, name="Weekly", trigger_type="schedule", trigger_config=WEEKLY_NY)
    threshold = make_rule(tenant, owner, name="Threshold")
    stored = AutomationRule.objects.get(pk=schedule.pk).next_run_at
    shown = client.get(f"/api/automations/{schedule.pk}").json()["automation"]["next_run_at"]
    assert shown is not None and dt.datetime.fromisoformat(shown.replace("Z", "+00:00")) == stored
    local = stored.astimezone(zoneinfo.ZoneInfo("America/New_York"))
    assert (local.strftime("%A %H:%M")) == "Monday 09:00"
    assert client.get(f"/api/automations/{threshold.pk}").json()["automation"]["next_run_at"] is None
    listed = {rule["id"]: rule["next_run_at"] for rule in client.get("/api/automations").json()["automations"]}
    assert listed == {schedule.pk: shown, threshold.pk: None}
    # disabled: no next run; enabled again: the next slot
    disabled = client.post(f"/api/automations/{schedule.pk}/disable").json()["automation"]
    assert disabled["next_run_at"] is None
    assert client.post(f"/api/automations/{schedule.pk}/enable").json()["automation"]["next_run_at"] is not None
    # read-only: a client may send back what it read, and it changes nothing
    body = {"name": "Weekly", "next_run_at": "2000-01-01T00:00:00Z"}
    patched = client.patch(f"/api/automations/{schedule.pk}", body, format="json")
    assert patched.status_code == 200 and patched.json()["automation"]["next_run_at"] != body["next_run_at"]


@pytest.mark.django_db
def test_list_and_details_pages_say_when_it_runs_next(tenant, owner):
    schedule = make_rule(tenant, owner, name="Weekly", trigger_type="schedule", trigger_config=WEEKLY_NY)
    moment = dt.datetime(2025, 12, 8, 14, 0, tzinfo=UTC)  # as if the stored slot were this Monday's
    AutomationRule.objects.filter(pk=schedule.pk).update(next_run_at=moment)
    make_rule(tenant, owner, name="Threshold")
    client = Client()
    client.force_login(owner)
    year = "" if dt.datetime.now(UTC).year == 2025 else " 2025"
    expected = f"Next run: Mon 8 Dec{year}, 09:00 (America/New_York)"
    for path in ("/portal/automations", f"/portal/automations/{schedule.pk}"):
        html = client.get(path).content.decode()
        texts = [re.sub(r"<[^>]+>", "", match) for match in re.findall(r'data-field="next-run">(.*?)</p>', html)]
        assert texts == [expected], path  # the threshold rule shows none
    AutomationRule.objects.filter(pk=schedule.pk).update(enabled=False, next_run_at=None)
    html = client.get(f"/portal/automations/{schedule.pk}").content.decode()
    assert "Next run: none while disabled" in html
