"""Recommendations know the date: the season of the tenant's local date (by the server clock,
``django.utils.timezone.now``) is a signal, quoted with the date in the reasoning; a season the caller
names wins (docs/recommendations.md, "The season")."""

from __future__ import annotations

import datetime as dt
import html

import pytest

from automations.recommendations import recommend, tenant_today
from automations.schedule_times import season_on
from governance.services import tenant_get_or_create
from tests.api import post_json, token_client


@pytest.mark.parametrize(
    ("day", "season"),
    [
        ("2026-12-04", "holiday_season"),  # the day
        ("2026-12-31", "holiday_season"),
        ("2026-11-26", "autumn"),  # Thanksgiving
        ("2026-11-27", "black_friday"),
        ("2026-11-29", "black_friday"),  # the weekend after Black Friday
        ("2026-11-30", "cyber_monday"),
        ("2025-12-01", "cyber_monday"),  # Cyber Monday in December wins over the holiday season
        ("2026-01-15", "winter"),
        ("2026-02-01", "valentines_day"),  # the two weeks up to 14 February
        ("2026-02-14", "valentines_day"),
        ("2026-02-15", "winter"),
        ("2026-03-01", "spring"),
        ("2026-04-26", "spring"),
        ("2026-04-27", "mothers_day"),  # two weeks before Sunday 10 May 2026
        ("2026-05-10", "mothers_day"),
        ("2026-05-11", "spring"),
        ("2026-06-01", "summer"),
        ("2026-08-01", "back_to_school"),
        ("2026-08-31", "back_to_school"),
        ("2026-09-01", "autumn"),
    ],
)
def test_the_season_of_a_date(day, season):
    assert season_on(dt.date.fromisoformat(day)) == season


def test_every_day_of_a_year_has_a_known_season():
    from automations.choices import Season

    day = dt.date(2028, 1, 1)  # a leap year
    seen = set()
    while day.year == 2028:
        seen.add(season_on(day))
        day += dt.timedelta(days=1)
    assert seen == set(Season.values)


def test_holiday_product_drop_on_4_december_says_it_is_the_holiday_season():
    # the issue: on 4 December it scored 30% with no seasonal reason
    [drop] = [rec for rec in recommend(None, {}, today=dt.date(2026, 12, 4)) if rec.name == "Holiday Product Drop"]
    assert drop.reasoning.startswith("It's the holiday season (4 December in UTC), when seasonal products sell best.")
    assert drop.relevance_score == 0.55  # base 0.15 + 0.40 for the holiday season
    [summer] = [rec for rec in recommend(None, {}, today=dt.date(2026, 7, 4)) if rec.name == "Holiday Product Drop"]
    assert summer.relevance_score == 0.10 and "It's summer (4 July in UTC), months away" in summer.reasoning


def test_a_season_the_caller_names_wins_over_the_date():
    [drop] = [
        rec
        for rec in recommend(None, {"seasonal_context": "summer"}, today=dt.date(2026, 12, 4))
        if rec.name == "Holiday Product Drop"
    ]
    assert "It's summer, months away" in drop.reasoning and "December" not in drop.reasoning


@pytest.mark.django_db
def test_the_date_is_the_tenants_local_date_by_the_server_clock(monkeypatch):
    # 05:00 UTC on 1 December 2026 is still Monday 30 November, Cyber Monday, in Los Angeles
    moment = dt.datetime(2026, 12, 1, 5, 0, tzinfo=dt.UTC)
    monkeypatch.setattr("django.utils.timezone.now", lambda: moment)
    london = tenant_get_or_create("tenant_london", name="London", timezone="Europe/London")
    los_angeles = tenant_get_or_create("tenant_la", name="LA", timezone="America/Los_Angeles")
    assert tenant_today(london) == (dt.date(2026, 12, 1), "Europe/London")
    assert tenant_today(los_angeles) == (dt.date(2026, 11, 30), "America/Los_Angeles")

    def landing_page(tenant):
        return next(rec for rec in recommend(tenant, {}) if rec.name == "Black Friday Landing Page")

    assert "It's Cyber Monday (30 November in America/Los Angeles), when deal hunters are out." in (
        landing_page(los_angeles).reasoning
    )
    assert "It's the holiday season (1 December in Europe/London), with Black Friday behind you." in (
        landing_page(london).reasoning
    )
    assert landing_page(los_angeles).relevance_score > landing_page(london).relevance_score


@pytest.mark.django_db
def test_the_api_and_the_portal_quote_the_season_of_the_tenants_date(monkeypatch, tenant, owner, client):
    tenant.timezone = "America/New_York"
    tenant.save(update_fields=["timezone"])
    moment = dt.datetime(2026, 12, 4, 15, 0, tzinfo=dt.UTC)
    monkeypatch.setattr("django.utils.timezone.now", lambda: moment)
    reason = "It's the holiday season (4 December in America/New York), when seasonal products sell best."

    # the API (spec endpoint 12), a context without seasonal_context
    response = post_json(token_client(owner), "/api/automations/recommend", {"tenant_id": tenant.pk, "context": {}})
    assert response.status_code == 200
    [drop] = [rec for rec in response.json()["recommendations"] if rec["name"] == "Holiday Product Drop"]
    assert drop["reasoning"].startswith(reason)
    # its seasonal schedule would have fired once in the last 30 days: +0.10 on the season's 0.55
    assert drop["backtest"] == {"days": 30, "would_fire": 1, "triggers_seen": 1}
    assert drop["relevance_score"] == 0.65

    # the portal's Recommendations modal
    client.force_login(owner)
    page = html.unescape(client.get("/portal/automations/recommendations").content.decode())
    assert "Holiday Product Drop" in page and reason in page
