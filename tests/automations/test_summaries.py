"""Plain-English summaries: golden sentences for many rule shapes, partial builder input, saved
rules and their councils, and properties over every rule the validator accepts."""

from __future__ import annotations

import datetime as dt
import re
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from automations.choices import (
    ActionType,
    BehaviorType,
    CampaignChannel,
    ConditionOperator,
    NotificationChannel,
    NotificationRecipient,
    RiskLevel,
    Season,
    ThresholdOperator,
)
from automations.summaries import RuleSummary, quote, summarize_rule
from automations.summaries.cron_words import describe_cron
from automations.summaries.text import format_duration_hours, format_duration_minutes, words
from automations.validators import validate_rule_definition
from governance.common.words import format_number
from governance.models import Council
from tests.factories import LOW_PRODUCT_ALERT, make_rule

NOTIFY = {
    "action_type": "send_notification",
    "action_config": {"recipients": ["owner"], "message": "Low product count"},
}
THRESHOLD = {"trigger_type": "threshold", "trigger_config": {"metric": "product_count", "operator": "<", "value": 3}}


def rule(**parts: Any) -> dict[str, Any]:
    return {"name": "Rule", **THRESHOLD, "conditions": [], **NOTIFY, **parts}


def schedule(**config: Any) -> dict[str, Any]:
    return rule(trigger_type="schedule", trigger_config=config)


def threshold(**config: Any) -> dict[str, Any]:
    return rule(trigger_type="threshold", trigger_config=config)


def behavior(**config: Any) -> dict[str, Any]:
    return rule(trigger_type="behavior", trigger_config=config)


def event(**config: Any) -> dict[str, Any]:
    return rule(trigger_type="event", trigger_config=config)


def action(action_type: str, **config: Any) -> dict[str, Any]:
    return rule(action_type=action_type, action_config=config)


def conditions(*items: dict[str, Any]) -> dict[str, Any]:
    return rule(conditions=list(items))


# --- the spec's example --------------------------------------------------------------------------


def test_spec_example_exactly():
    # given the spec's Low Product Alert with its store_status condition
    body = {**LOW_PRODUCT_ALERT, "conditions": [{"type": "store_status", "operator": "=", "value": "active"}]}

    # when
    result = summarize_rule(body)

    # then the four keys of API endpoint 13 are word for word the spec's
    assert result.summary == (
        "When product count drops below 3 in an active store, "
        "send a notification to the owner saying 'Low product count'."
    )
    assert result.trigger_description == "Product count falls below 3"
    assert result.conditions_description == "Store is active"
    assert result.action_description == "Send notification to owner"
    assert result.as_dict() == {
        "summary": result.summary,
        "trigger_description": "Product count falls below 3",
        "conditions_description": "Store is active",
        "action_description": "Send notification to owner",
        "governance_description": "Runs without approval",
    }


# --- golden sentences ----------------------------------------------------------------------------

CASES = {
    "event_known_with_source": event(event_type="product_added", source="store"),
    "event_participle": event(event_type="order.refunded"),
    "event_other": event(event_type="inventory_low"),
    "schedule_daily": schedule(pattern="daily", time="07:30"),
    "schedule_weekly": rule(
        trigger_type="schedule",
        trigger_config={"pattern": "weekly", "day": "monday", "time": "09:00", "timezone": "UTC"},
        action_type="generate_campaign",
        action_config={"template_id": "weekly_promo", "channels": ["email"]},
    ),
    "schedule_monthly": schedule(pattern="monthly", day_of_month=1, time="08:00", timezone="Europe/Berlin"),
    "schedule_monthly_31": schedule(pattern="monthly", day_of_month=31, time="18:00"),
    "schedule_monthly_30": schedule(pattern="monthly", day_of_month=30, time="18:00"),
    "schedule_black_friday": schedule(pattern="seasonal", season="black_friday", time="10:00"),
    "schedule_holiday_season_zone": schedule(
        pattern="seasonal", season="holiday_season", time="08:00", timezone="America/New_York"
    ),
    "schedule_yearly_date": schedule(pattern="seasonal", month=12, day=24, time="10:00"),
    "cron_weekdays": schedule(pattern="cron", cron="0 9 * * 1-5", timezone="UTC"),
    "cron_every_15": schedule(pattern="cron", cron="*/15 * * * *"),
    "cron_days_of_month": schedule(pattern="cron", cron="30 8 1,15 * *"),
    "cron_new_year": schedule(pattern="cron", cron="0 0 1 1 *"),
    "cron_weekends_twice": schedule(pattern="cron", cron="0 9,17 * * sat,sun"),
    "cron_every_6_hours": schedule(pattern="cron", cron="0 */6 * * *"),
    "threshold_rises_above": threshold(metric="store_traffic", operator=">", value=1000),
    "threshold_reaches_for": threshold(metric="conversion_rate", operator=">=", value=2.5, for_minutes=15),
    "threshold_at_or_below": threshold(metric="product_count", operator="<=", value=0),
    "threshold_equals": threshold(metric="campaign_performance", operator="=", value=1),
    "threshold_not_equal_hours": threshold(metric="product_count", operator="!=", value=10, for_minutes=120),
    "behavior_abandoned_cart": behavior(behavior_type="abandoned_cart", timeframe_hours=24),
    "behavior_viewed_not_bought": behavior(behavior_type="product_viewed_not_bought", timeframe_hours=48),
    "behavior_repeat_purchase": behavior(behavior_type="repeat_purchase", timeframe_hours=720),
    "behavior_high_value": behavior(behavior_type="high_value_customer", timeframe_hours=720, min_total=1500),
    "behavior_dormant": behavior(behavior_type="dormant_customer", timeframe_hours=1440),
    "conditions_ordering": conditions(
        {"type": "date", "operator": ">=", "value": "2025-12-01"},
        {"type": "order.total", "operator": ">", "value": 50},
        {"type": "product_count", "operator": "<=", "value": 10},
        {"type": "time", "operator": "<", "value": "12:00"},
    ),
    "conditions_text": conditions(
        {"type": "workflow_status", "operator": "!=", "value": "failed"},
        {"type": "product.title", "operator": "contains", "value": "Sale"},
        {"type": "product.tags", "operator": "not_contains", "value": "hidden"},
    ),
    "conditions_lists": conditions(
        {"type": "weekday", "operator": "in", "value": ["saturday", "sunday"]},
        {"type": "customer.country", "operator": "not_in", "value": ["US", "CA", "MX"]},
        {"type": "order.total", "operator": "between", "value": [100, 500]},
        {"type": "date", "operator": "between", "value": ["2025-12-01", "2025-12-24"]},
    ),
    "conditions_exists_matches": conditions(
        {"type": "customer.email", "operator": "exists"},
        {"type": "coupon_code", "operator": "exists", "value": False},
        {"type": "product.sku", "operator": "matches", "value": "^SALE-[0-9]+$"},
    ),
    "conditions_groups": conditions(
        {"type": "store_status", "operator": "=", "value": "active"},
        {
            "any": [
                {"type": "customer.is_vip", "operator": "=", "value": True},
                {"type": "order.total", "operator": ">=", "value": 500},
            ]
        },
        {"not": {"type": "customer.segment", "operator": "in", "value": ["test", "staff"]}},
    ),
    "conditions_negated_groups": conditions(
        {
            "not": {
                "any": [
                    {"type": "store_status", "operator": "=", "value": "paused"},
                    {"type": "store_status", "operator": "=", "value": "closed"},
                ]
            }
        },
        {
            "not": {
                "all": [
                    {"type": "product_count", "operator": "<", "value": 3},
                    {"type": "store.has_logo", "operator": "=", "value": False},
                ]
            }
        },
    ),
    "conditions_nested": conditions(
        {
            "any": [
                {
                    "all": [
                        {"type": "customer.tier", "operator": "=", "value": "gold"},
                        {"type": "order.total", "operator": ">", "value": 100},
                    ]
                },
                {"type": "customer.email", "operator": "=", "value": None},
            ]
        },
        {"type": "is_first_order", "operator": "=", "value": True},
    ),
    "action_notification_full": action(
        "send_notification",
        recipients=["owner", "collaborators", "councils"],
        channels=["email", "sms"],
        subject="Stock alert",
        message="Only {count} products left!",
    ),
    "action_start_workflow": action(
        "start_workflow",
        workflow_type_id="website_creation",
        template_id="basic_site",
        inputs={"domain": "example.com", "theme": "dark"},
    ),
    "action_update_product": action(
        "update_product", product_id="prod_42", updates={"price": 19.99, "status": "draft", "title": "Winter Sale"}
    ),
    "action_update_product_no_id": action(
        "update_product",
        updates={"stock": 0, "variants": [{"size": "M"}], "visible": False, "note": None, "badge": "new"},
    ),
    "action_generate_campaign_scheduled": action(
        "generate_campaign",
        template_id="seasonal_promo",
        channels=["email", "social", "ads"],
        schedule="2026-12-01T09:00:00+01:00",
        budget=1200,
    ),
    "action_landing_page_draft": action(
        "create_landing_page", template_id="holiday_sale", slug="holiday-sale", publish=False
    ),
    "action_add_one_product": action("add_product", template_id="gift_card", count=1, category="Gift Ideas"),
    "action_update_store_many": action(
        "update_store",
        settings={
            "theme": "holiday",
            "currency": "EUR",
            "banner_text": "Free shipping",
            "maintenance_mode": True,
            "language": "de",
            "logo": {"url": "x"},
        },
    ),
    "action_generate_draft_minimal": action("generate_draft", workflow_type_id="content_writer"),
    "action_odd_template_id": action(
        "generate_campaign", template_id="Holiday Promo!", channels=["sms"], schedule="immediate"
    ),
    "governance_critical": rule(risk_level="critical"),
    "governance_high_auto_rules": rule(
        risk_level="high",
        auto_approval_rules={
            "max_budget": 100,
            "trusted_users_only": True,
            "business_hours_only": True,
            "max_frequency_per_day": 5,
        },
    ),
    "governance_high_budget_within_limit": rule(
        risk_level="high",
        action_type="add_product",
        action_config={"template_id": "holiday_product", "count": 5, "category": "seasonal", "budget": 50},
        auto_approval_rules={
            "max_budget": 100,
            "trusted_users_only": True,
            "business_hours_only": True,
            "max_frequency_per_day": 5,
        },
    ),
    "governance_requires_approval_one_a_day": rule(
        requires_approval=True, auto_approval_rules={"max_frequency_per_day": 1}
    ),
    "governance_low_with_rules": rule(
        risk_level="medium", auto_approval_rules={"business_hours_only": True, "trusted_users_only": False}
    ),
    "message_multiline": action("send_notification", recipients=["owner"], message="Line one\nline two.  "),
}

EXPECTED = {
    "event_known_with_source": (
        "When a product is added (source: store), send a notification to the owner saying 'Low product count'.",
        "A product is added (source: store)",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "event_participle": (
        "When an order is refunded, send a notification to the owner saying 'Low product count'.",
        "An order is refunded",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "event_other": (
        "When an inventory low event occurs, send a notification to the owner saying 'Low product count'.",
        "An inventory low event occurs",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "schedule_daily": (
        "Every day at 07:30, send a notification to the owner saying 'Low product count'.",
        "Every day at 07:30",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "schedule_weekly": (
        "Every Monday at 09:00 (UTC), generate a campaign from the weekly promo template for email.",
        "Every Monday at 09:00 (UTC)",
        "",
        "Generate campaign from weekly promo template",
        "Runs without approval",
    ),
    "schedule_monthly": (
        (
            "On the 1st of every month at 08:00 (Europe/Berlin), send a notification to the owner "
            "saying 'Low product count'."
        ),
        "On the 1st of every month at 08:00 (Europe/Berlin)",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "schedule_monthly_31": (
        "On the last day of every month at 18:00, send a notification to the owner saying 'Low product count'.",
        "On the last day of every month at 18:00",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "schedule_monthly_30": (
        (
            "On the 30th of every month (the last day in shorter months) at 18:00, send a notification "
            "to the owner saying 'Low product count'."
        ),
        "On the 30th of every month (the last day in shorter months) at 18:00",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "schedule_black_friday": (
        "Every year on Black Friday at 10:00, send a notification to the owner saying 'Low product count'.",
        "Every year on Black Friday at 10:00",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "schedule_holiday_season_zone": (
        (
            "Every year at the start of the holiday season at 08:00 (America/New York), send a "
            "notification to the owner saying 'Low product count'."
        ),
        "Every year at the start of the holiday season at 08:00 (America/New York)",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "schedule_yearly_date": (
        "Every year on 24 December at 10:00, send a notification to the owner saying 'Low product count'.",
        "Every year on 24 December at 10:00",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "cron_weekdays": (
        "At 09:00 on weekdays (UTC), send a notification to the owner saying 'Low product count'.",
        "At 09:00 on weekdays (UTC)",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "cron_every_15": (
        "Every 15 minutes, send a notification to the owner saying 'Low product count'.",
        "Every 15 minutes",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "cron_days_of_month": (
        "At 08:30 on the 1st and 15th of the month, send a notification to the owner saying 'Low product count'.",
        "At 08:30 on the 1st and 15th of the month",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "cron_new_year": (
        "At 00:00 on the 1st of the month in January, send a notification to the owner saying 'Low product count'.",
        "At 00:00 on the 1st of the month in January",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "cron_weekends_twice": (
        "At 09:00 and 17:00 on weekends, send a notification to the owner saying 'Low product count'.",
        "At 09:00 and 17:00 on weekends",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "cron_every_6_hours": (
        "At 00:00, 06:00, 12:00 and 18:00 every day, send a notification to the owner saying 'Low product count'.",
        "At 00:00, 06:00, 12:00 and 18:00 every day",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "threshold_rises_above": (
        "When store traffic rises above 1,000, send a notification to the owner saying 'Low product count'.",
        "Store traffic rises above 1,000",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "threshold_reaches_for": (
        (
            "When conversion rate reaches 2.5 for at least 15 minutes, send a notification to the owner "
            "saying 'Low product count'."
        ),
        "Conversion rate reaches 2.5 for at least 15 minutes",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "threshold_at_or_below": (
        "When product count falls to 0 or below, send a notification to the owner saying 'Low product count'.",
        "Product count falls to 0 or below",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "threshold_equals": (
        "When campaign performance equals 1, send a notification to the owner saying 'Low product count'.",
        "Campaign performance equals 1",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "threshold_not_equal_hours": (
        (
            "When product count is no longer 10 for at least 2 hours, send a notification to the owner "
            "saying 'Low product count'."
        ),
        "Product count is no longer 10 for at least 2 hours",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "behavior_abandoned_cart": (
        (
            "When a customer leaves a cart without ordering for 24 hours, send a notification to the "
            "owner saying 'Low product count'."
        ),
        "A customer leaves a cart without ordering for 24 hours",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "behavior_viewed_not_bought": (
        (
            "When a customer views a product but doesn't buy it within 2 days, send a notification to "
            "the owner saying 'Low product count'."
        ),
        "A customer views a product but doesn't buy it within 2 days",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "behavior_repeat_purchase": (
        "When a customer buys again within 30 days, send a notification to the owner saying 'Low product count'.",
        "A customer buys again within 30 days",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "behavior_high_value": (
        (
            "When a customer spends at least 1,500 within 30 days, send a notification to the owner "
            "saying 'Low product count'."
        ),
        "A customer spends at least 1,500 within 30 days",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "behavior_dormant": (
        "When a customer has been inactive for 60 days, send a notification to the owner saying 'Low product count'.",
        "A customer has been inactive for 60 days",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
    "conditions_ordering": (
        (
            "When product count drops below 3, if the date is on or after 1 December 2025, order total "
            "is above 50, product count is at most 10 and the time of day is before 12:00, send a "
            "notification to the owner saying 'Low product count'."
        ),
        "Product count falls below 3",
        (
            "The date is on or after 1 December 2025, order total is above 50, product count is at most "
            "10 and the time of day is before 12:00"
        ),
        "Send notification to owner",
        "Runs without approval",
    ),
    "conditions_text": (
        (
            "When product count drops below 3, if workflow is not failed, product title contains 'Sale' "
            "and product tags does not contain hidden, send a notification to the owner saying 'Low "
            "product count'."
        ),
        "Product count falls below 3",
        "Workflow is not failed, product title contains 'Sale' and product tags does not contain hidden",
        "Send notification to owner",
        "Runs without approval",
    ),
    "conditions_lists": (
        (
            "When product count drops below 3, if the weekday is Saturday or Sunday, customer country "
            "is none of 'US', 'CA' or 'MX', order total is between 100 and 500 and the date is between "
            "1 December 2025 and 24 December 2025, send a notification to the owner saying 'Low product "
            "count'."
        ),
        "Product count falls below 3",
        (
            "The weekday is Saturday or Sunday, customer country is none of 'US', 'CA' or 'MX', order "
            "total is between 100 and 500 and the date is between 1 December 2025 and 24 December 2025"
        ),
        "Send notification to owner",
        "Runs without approval",
    ),
    "conditions_exists_matches": (
        (
            "When product count drops below 3, if customer email is set, coupon code is missing and "
            "product sku matches the pattern '^SALE-[0-9]+$', send a notification to the owner saying "
            "'Low product count'."
        ),
        "Product count falls below 3",
        "Customer email is set, coupon code is missing and product sku matches the pattern '^SALE-[0-9]+$'",
        "Send notification to owner",
        "Runs without approval",
    ),
    "conditions_groups": (
        (
            "When product count drops below 3 in an active store, if customer segment is neither test "
            "nor staff and either customer is vip or order total is at least 500, send a notification "
            "to the owner saying 'Low product count'."
        ),
        "Product count falls below 3",
        (
            "Store is active, customer segment is neither test nor staff and either customer is vip or "
            "order total is at least 500"
        ),
        "Send notification to owner",
        "Runs without approval",
    ),
    "conditions_negated_groups": (
        (
            "When product count drops below 3, if neither store is paused nor store is closed, and not "
            "both product count is below 3 and store does not have logo, send a notification to the "
            "owner saying 'Low product count'."
        ),
        "Product count falls below 3",
        (
            "Neither store is paused nor store is closed, and not both product count is below 3 and "
            "store does not have logo"
        ),
        "Send notification to owner",
        "Runs without approval",
    ),
    "conditions_nested": (
        (
            "When product count drops below 3, if first order is true and either both customer tier is "
            "gold and order total is above 100, or customer email is not set, send a notification to "
            "the owner saying 'Low product count'."
        ),
        "Product count falls below 3",
        (
            "First order is true and either both customer tier is gold and order total is above 100, or "
            "customer email is not set"
        ),
        "Send notification to owner",
        "Runs without approval",
    ),
    "action_notification_full": (
        (
            "When product count drops below 3, send a notification to the owner, the collaborators and "
            "the councils by email and SMS with the subject 'Stock alert' saying 'Only {count} products "
            "left!'"
        ),
        "Product count falls below 3",
        "",
        "Send notification to owner, collaborators and councils by email and SMS",
        "Runs without approval",
    ),
    "action_start_workflow": (
        (
            "When product count drops below 3, start the website creation workflow with the basic site "
            "template and the domain and theme inputs."
        ),
        "Product count falls below 3",
        "",
        "Start website creation workflow",
        "Runs without approval",
    ),
    "action_update_product": (
        (
            "When product count drops below 3, update product 'prod_42', setting price to 19.99, status "
            "to draft and title to 'Winter Sale'."
        ),
        "Product count falls below 3",
        "",
        "Update product 'prod_42' (price, status and title)",
        "Runs without approval",
    ),
    "action_update_product_no_id": (
        (
            "When product count drops below 3, update the product, setting stock to 0, variants to new "
            "values, visible to false, note to empty and 1 other field."
        ),
        "Product count falls below 3",
        "",
        "Update product (stock, variants, visible, note and 1 other field)",
        "Runs without approval",
    ),
    "action_generate_campaign_scheduled": (
        (
            "When product count drops below 3, generate a campaign from the seasonal promo template for "
            "email, social media and ads, scheduled for 1 December 2026 at 09:00 (UTC+01:00), with a "
            "budget of 1,200."
        ),
        "Product count falls below 3",
        "",
        "Generate campaign from seasonal promo template, with a budget of 1,200",
        "Runs without approval",
    ),
    "action_landing_page_draft": (
        (
            "When product count drops below 3, create a landing page from the holiday sale template at "
            "/holiday-sale as an unpublished draft."
        ),
        "Product count falls below 3",
        "",
        "Create landing page from holiday sale template",
        "Runs without approval",
    ),
    "action_add_one_product": (
        "When product count drops below 3, add a product from the gift card template to the 'Gift Ideas' category.",
        "Product count falls below 3",
        "",
        "Add a product from gift card template",
        "Runs without approval",
    ),
    "action_update_store_many": (
        (
            "When product count drops below 3, update the store, setting theme to holiday, currency to "
            "'EUR', banner text to 'Free shipping', maintenance mode to true and 2 other fields."
        ),
        "Product count falls below 3",
        "",
        "Update store settings (theme, currency, banner text, maintenance mode and 2 other fields)",
        "Runs without approval",
    ),
    "action_generate_draft_minimal": (
        "When product count drops below 3, generate a draft with the content writer workflow.",
        "Product count falls below 3",
        "",
        "Generate draft with content writer workflow",
        "Runs without approval",
    ),
    "action_odd_template_id": (
        (
            "When product count drops below 3, generate a campaign from the 'Holiday Promo!' template "
            "for SMS, sent immediately."
        ),
        "Product count falls below 3",
        "",
        "Generate campaign from 'Holiday Promo!' template",
        "Runs without approval",
    ),
    "governance_critical": (
        (
            "When product count drops below 3, send a notification to the owner saying 'Low product "
            "count', after approval by the Marketing Council."
        ),
        "Product count falls below 3",
        "",
        "Send notification to owner",
        "Always needs approval by the Marketing Council",
    ),
    "governance_high_auto_rules": (
        (
            "When product count drops below 3, send a notification to the owner saying 'Low product "
            "count', after approval by the Pricing Council."
        ),
        "Product count falls below 3",
        "",
        "Send notification to owner",
        # max_budget needs the rule's own budget, and a notification has none: the table never auto-approves
        "Always needs approval by the Pricing Council: the budget is unknown, so the limit of 100 can't be checked",
    ),
    "governance_high_budget_within_limit": (
        (
            "When product count drops below 3, add 5 products from the holiday product template to the "
            "seasonal category, with a budget of 50, without approval while a trusted user triggers it, it runs "
            "in business hours and it has run fewer than 5 times today (otherwise after approval by the council)."
        ),
        "Product count falls below 3",
        "",
        "Add 5 products from holiday product template, with a budget of 50",
        (
            "Runs without approval while a trusted user triggers it, it runs in business hours and it has run "
            "fewer than 5 times today; otherwise needs approval by the council"
        ),
    ),
    "governance_requires_approval_one_a_day": (
        (
            "When product count drops below 3, send a notification to the owner saying 'Low product "
            "count', without approval while it has not run yet today (otherwise after approval by the council)."
        ),
        "Product count falls below 3",
        "",
        "Send notification to owner",
        "Runs without approval while it has not run yet today; otherwise needs approval by the council",
    ),
    "governance_low_with_rules": (
        (
            "When product count drops below 3, send a notification to the owner saying 'Low product count', "
            "without approval while it runs in business hours (otherwise after approval by the council)."
        ),
        "Product count falls below 3",
        "",
        "Send notification to owner",
        "Runs without approval while it runs in business hours; otherwise needs approval by the council",
    ),
    "message_multiline": (
        "When product count drops below 3, send a notification to the owner saying 'Line one line two.'",
        "Product count falls below 3",
        "",
        "Send notification to owner",
        "Runs without approval",
    ),
}

COUNCILS = {"governance_critical": "Marketing Council", "governance_high_auto_rules": "Pricing Council"}


def test_golden_cases_cover_at_least_30_shapes_and_every_kind():
    assert set(CASES) == set(EXPECTED)
    assert len(CASES) >= 30
    bodies = list(CASES.values())
    assert {body["trigger_type"] for body in bodies} == {"event", "schedule", "threshold", "behavior"}
    assert {body["action_type"] for body in bodies} == set(ActionType.values)
    assert {body["trigger_config"].get("operator") for body in bodies if body["trigger_type"] == "threshold"} >= set(
        ThresholdOperator.values
    )
    assert {body["trigger_config"].get("behavior_type") for body in bodies} >= set(BehaviorType.values)
    assert {body["trigger_config"].get("pattern") for body in bodies} >= {
        "daily",
        "weekly",
        "monthly",
        "seasonal",
        "cron",
    }


@pytest.mark.parametrize("name", list(CASES))
def test_golden_summary(name: str):
    body = CASES[name]
    assert validate_rule_definition(body) == {}, "golden bodies are valid rules"

    result = summarize_rule(body, COUNCILS.get(name))

    assert (
        result.summary,
        result.trigger_description,
        result.conditions_description,
        result.action_description,
        result.governance_description,
    ) == EXPECTED[name]


def _operators_in(items: list[Any]) -> set[str]:
    found: set[str] = set()
    for item in items:
        for key in ("any", "all"):
            if key in item:
                found |= _operators_in(item[key])
        if "not" in item:
            found |= _operators_in([item["not"]])
        if "operator" in item:
            found.add(item["operator"])
    return found


def test_golden_cases_use_every_condition_operator_and_group():
    used = set().union(*(_operators_in(body["conditions"]) for body in CASES.values()))
    assert used == set(ConditionOperator.values)
    text = repr([body["conditions"] for body in CASES.values()])
    assert all(f"'{group}'" in text for group in ("any", "all", "not"))


# --- partial input while the builder is typed into -----------------------------------------------


@pytest.mark.parametrize(
    ("body", "summary", "trigger", "action"),
    [
        ({}, "This automation has no trigger or action yet.", "No trigger chosen yet", "No action chosen yet"),
        (None, "This automation has no trigger or action yet.", "No trigger chosen yet", "No action chosen yet"),
        (
            {"trigger_type": "threshold", "trigger_config": {"metric": "product_count"}},
            "When product count crosses a threshold, nothing happens yet: no action is chosen.",
            "Product count crosses a threshold",
            "No action chosen yet",
        ),
        (
            {"trigger_type": "threshold", "trigger_config": {"metric": "product_count", "operator": "<"}},
            "When product count drops below a threshold, nothing happens yet: no action is chosen.",
            "Product count drops below a threshold",
            "No action chosen yet",
        ),
        (
            {"trigger_type": "schedule", "trigger_config": {"pattern": "weekly"}, "action_type": "add_product"},
            "Every week, add a product.",
            "Every week",
            "Add a product",
        ),
        (
            {"trigger_type": "event", "trigger_config": {}, "action_type": "send_notification", "action_config": {}},
            "When an event occurs, send a notification.",
            "An event occurs",
            "Send notification",
        ),
        (
            {"action_type": "send_notification", "action_config": {"recipients": ["owner"], "message": "Hi"}},
            "Send a notification to the owner saying 'Hi'.",
            "No trigger chosen yet",
            "Send notification to owner",
        ),
        (
            {
                "conditions": [{"type": "store_status", "operator": "=", "value": "active"}],
                "action_type": "start_workflow",
                "action_config": {"workflow_type_id": ""},
            },
            "In an active store, start a workflow.",
            "No trigger chosen yet",
            "Start workflow",
        ),
        (
            {"trigger_type": "behavior", "trigger_config": "oops", "action_type": "nope", "action_config": []},
            "When a customer behaviour is detected, nothing happens yet: no action is chosen.",
            "A customer behaviour is detected",
            "No action chosen yet",
        ),
        (
            {"trigger_type": "schedule", "trigger_config": {"pattern": "cron", "cron": "61 * * *"}},
            "On a custom schedule, nothing happens yet: no action is chosen.",
            "On a custom schedule",
            "No action chosen yet",
        ),
    ],
)
def test_partial_bodies_give_the_best_summary_of_what_is_there(body, summary, trigger, action):
    result = summarize_rule(body)
    assert (result.summary, result.trigger_description, result.action_description) == (summary, trigger, action)


def test_incomplete_conditions_are_left_out_rather_than_half_shown():
    body = conditions(
        {"type": "store_status", "operator": "=", "value": "active"},
        {"type": "order.total"},  # operator not chosen yet
        {"type": "", "operator": "=", "value": 1},
        {"type": "tags", "operator": "in", "value": []},
        {"any": []},
        {"any": [{"type": "x"}], "all": []},  # malformed group
        "not a condition",
    )
    result = summarize_rule(body)
    assert result.conditions_description == "Store is active"
    assert result.summary.startswith("When product count drops below 3 in an active store, send")


def test_no_conditions_gives_an_empty_description_and_no_dangling_if():
    result = summarize_rule(rule(conditions=[]))
    assert result.conditions_description == ""
    assert " if " not in result.summary and ",," not in result.summary


def test_long_quoted_text_is_cut_and_line_breaks_flattened():
    message = "Stock is low.\n\n" + "x" * 500
    result = summarize_rule(action("send_notification", recipients=["owner"], message=message))
    quoted = re.search(r"saying '(.*)'", result.summary)
    assert quoted is not None
    assert "\n" not in result.summary
    assert quoted.group(1).startswith("Stock is low. xxx")
    assert quoted.group(1).endswith("…") and len(quoted.group(1)) == 200


def test_long_value_lists_are_shortened_with_a_count():
    body = conditions({"type": "region", "operator": "in", "value": [f"r{i}" for i in range(12)]})
    assert summarize_rule(body).conditions_description == "Region is r0, r1, r2, r3, r4 or 7 other values"


# --- councils --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_saved_rule_names_its_assigned_council(tenant, owner):
    council = Council.objects.create(tenant=tenant, name="Marketing Council")
    saved = make_rule(tenant, owner, risk_level="high", assigned_council=council)

    result = summarize_rule(saved)

    assert result.summary == (
        "When product count drops below 3 in an active store, send a notification to the owner saying "
        "'Low product count', after approval by the Marketing Council."
    )
    assert result.governance_description == "Always needs approval by the Marketing Council"


@pytest.mark.django_db
def test_council_name_argument_wins_and_no_council_reads_the_council(tenant, owner):
    saved = make_rule(tenant, owner, requires_approval=True)
    assert summarize_rule(saved).summary.endswith(", after approval by the council.")
    assert summarize_rule(saved, council_name="Pricing Council").summary.endswith(
        ", after approval by the Pricing Council."
    )
    assert summarize_rule(saved, council_name="The Board").summary.endswith(", after approval by The Board.")


@pytest.mark.django_db
def test_saved_low_risk_rule_has_no_governance_note(rule):
    result = summarize_rule(rule)
    assert "approval" not in result.summary
    assert isinstance(result, RuleSummary)


# --- properties ------------------------------------------------------------------------------

TRICKY_NAMES = ["none", "None", "NONE", "null", "_", "__", "is_", "has_", "is_none", "none_status", "_status", "a_"]
IDENTIFIER = st.one_of(st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,12}\Z"), st.sampled_from(TRICKY_NAMES))
EVENT_NAME = st.one_of(st.from_regex(r"\A[A-Za-z0-9_.:\-]{1,16}\Z"), st.sampled_from([*TRICKY_NAMES, ":", "a.b_ed"]))
PATH = st.one_of(
    st.from_regex(r"\A[A-Za-z0-9_\-]{1,8}(\.[A-Za-z0-9_\-]{1,8}){0,2}\Z"),
    st.sampled_from([*TRICKY_NAMES, "customer.is_", "x.has_vip", "store.none", "-.-", "date", "weekday"]),
)
USER_TEXT = st.text(max_size=40)
SOME_TEXT = st.text(min_size=1, max_size=40)
ID_TEXT = st.one_of(IDENTIFIER, SOME_TEXT)
NUMBER = st.one_of(st.integers(-(10**9), 10**9), st.floats(allow_nan=False, allow_infinity=False))
NON_NEGATIVE = st.one_of(st.integers(0, 10**6), st.floats(min_value=0, max_value=1e9))
DATE_TEXT = st.dates(dt.date(2000, 1, 1), dt.date(2100, 12, 31)).map(dt.date.isoformat)
TIME_TEXT = st.times().map(lambda moment: moment.strftime("%H:%M"))
ZONE = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "America/Argentina/Buenos_Aires", "Asia/Kolkata"])
SCALAR = st.one_of(st.none(), st.booleans(), NUMBER, USER_TEXT, DATE_TEXT, IDENTIFIER)
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBER, USER_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(USER_TEXT, inner, max_size=3)),
    max_leaves=6,
)


def optional(**fields: st.SearchStrategy[Any]) -> dict[str, st.SearchStrategy[Any]]:
    return fields


def cron_field(low: int, high: int, names: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    number = st.integers(low, high)
    pair = st.tuples(number, number).map(sorted)
    options = [
        st.just("*"),
        st.integers(1, high).map(lambda step: f"*/{step}"),
        number.map(str),
        pair.map(lambda p: f"{p[0]}-{p[1]}"),
        st.lists(number, min_size=1, max_size=4).map(lambda values: ",".join(map(str, values))),
        st.tuples(pair, st.integers(1, high)).map(lambda t: f"{t[0][0]}-{t[0][1]}/{t[1]}"),
    ]
    if names:
        options.append(st.sampled_from(names))
    return st.one_of(options)


CRON = st.tuples(
    cron_field(0, 59),
    cron_field(0, 23),
    cron_field(1, 31),
    cron_field(1, 12, ("jan", "jun", "dec")),
    cron_field(0, 7, ("mon", "fri", "sun")),
).map(" ".join)

SCHEDULES = st.one_of(
    st.fixed_dictionaries({"pattern": st.just("daily"), "time": TIME_TEXT}, optional={"timezone": ZONE}),
    st.fixed_dictionaries(
        {"pattern": st.just("weekly"), "time": TIME_TEXT, "day": st.sampled_from(["monday", "friday", "sunday"])},
        optional={"timezone": ZONE},
    ),
    st.fixed_dictionaries(
        {"pattern": st.just("monthly"), "time": TIME_TEXT, "day_of_month": st.integers(1, 31)},
        optional={"timezone": ZONE},
    ),
    st.fixed_dictionaries(
        {"pattern": st.just("seasonal"), "time": TIME_TEXT, "season": st.sampled_from(Season.values)},
        optional={"timezone": ZONE},
    ),
    st.fixed_dictionaries(
        {"pattern": st.just("seasonal"), "time": TIME_TEXT, "month": st.integers(1, 12), "day": st.integers(1, 28)},
        optional={"timezone": ZONE},
    ),
    st.fixed_dictionaries({"pattern": st.just("cron"), "cron": CRON}, optional={"timezone": ZONE}),
)
TRIGGERS = st.one_of(
    st.tuples(st.just("event"), st.fixed_dictionaries({"event_type": EVENT_NAME}, optional={"source": EVENT_NAME})),
    st.tuples(st.just("schedule"), SCHEDULES),
    st.tuples(
        st.just("threshold"),
        st.fixed_dictionaries(
            {"metric": IDENTIFIER, "operator": st.sampled_from(ThresholdOperator.values), "value": NUMBER},
            optional={"for_minutes": st.integers(0, 60 * 24 * 366)},
        ),
    ),
    st.tuples(
        st.just("behavior"),
        st.fixed_dictionaries(
            {
                "behavior_type": st.sampled_from([b for b in BehaviorType.values if b != "high_value_customer"]),
                "timeframe_hours": st.floats(min_value=0, max_value=24 * 366, exclude_min=True),
            }
        ),
    ),
    st.tuples(
        st.just("behavior"),
        st.fixed_dictionaries(
            {
                "behavior_type": st.just("high_value_customer"),
                "timeframe_hours": st.integers(1, 24 * 366),
                "min_total": NON_NEGATIVE,
            }
        ),
    ),
)


def _leaf(operator: str) -> st.SearchStrategy[dict[str, Any]]:
    values: dict[str, st.SearchStrategy[Any]] = {
        "=": SCALAR,
        "!=": SCALAR,
        "<": st.one_of(NUMBER, SOME_TEXT, DATE_TEXT, TIME_TEXT),
        ">": st.one_of(NUMBER, SOME_TEXT, DATE_TEXT),
        "<=": st.one_of(NUMBER, DATE_TEXT, TIME_TEXT),
        ">=": st.one_of(NUMBER, SOME_TEXT),
        "contains": st.one_of(SOME_TEXT, NUMBER, st.booleans()),
        "not_contains": st.one_of(SOME_TEXT, NUMBER),
        "in": st.lists(SCALAR, min_size=1, max_size=8),
        "not_in": st.lists(SCALAR, min_size=1, max_size=8),
        "between": st.one_of(st.tuples(NUMBER, NUMBER).map(sorted), st.tuples(DATE_TEXT, DATE_TEXT).map(sorted)).map(
            list
        ),
        "matches": st.sampled_from(["^SALE", "[0-9]+", r"\d{3}-\d{2}", "a|b", "{x}", "None_"]),
    }
    if operator == "exists":
        return st.one_of(
            st.fixed_dictionaries({"type": PATH, "operator": st.just("exists")}),
            st.fixed_dictionaries({"type": PATH, "operator": st.just("exists"), "value": st.booleans()}),
        )
    return st.fixed_dictionaries({"type": PATH, "operator": st.just(operator), "value": values[operator]})


LEAF = st.sampled_from(ConditionOperator.values).flatmap(_leaf)
CONDITION = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda items: {"any": items}),
        st.lists(inner, min_size=1, max_size=3).map(lambda items: {"all": items}),
        inner.map(lambda item: {"not": item}),
    ),
    max_leaves=6,
)
BUDGET = {"budget": NON_NEGATIVE}
ACTIONS = st.one_of(
    st.tuples(
        st.just("send_notification"),
        st.fixed_dictionaries(
            {
                "recipients": st.lists(
                    st.sampled_from(NotificationRecipient.values), min_size=1, max_size=3, unique=True
                )
            },
            optional={
                "message": USER_TEXT,
                "subject": USER_TEXT,
                "channels": st.lists(st.sampled_from(NotificationChannel.values), max_size=3, unique=True),
                **BUDGET,
            },
        ),
    ),
    st.tuples(
        st.just("start_workflow"),
        st.fixed_dictionaries(
            {"workflow_type_id": ID_TEXT},
            optional={"template_id": ID_TEXT, "inputs": st.dictionaries(USER_TEXT, JSON, max_size=7), **BUDGET},
        ),
    ),
    st.tuples(
        st.just("update_product"),
        st.fixed_dictionaries(
            {"updates": st.dictionaries(USER_TEXT, JSON, min_size=1, max_size=6)},
            optional={"product_id": ID_TEXT, **BUDGET},
        ),
    ),
    st.tuples(
        st.just("generate_campaign"),
        st.fixed_dictionaries(
            {"template_id": ID_TEXT},
            optional={
                "channels": st.lists(st.sampled_from(CampaignChannel.values), max_size=4, unique=True),
                "schedule": st.one_of(
                    st.just("immediate"),
                    st.datetimes(timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-5))])).map(
                        dt.datetime.isoformat
                    ),
                ),
                **BUDGET,
            },
        ),
    ),
    st.tuples(
        st.just("create_landing_page"),
        st.fixed_dictionaries(
            {"template_id": ID_TEXT},
            optional={
                "title": USER_TEXT,
                "slug": st.from_regex(r"\A[a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,3}\Z"),
                "publish": st.booleans(),
                **BUDGET,
            },
        ),
    ),
    st.tuples(
        st.just("add_product"),
        st.fixed_dictionaries(
            {"template_id": ID_TEXT}, optional={"count": st.integers(1, 100), "category": ID_TEXT, **BUDGET}
        ),
    ),
    st.tuples(
        st.just("update_store"),
        st.fixed_dictionaries({"settings": st.dictionaries(USER_TEXT, JSON, min_size=1, max_size=6)}, optional=BUDGET),
    ),
    st.tuples(
        st.just("generate_draft"),
        st.fixed_dictionaries(
            {"workflow_type_id": ID_TEXT},
            optional={
                "template_id": ID_TEXT,
                "title": USER_TEXT,
                "inputs": st.dictionaries(USER_TEXT, JSON, max_size=3),
                **BUDGET,
            },
        ),
    ),
)
AUTO_APPROVAL = st.fixed_dictionaries(
    {},
    optional={
        "max_budget": NON_NEGATIVE,
        "trusted_users_only": st.booleans(),
        "business_hours_only": st.booleans(),
        "max_frequency_per_day": st.integers(1, 1000),
    },
)


@st.composite
def valid_rule_bodies(draw: st.DrawFn) -> dict[str, Any]:
    trigger_type, trigger_config = draw(TRIGGERS)
    action_type, action_config = draw(ACTIONS)
    body: dict[str, Any] = {
        "name": draw(SOME_TEXT.filter(str.strip)),
        "trigger_type": trigger_type,
        "trigger_config": trigger_config,
        "conditions": draw(st.lists(CONDITION, max_size=4)),
        "action_type": action_type,
        "action_config": action_config,
    }
    body.update(
        draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "risk_level": st.sampled_from(RiskLevel.values),
                    "requires_approval": st.booleans(),
                    "auto_approval_rules": AUTO_APPROVAL,
                },
            )
        )
    )
    return body


def _user_strings(value: object) -> set[str]:
    """Every string in a rule body (keys too): the only text a summary may quote."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_user_strings(key) | _user_strings(item) for key, item in value.items()))
    if isinstance(value, list):
        return set().union(*(_user_strings(item) for item in value))
    return set()


def _outside_quotes(text: str, body: dict[str, Any]) -> str:
    for user_text in sorted(_user_strings(body), key=len, reverse=True):
        text = text.replace(quote(user_text), "\x00")
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(body=valid_rule_bodies(), council=st.sampled_from([None, "Marketing Council"]))
def test_every_valid_rule_summarises_without_none_braces_or_underscores(body: dict[str, Any], council: str | None):
    assume(validate_rule_definition(body) == {})

    result = summarize_rule(body, council)

    for key, text in result.as_dict().items():
        assert isinstance(text, str)
        plain = _outside_quotes(text, body)
        assert not re.search(r"\bNone\b", plain), f"{key} shows None: {text!r}"
        for forbidden in ("{", "_"):
            assert forbidden not in plain, f"{key} shows {forbidden!r}: {text!r}"
        assert "  " not in plain and " ," not in plain and ",," not in plain, f"{key} is badly spaced: {text!r}"
    assert result.summary.endswith((".", ".'", "!'", "?'"))
    assert result.summary[:1].isupper()
    assert result.trigger_description and result.action_description
    assert "No trigger" not in result.trigger_description and "No action" not in result.action_description
    assert bool(result.conditions_description) == bool(body["conditions"])


ANYTHING = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBER, st.text(max_size=8), st.sampled_from(["<", "in", "any", "not"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(string.ascii_lowercase[:4]) | USER_TEXT, inner, max_size=4),
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(
    [
        "trigger_type",
        "trigger_config",
        "conditions",
        "action_type",
        "action_config",
        "risk_level",
        "requires_approval",
        "auto_approval_rules",
    ]
)
VALUES_BY_KEY = {
    "trigger_type": st.sampled_from(["event", "schedule", "threshold", "behavior", "x"]),
    "action_type": st.sampled_from([*ActionType.values, "x"]),
}


@settings(max_examples=300, deadline=None)
@given(
    body=st.dictionaries(KEYS, ANYTHING, max_size=8).flatmap(
        lambda junk: st.fixed_dictionaries({key: VALUES_BY_KEY.get(key, st.just(value)) for key, value in junk.items()})
    ),
    trigger=TRIGGERS,
    action=ACTIONS,
    mix=st.booleans(),
)
def test_summarising_anything_never_raises(body, trigger, action, mix):
    if mix:
        # half-typed rules: a real trigger or action next to junk elsewhere
        body = {"trigger_type": trigger[0], "trigger_config": trigger[1], **body, "action_type": action[0]}
    result = summarize_rule(body)
    assert isinstance(result.summary, str) and result.summary.endswith((".", "'"))


# --- the pieces ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, "3"),
        (3.0, "3"),
        (1500, "1,500"),
        (-2, "-2"),
        (2.5, "2.5"),
        (0.025, "0.025"),
        (0.1 + 0.2, "0.3"),
        (3599.941354067395, "3,599.9414"),
        (6.492065336180285e16, "6.492e+16"),
        (10**20, "100,000,000,000,000,000,000"),
    ],
)
def test_numbers_are_formatted_for_people(value, expected):
    assert format_number(value) == expected


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(1, "1 minute"), (15, "15 minutes"), (60, "1 hour"), (90, "1 hour and 30 minutes"), (2880, "2 days")],
)
def test_minutes_in_words(minutes, expected):
    assert format_duration_minutes(minutes) == expected


@pytest.mark.parametrize(
    ("hours", "expected"),
    [(0.5, "30 minutes"), (1, "1 hour"), (1.5, "1.5 hours"), (24, "24 hours"), (48, "2 days"), (50, "50 hours")],
)
def test_hours_in_words(hours, expected):
    assert format_duration_hours(hours) == expected


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("product_count", "product count"),
        ("customer.total_spent", "customer total spent"),
        ("SKU_code", "SKU code"),
        ("Store-Status", "store status"),
        ("None", "'None'"),
        ("null_status", "'null_status'"),
        ("__", "'__'"),
    ],
)
def test_identifiers_in_words(identifier, expected):
    assert words(identifier) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("* * * * *", "Every minute"),
        ("*/5 * * * *", "Every 5 minutes"),
        ("5/15 * * * *", "Every 15 minutes, starting 5 minutes past the hour"),
        ("0 * * * *", "Every hour on the hour"),
        ("15 * * * 1", "Every hour at 15 minutes past the hour on Mondays"),
        ("0 */2 * * *", "Every 2 hours on the hour"),
        ("0,30 9-17 * * 1-5", "Every 30 minutes between 09:00 and 17:59 on weekdays"),
        ("0,20 9-17 * * *", "Every hour on the hour and at 20 minutes past between 09:00 and 17:59"),
        ("1,2,3 8-10 * * *", "Every hour at 1, 2 and 3 minutes past the hour between 08:00 and 10:59"),
        ("0 9 * * mon,wed,fri", "At 09:00 on Mondays, Wednesdays and Fridays"),
        ("0 9 1-7 * 1", "At 09:00 on days 1 to 7 of the month or on Mondays"),
        ("0 12 * 3-5 *", "At 12:00 every day from March to May"),
        ("0 12 1-31 * 1", "At 12:00 every day"),
        ("0 9 * * 7", "At 09:00 on Sundays"),
        ("not cron", "On a custom schedule"),
    ],
)
def test_cron_in_words(expression, expected):
    assert describe_cron(expression) == expected
