"""The catalogue of recommendable automations and how each is scored (docs/recommendations.md).

A template is a full rule body (it passes ``validate_rule_definition`` unchanged) plus a base score
and scorers. A scorer looks at one signal and, when the signal is present, moves the score up or
down with a reason that quotes the value it saw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from automations.choices import Season
from automations.recommendations.signals import Signals
from automations.summaries.text import format_month_day, format_timezone
from governance.common.words import format_number, plural_suffix


@dataclass(frozen=True)
class Contribution:
    delta: float
    reason: str


Scorer = Callable[[Signals], Contribution | None]
Test = Callable[[Any], bool]


@dataclass(frozen=True)
class Template:
    key: str
    name: str
    description: str
    category: str
    suggested_config: dict[str, Any]
    base_score: float
    general_reason: str
    scorers: tuple[Scorer, ...] = field(default=())


SEASON_WORDS = {
    Season.BLACK_FRIDAY: "Black Friday",
    Season.CYBER_MONDAY: "Cyber Monday",
    Season.HOLIDAY_SEASON: "the holiday season",
    Season.VALENTINES_DAY: "Valentine's Day",
    Season.MOTHERS_DAY: "Mother's Day",
    Season.BACK_TO_SCHOOL: "back-to-school season",
    Season.SPRING: "spring",
    Season.SUMMER: "summer",
    Season.AUTUMN: "autumn",
    Season.WINTER: "winter",
}


def _show(name: str, value: Any, signals: Signals) -> str:
    if name == "conversion_rate":
        return f"{format_number(value)}%"
    if name == "seasonal_context":
        day = signals.season_day
        if day is None:  # the caller named the season
            return SEASON_WORDS[value]
        # read off the tenant's local date: say which, so the reason can be checked
        where = format_timezone(signals.season_timezone)
        return f"{SEASON_WORDS[value]} ({format_month_day(day.month, day.day)} in {where})"
    if isinstance(value, str):
        return value
    return format_number(value)


def signal(name: str, *bands: tuple[Test, float, str]) -> Scorer:
    """A scorer for one signal: the first band whose test holds gives its delta and reason.
    ``{v}`` in a reason is the signal's value as people read it; ``{s}`` is "s" unless the value is 1."""

    def score(signals: Signals) -> Contribution | None:
        value = getattr(signals, name)
        if value is None:
            return None
        for test, delta, reason in bands:
            if test(value):
                return Contribution(delta, reason.format(v=_show(name, value, signals), s=plural_suffix(value)))
        return None

    score.__name__ = f"score_{name}"
    return score


def below(limit: float) -> Test:
    return lambda value: value < limit


def at_least(limit: float) -> Test:
    return lambda value: value >= limit


def between(low: float, high: float) -> Test:
    return lambda value: low <= value < high


def one_of(*values: object) -> Test:
    return lambda value: value in values


def anything(value: object) -> bool:
    return True


def is_true(value: object) -> bool:
    return value is True


def is_false(value: object) -> bool:
    return value is False


# --- shared scorers ------------------------------------------------------------------------------

STRUGGLING = one_of("poor", "declining")
THRIVING = one_of("good", "excellent")
# The weeks before the holiday season (1 December). Winter is January and February when the season is
# read off a date (December is the holiday season), so it is not a run-up.
HOLIDAY_RUN_UP = one_of(Season.BLACK_FRIDAY, Season.CYBER_MONDAY, Season.AUTUMN)


def no_email_list(delta: float, reason: str) -> Scorer:
    return signal("has_email_list", (is_false, delta, reason))


# --- the catalogue -------------------------------------------------------------------------------

CATALOGUE: tuple[Template, ...] = (
    # product ------------------------------------------------------------------------------------
    Template(
        key="low_product_alert",
        name="Low Product Alert",
        description="Tells you by email and push as soon as your store has fewer than 3 products.",
        category="product",
        suggested_config={
            "name": "Low Product Alert",
            "description": "Alert when product count drops below 3",
            "category": "product",
            "trigger_type": "threshold",
            "trigger_config": {"metric": "product_count", "operator": "<", "value": 3},
            "conditions": [],
            "action_type": "send_notification",
            "action_config": {
                "recipients": ["owner"],
                "message": "Your store has fewer than 3 products. Add a few more to keep shoppers browsing.",
                "channels": ["email", "push"],
            },
            "risk_level": "low",
            "requires_approval": False,
            "auto_approval_rules": {},
        },
        base_score=0.4,
        general_reason="A store with almost nothing on its shelves loses visitors; this is a cheap safety net.",
        scorers=(
            signal(
                "product_count",
                (
                    below(3),
                    0.55,
                    "Your product count is {v}, below the 3 a browsable store needs; "
                    "this alert tells you the moment it drops that low.",
                ),
                (below(10), 0.25, "Your product count is {v}, close to the 3 where this alert fires."),
                (at_least(50), -0.2, "Your product count is {v}, far above 3, so this alert would rarely fire."),
            ),
        ),
    ),
    Template(
        key="starter_product_restock",
        name="Starter Product Restock",
        description=(
            "Adds 3 starter products from a template when your catalogue drops below 5: "
            "once a day without approval, more often after approval."
        ),
        category="product",
        suggested_config={
            "name": "Starter Product Restock",
            "description": "Add starter products when the catalogue runs low",
            "category": "product",
            "trigger_type": "threshold",
            "trigger_config": {"metric": "product_count", "operator": "<", "value": 5},
            "conditions": [{"type": "store_status", "operator": "=", "value": "active"}],
            "action_type": "add_product",
            "action_config": {"template_id": "starter_product", "count": 3, "category": "new_arrivals"},
            "risk_level": "medium",
            "requires_approval": True,
            "auto_approval_rules": {"max_frequency_per_day": 1},
        },
        base_score=0.25,
        general_reason="Keeps your catalogue from running empty without you having to watch it.",
        scorers=(
            signal(
                "product_count",
                (
                    below(3),
                    0.4,
                    "Your product count is {v}, so adding products automatically fills an empty-looking store.",
                ),
                (below(10), 0.15, "Your product count is {v}, near the 5 where restocking starts."),
                (at_least(50), -0.15, "Your product count is {v}, well above 5, so restocking would rarely run."),
            ),
        ),
    ),
    Template(
        key="holiday_product_drop",
        name="Holiday Product Drop",
        description="Adds 5 seasonal products from your holiday template when the holiday season starts.",
        category="product",
        suggested_config={
            "name": "Holiday Product Drop",
            "description": "Add seasonal products at the start of the holiday season",
            "category": "product",
            "trigger_type": "schedule",
            "trigger_config": {"pattern": "seasonal", "season": "holiday_season", "time": "08:00"},
            "conditions": [],
            "action_type": "add_product",
            "action_config": {"template_id": "holiday_product", "count": 5, "category": "seasonal"},
            "risk_level": "medium",
            "requires_approval": True,
            "auto_approval_rules": {},
        },
        base_score=0.15,
        general_reason="Seasonal products sell best when they are in the store before the rush.",
        scorers=(
            signal(
                "seasonal_context",
                (one_of(Season.HOLIDAY_SEASON), 0.4, "It's {v}, when seasonal products sell best."),
                (HOLIDAY_RUN_UP, 0.2, "It's {v}, right before the holiday season."),
                (anything, -0.05, "It's {v}, months away from the holiday season."),
            ),
            signal(
                "product_count",
                (below(10), 0.15, "With only {v} product{s}, seasonal items fill out your catalogue."),
            ),
        ),
    ),
    # store --------------------------------------------------------------------------------------
    Template(
        key="store_health_watch",
        name="Store Health Watch",
        description="Alerts you and your collaborators when the store stops being active.",
        category="store",
        suggested_config={
            "name": "Store Health Watch",
            "description": "Alert when the store's health changes and it is no longer active",
            "category": "store",
            "trigger_type": "event",
            "trigger_config": {"event_type": "store_health_changed", "source": "store"},
            "conditions": [{"type": "store_status", "operator": "!=", "value": "active"}],
            "action_type": "send_notification",
            "action_config": {
                "recipients": ["owner", "collaborators"],
                "message": "Your store is no longer active. Please check it now.",
                "channels": ["email", "push"],
            },
            "risk_level": "low",
            "requires_approval": False,
            "auto_approval_rules": {},
        },
        base_score=0.35,
        general_reason="Every store benefits from hearing at once when something goes wrong.",
        scorers=(
            signal(
                "store_performance",
                (STRUGGLING, 0.2, "Your store performance is {v}, so catching problems early matters more."),
                (one_of("excellent"), -0.05, "Your store performance is {v}, so problems are less likely."),
            ),
        ),
    ),
    Template(
        key="conversion_drop_alert",
        name="Conversion Rate Drop Alert",
        description="Warns you when fewer than 1% of visitors have bought for an hour.",
        category="store",
        suggested_config={
            "name": "Conversion Rate Drop Alert",
            "description": "Alert when conversion rate stays below 1% for an hour",
            "category": "store",
            "trigger_type": "threshold",
            "trigger_config": {"metric": "conversion_rate", "operator": "<", "value": 1, "for_minutes": 60},
            "conditions": [],
            "action_type": "send_notification",
            "action_config": {
                "recipients": ["owner", "collaborators"],
                "message": "Your conversion rate has been below 1% for an hour.",
                "channels": ["email", "push"],
            },
            "risk_level": "low",
            "requires_approval": False,
            "auto_approval_rules": {},
        },
        base_score=0.25,
        general_reason="A falling conversion rate is often the first sign of a broken checkout or page.",
        scorers=(
            signal(
                "conversion_rate",
                (below(1), 0.4, "Your conversion rate is {v}, already below the 1% this alert watches."),
                (below(2), 0.25, "Your conversion rate is {v}, below the 2% most stores reach."),
                (at_least(5), -0.1, "Your conversion rate is {v}, well above 1%, so this alert would rarely fire."),
            ),
            signal(
                "store_performance",
                (STRUGGLING, 0.15, "Your store performance is {v}, so you'll want to know when sales stall."),
            ),
        ),
    ),
    Template(
        key="traffic_drop_alert",
        name="Traffic Drop Alert",
        description="Pushes you a note when visitors stay below 100 a day for two hours.",
        category="store",
        suggested_config={
            "name": "Traffic Drop Alert",
            "description": "Alert when store traffic stays below 100 for two hours",
            "category": "store",
            "trigger_type": "threshold",
            "trigger_config": {"metric": "store_traffic", "operator": "<", "value": 100, "for_minutes": 120},
            "conditions": [],
            "action_type": "send_notification",
            "action_config": {
                "recipients": ["owner"],
                "message": "Store traffic has been below 100 for two hours.",
                "channels": ["push"],
            },
            "risk_level": "low",
            "requires_approval": False,
            "auto_approval_rules": {},
        },
        base_score=0.2,
        general_reason="A sudden drop in visitors usually means a broken link, ad or listing.",
        scorers=(
            signal(
                "store_traffic",
                (below(100), 0.3, "Your store traffic is {v} visitor{s} a day, under the 100 this alert watches."),
                (below(300), 0.15, "Your store traffic is {v} visitor{s} a day, close to the 100 this alert watches."),
                (at_least(5000), -0.05, "Your store traffic is {v} visitor{s} a day, far above 100."),
            ),
            signal(
                "store_performance",
                (STRUGGLING, 0.2, "Your store performance is {v}, so a fall in visitors needs quick attention."),
                (one_of("excellent"), -0.05, "Your store performance is {v}, so traffic problems are less likely."),
            ),
        ),
    ),
    Template(
        key="weekly_performance_report",
        name="Weekly Performance Report",
        description="Runs your store report workflow every Monday morning.",
        category="store",
        suggested_config={
            "name": "Weekly Performance Report",
            "description": "Build a store performance report every Monday",
            "category": "store",
            "trigger_type": "schedule",
            "trigger_config": {"pattern": "weekly", "day": "monday", "time": "08:00"},
            "conditions": [],
            "action_type": "start_workflow",
            "action_config": {"workflow_type_id": "store_report", "template_id": "weekly_summary"},
            "risk_level": "low",
            "requires_approval": False,
            "auto_approval_rules": {},
        },
        base_score=0.3,
        general_reason="A weekly look at your numbers helps you spot trends before they cost you.",
        scorers=(
            signal(
                "store_performance",
                (STRUGGLING, 0.15, "Your store performance is {v}; a weekly report shows where it is slipping."),
                (one_of("average"), 0.05, "Your store performance is {v}; a weekly report shows what to improve."),
            ),
        ),
    ),
    Template(
        key="holiday_storefront_refresh",
        name="Holiday Storefront Refresh",
        description="Switches your store to its holiday theme and banner when the holiday season starts.",
        category="store",
        suggested_config={
            "name": "Holiday Storefront Refresh",
            "description": "Switch to the holiday theme at the start of the holiday season",
            "category": "store",
            "trigger_type": "schedule",
            "trigger_config": {"pattern": "seasonal", "season": "holiday_season", "time": "07:00"},
            "conditions": [],
            "action_type": "update_store",
            "action_config": {"settings": {"theme": "holiday", "banner_text": "Holiday deals are here"}},
            "risk_level": "high",
            "requires_approval": True,
            "auto_approval_rules": {},
        },
        base_score=0.15,
        general_reason="A seasonal look tells returning visitors there is something new.",
        scorers=(
            signal(
                "seasonal_context",
                (one_of(Season.HOLIDAY_SEASON), 0.35, "It's {v}, when a festive storefront lifts sales."),
                (HOLIDAY_RUN_UP, 0.15, "It's {v}, right before the holiday season."),
                (anything, -0.05, "It's {v}, months away from the holiday season."),
            ),
        ),
    ),
    # marketing ----------------------------------------------------------------------------------
    Template(
        key="new_product_announcement",
        name="New Product Announcement",
        description="Creates an email and social campaign whenever you add a product.",
        category="marketing",
        suggested_config={
            "name": "New Product Announcement",
            "description": "Announce every new product by email and on social media",
            "category": "marketing",
            "trigger_type": "event",
            "trigger_config": {"event_type": "product_added"},
            "conditions": [],
            "action_type": "generate_campaign",
            "action_config": {
                "template_id": "new_product_spotlight",
                "channels": ["email", "social"],
                "schedule": "immediate",
            },
            "risk_level": "low",
            "requires_approval": False,
            "auto_approval_rules": {},
        },
        base_score=0.35,
        general_reason="New products get their first sales from people who hear about them.",
        scorers=(
            signal(
                "has_email_list",
                (is_true, 0.15, "You have an email list, so announcements reach people who asked to hear from you."),
                (is_false, -0.15, "You have no email list yet, so only the social posts would reach anyone."),
            ),
            signal(
                "recent_campaigns",
                (one_of(0), 0.1, "You've run {v} campaign{s} recently; announcing new products is an easy start."),
            ),
            signal(
                "customer_count",
                (at_least(100), 0.1, "You have {v} customer{s} to tell about new products."),
                (below(10), -0.1, "You have {v} customer{s}, so few people would see an announcement yet."),
            ),
        ),
    ),
    Template(
        key="weekly_campaign_generator",
        name="Weekly Campaign Generator",
        description="Creates an email promotion every Monday morning.",
        category="marketing",
        suggested_config={
            "name": "Weekly Campaign Generator",
            "description": "Create campaigns every Monday",
            "category": "marketing",
            "trigger_type": "schedule",
            "trigger_config": {"pattern": "weekly", "day": "monday", "time": "09:00"},
            "conditions": [],
            "action_type": "generate_campaign",
            "action_config": {"template_id": "weekly_promo", "channels": ["email"]},
            "risk_level": "medium",
            "requires_approval": False,
            "auto_approval_rules": {},
        },
        base_score=0.35,
        general_reason="A steady rhythm of promotions keeps customers coming back.",
        scorers=(
            signal(
                "recent_campaigns",
                (
                    one_of(0),
                    0.25,
                    "You've run {v} campaign{s} recently; a weekly campaign keeps customers hearing from you.",
                ),
                (below(3), 0.1, "You've run only {v} campaign{s} recently."),
                (at_least(8), -0.2, "You've already run {v} campaign{s} recently, more than one a week."),
            ),
            signal(
                "days_since_last_campaign",
                (at_least(30), 0.2, "Your last campaign was {v} day{s} ago."),
                (at_least(14), 0.1, "Your last campaign was {v} day{s} ago."),
                (below(4), -0.1, "Your last campaign was only {v} day{s} ago."),
            ),
            signal(
                "has_email_list",
                (is_true, 0.05, "You have an email list to send it to."),
                (is_false, -0.15, "You have no email list yet, and this campaign goes out by email."),
            ),
        ),
    ),
    Template(
        key="browse_abandonment_follow_up",
        name="Browse Abandonment Follow-Up",
        description="Sends a reminder campaign to customers who looked at a product but didn't buy within 2 days.",
        category="marketing",
        suggested_config={
            "name": "Browse Abandonment Follow-Up",
            "description": "Remind customers about products they viewed but didn't buy",
            "category": "marketing",
            "trigger_type": "behavior",
            "trigger_config": {"behavior_type": "product_viewed_not_bought", "timeframe_hours": 48},
            "conditions": [],
            "action_type": "generate_campaign",
            "action_config": {"template_id": "browse_reminder", "channels": ["email"]},
            "risk_level": "low",
            "requires_approval": False,
            "auto_approval_rules": {},
        },
        base_score=0.2,
        general_reason="Shoppers who looked once are the most likely to come back and buy.",
        scorers=(
            signal(
                "conversion_rate",
                (below(2), 0.3, "Your conversion rate is {v}, so most visitors leave without buying."),
                (below(5), 0.1, "Your conversion rate is {v}; a reminder turns some lookers into buyers."),
                (anything, -0.1, "Your conversion rate is {v}, already high."),
            ),
            signal(
                "store_traffic",
                (at_least(500), 0.1, "You get {v} visitor{s} a day, many of whom browse without buying."),
            ),
        ),
    ),
    Template(
        key="monthly_newsletter_draft",
        name="Monthly Newsletter Draft",
        description="Drafts your monthly newsletter on the 1st of each month for you to review.",
        category="marketing",
        suggested_config={
            "name": "Monthly Newsletter Draft",
            "description": "Draft a newsletter on the 1st of every month",
            "category": "marketing",
            "trigger_type": "schedule",
            "trigger_config": {"pattern": "monthly", "day_of_month": 1, "time": "09:00"},
            "conditions": [],
            "action_type": "generate_draft",
            "action_config": {
                "workflow_type_id": "content_writer",
                "template_id": "monthly_newsletter",
                "title": "Monthly newsletter",
            },
            "risk_level": "low",
            "requires_approval": False,
            "auto_approval_rules": {},
        },
        base_score=0.25,
        general_reason="A monthly note keeps your store in mind, and a draft saves you the blank page.",
        scorers=(
            signal(
                "has_email_list",
                (is_true, 0.2, "You have an email list that a newsletter would reach."),
                (is_false, -0.15, "You have no email list yet, so a newsletter would have no readers."),
            ),
            signal(
                "days_since_last_campaign",
                (at_least(30), 0.15, "Your last campaign was {v} day{s} ago."),
            ),
            signal("customer_count", (at_least(100), 0.05, "You have {v} customer{s} to keep in touch with.")),
        ),
    ),
    # campaign -----------------------------------------------------------------------------------
    Template(
        key="holiday_season_campaign",
        name="Holiday Season Campaign",
        description="Launches an email, social and ads promotion when the holiday season starts, after approval.",
        category="campaign",
        suggested_config={
            "name": "Holiday Season Campaign",
            "description": "Launch the holiday promotion at the start of the holiday season",
            "category": "campaign",
            "trigger_type": "schedule",
            "trigger_config": {"pattern": "seasonal", "season": "holiday_season", "time": "09:00"},
            "conditions": [],
            "action_type": "generate_campaign",
            "action_config": {
                "template_id": "holiday_promo",
                "channels": ["email", "social", "ads"],
                "schedule": "immediate",
                "budget": 500,
            },
            "risk_level": "high",
            "requires_approval": True,
            "auto_approval_rules": {},
        },
        base_score=0.2,
        general_reason="The holiday season is the busiest shopping time of the year.",
        scorers=(
            signal(
                "seasonal_context",
                (one_of(Season.HOLIDAY_SEASON), 0.45, "It's {v}, the busiest shopping time of the year."),
                (HOLIDAY_RUN_UP, 0.25, "It's {v}, right before the holiday season."),
                (anything, -0.1, "It's {v}, months away from the holiday season."),
            ),
            signal(
                "recent_campaigns",
                (one_of(0), 0.1, "You've run {v} campaign{s} recently, so a seasonal push stands out."),
                (at_least(8), -0.05, "You've already run {v} campaign{s} recently."),
            ),
            signal("store_performance", (THRIVING, 0.05, "Your store performance is {v}, ready for more visitors.")),
        ),
    ),
    Template(
        key="black_friday_landing_page",
        name="Black Friday Landing Page",
        description="Prepares a Black Friday deals page as a draft for you to publish.",
        category="campaign",
        suggested_config={
            "name": "Black Friday Landing Page",
            "description": "Prepare the Black Friday deals page",
            "category": "campaign",
            "trigger_type": "schedule",
            "trigger_config": {"pattern": "seasonal", "season": "black_friday", "time": "08:00"},
            "conditions": [],
            "action_type": "create_landing_page",
            "action_config": {
                "template_id": "black_friday_deals",
                "title": "Black Friday Deals",
                "slug": "black-friday",
                "publish": False,
            },
            "risk_level": "medium",
            "requires_approval": False,
            "auto_approval_rules": {},
        },
        base_score=0.2,
        general_reason="A dedicated deals page gives Black Friday shoppers one place to land.",
        scorers=(
            signal(
                "seasonal_context",
                (one_of(Season.BLACK_FRIDAY, Season.CYBER_MONDAY), 0.5, "It's {v}, when deal hunters are out."),
                (one_of(Season.AUTUMN), 0.3, "It's {v}, with Black Friday ahead."),
                (one_of(Season.HOLIDAY_SEASON), -0.1, "It's {v}, with Black Friday behind you."),
                (anything, -0.1, "It's {v}, far from Black Friday."),
            ),
            signal("product_count", (below(3), -0.1, "With only {v} product{s}, a deals page would look thin.")),
        ),
    ),
    Template(
        key="site_launch_campaign",
        name="Marketing Site Launch Campaign",
        description="Announces your marketing site on social media and by email when it goes live.",
        category="campaign",
        suggested_config={
            "name": "Marketing Site Launch Campaign",
            "description": "Announce the marketing site when it is deployed",
            "category": "campaign",
            "trigger_type": "event",
            "trigger_config": {"event_type": "marketing_site_deployed"},
            "conditions": [],
            "action_type": "generate_campaign",
            "action_config": {"template_id": "site_launch", "channels": ["social", "email"], "schedule": "immediate"},
            "risk_level": "medium",
            "requires_approval": False,
            "auto_approval_rules": {},
        },
        base_score=0.25,
        general_reason="A new site gets its first visitors from the people you tell about it.",
        scorers=(
            signal(
                "recent_campaigns",
                (one_of(0), 0.15, "You've run {v} campaign{s} recently; a launch is a natural first one."),
                (at_least(8), -0.1, "You've already run {v} campaign{s} recently."),
            ),
        ),
    ),
    Template(
        key="campaign_underperformance_alert",
        name="Campaign Underperformance Alert",
        description="Emails you when your running campaigns' click-through rate falls below 1%.",
        category="campaign",
        suggested_config={
            "name": "Campaign Underperformance Alert",
            "description": "Alert when campaign click-through drops below 1%",
            "category": "campaign",
            "trigger_type": "threshold",
            "trigger_config": {"metric": "campaign_performance", "operator": "<", "value": 1},
            "conditions": [],
            "action_type": "send_notification",
            "action_config": {
                "recipients": ["owner"],
                "message": "Your campaigns' click-through rate has fallen below 1%.",
                "channels": ["email"],
            },
            "risk_level": "low",
            "requires_approval": False,
            "auto_approval_rules": {},
        },
        base_score=0.15,
        general_reason="Campaigns that cost more than they earn are easy to miss.",
        scorers=(
            signal(
                "recent_campaigns",
                (at_least(3), 0.3, "You've run {v} campaign{s} recently, worth keeping an eye on."),
                (at_least(1), 0.15, "You've run {v} campaign{s} recently."),
                (anything, -0.1, "You've run {v} campaign{s} recently, so there is nothing to watch yet."),
            ),
        ),
    ),
    # customer -----------------------------------------------------------------------------------
    Template(
        key="abandoned_cart_recovery",
        name="Abandoned Cart Recovery",
        description="Sends a reminder to customers who left a cart without ordering for 24 hours.",
        category="customer",
        suggested_config={
            "name": "Abandoned Cart Recovery",
            "description": "Remind customers about the cart they left behind",
            "category": "customer",
            "trigger_type": "behavior",
            "trigger_config": {"behavior_type": "abandoned_cart", "timeframe_hours": 24},
            "conditions": [],
            "action_type": "generate_campaign",
            "action_config": {"template_id": "abandoned_cart_reminder", "channels": ["email"]},
            "risk_level": "low",
            "requires_approval": False,
            "auto_approval_rules": {},
        },
        base_score=0.3,
        general_reason="Cart reminders are among the best-paying automations for online stores.",
        scorers=(
            signal(
                "abandoned_carts",
                (
                    at_least(10),
                    0.45,
                    "You had {v} abandoned cart{s} in the last 30 days, sales a reminder can win back.",
                ),
                (at_least(1), 0.25, "You had {v} abandoned cart{s} in the last 30 days."),
                (anything, -0.15, "You had {v} abandoned cart{s} in the last 30 days, so there is little to recover."),
            ),
            signal(
                "conversion_rate",
                (below(2), 0.1, "Your conversion rate is {v}, so many shoppers stop before paying."),
                (at_least(5), -0.05, "Your conversion rate is {v}, already high."),
            ),
        ),
    ),
    Template(
        key="win_back_dormant_customers",
        name="Win Back Dormant Customers",
        description="Sends a win-back offer to customers who have been inactive for 60 days.",
        category="customer",
        suggested_config={
            "name": "Win Back Dormant Customers",
            "description": "Send a win-back offer to customers who have gone quiet",
            "category": "customer",
            "trigger_type": "behavior",
            "trigger_config": {"behavior_type": "dormant_customer", "timeframe_hours": 1440},
            "conditions": [],
            "action_type": "generate_campaign",
            "action_config": {"template_id": "win_back_offer", "channels": ["email"]},
            "risk_level": "medium",
            "requires_approval": False,
            "auto_approval_rules": {},
        },
        base_score=0.25,
        general_reason="Bringing back a past customer costs less than finding a new one.",
        scorers=(
            signal(
                "customer_count",
                (at_least(200), 0.2, "You have {v} customer{s}, some of whom have surely gone quiet."),
                (at_least(50), 0.1, "You have {v} customer{s} to keep active."),
                (below(20), -0.15, "You have {v} customer{s}, too few for many to have gone quiet."),
            ),
            signal(
                "store_performance",
                (STRUGGLING, 0.2, "Your store performance is {v}; past customers are the cheapest sales to win."),
            ),
            no_email_list(-0.1, "You have no email list yet, and the offer goes out by email."),
        ),
    ),
    Template(
        key="vip_customer_alert",
        name="VIP Customer Alert",
        description="Tells you and your collaborators when a customer spends 500 or more within 30 days.",
        category="customer",
        suggested_config={
            "name": "VIP Customer Alert",
            "description": "Alert when a customer spends 500 or more within 30 days",
            "category": "customer",
            "trigger_type": "behavior",
            "trigger_config": {"behavior_type": "high_value_customer", "timeframe_hours": 720, "min_total": 500},
            "conditions": [],
            "action_type": "send_notification",
            "action_config": {
                "recipients": ["owner", "collaborators"],
                "message": (
                    "A customer has spent 500 or more in the last 30 days. A personal thank-you goes a long way."
                ),
                "channels": ["email"],
            },
            "risk_level": "low",
            "requires_approval": False,
            "auto_approval_rules": {},
        },
        base_score=0.25,
        general_reason="Your best customers deserve a personal touch.",
        scorers=(
            signal(
                "customer_count",
                (at_least(100), 0.15, "You have {v} customer{s}, so big spenders are worth singling out."),
                (below(10), -0.1, "You have {v} customer{s}, so you likely know each one already."),
            ),
            signal("store_performance", (THRIVING, 0.1, "Your store performance is {v}, with big orders coming in.")),
        ),
    ),
    Template(
        key="repeat_buyer_thank_you",
        name="Repeat Buyer Thank-You",
        description="Sends a loyalty thank-you to customers who buy again within 30 days.",
        category="customer",
        suggested_config={
            "name": "Repeat Buyer Thank-You",
            "description": "Thank customers who come back and buy again",
            "category": "customer",
            "trigger_type": "behavior",
            "trigger_config": {"behavior_type": "repeat_purchase", "timeframe_hours": 720},
            "conditions": [],
            "action_type": "generate_campaign",
            "action_config": {"template_id": "loyalty_thank_you", "channels": ["email"]},
            "risk_level": "low",
            "requires_approval": False,
            "auto_approval_rules": {},
        },
        base_score=0.2,
        general_reason="Thanking returning customers turns them into regulars.",
        scorers=(
            signal(
                "customer_count",
                (at_least(100), 0.15, "You have {v} customer{s}, enough for repeat buyers to matter."),
                (below(10), -0.1, "You have {v} customer{s}, so repeat purchases are still rare."),
            ),
            signal(
                "has_email_list",
                (is_true, 0.1, "You have an email list, so thank-you notes reach people."),
                (is_false, -0.1, "You have no email list yet, and the thank-you goes out by email."),
            ),
            signal("store_performance", (THRIVING, 0.1, "Your store performance is {v}, with customers returning.")),
        ),
    ),
    Template(
        key="welcome_new_customers",
        name="Welcome New Customers",
        description="Starts a welcome email series when a customer signs up.",
        category="customer",
        suggested_config={
            "name": "Welcome New Customers",
            "description": "Welcome every new customer with an email series",
            "category": "customer",
            "trigger_type": "event",
            "trigger_config": {"event_type": "customer_signup"},
            "conditions": [],
            "action_type": "generate_campaign",
            "action_config": {"template_id": "welcome_series", "channels": ["email"], "schedule": "immediate"},
            "risk_level": "low",
            "requires_approval": False,
            "auto_approval_rules": {},
        },
        base_score=0.3,
        general_reason="A welcome message is the email new customers open most.",
        scorers=(
            signal(
                "customer_count",
                (below(100), 0.1, "You have {v} customer{s}; a warm welcome helps early customers come back."),
                (at_least(1000), -0.05, "You have {v} customer{s}, so you may already welcome them another way."),
            ),
            signal("has_email_list", (is_true, 0.1, "You have an email list that new customers join.")),
        ),
    ),
)
