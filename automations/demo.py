"""The demo tenant's sample automations: all four trigger types, including the spec's two.

The last two keep ``make run``'s demo store busy (docs/demo.md): a schedule that fires every minute and a
restock that waits for the council whenever the simulated store runs low.
"""

from __future__ import annotations

from typing import Any

DEMO_TENANT_ID = "tenant_demo"
DEMO_TENANT_NAME = "Demo Store"

SAMPLE_AUTOMATIONS: list[dict[str, Any]] = [
    {
        "name": "Low Product Alert",
        "description": "Alert when product count drops below 3",
        "category": "product",
        "trigger_type": "threshold",
        "trigger_config": {"metric": "product_count", "operator": "<", "value": 3},
        "conditions": [{"type": "store_status", "operator": "=", "value": "active"}],
        "action_type": "send_notification",
        "action_config": {"recipients": ["owner"], "message": "Low product count"},
        "risk_level": "low",
    },
    {
        "name": "Weekly Campaign Generator",
        "description": "Create campaigns every Monday",
        "category": "marketing",
        "trigger_type": "schedule",
        "trigger_config": {"pattern": "weekly", "day": "monday", "time": "09:00"},
        "action_type": "generate_campaign",
        "action_config": {"template_id": "weekly_promo", "channels": ["email"]},
        "risk_level": "medium",
    },
    {
        "name": "Landing Page for New Products",
        "description": "Build a landing page whenever the store adds a product",
        "category": "product",
        "trigger_type": "event",
        # No source: every product_added event matches, the Testing Guide §3 snippet's (which names none) too.
        "trigger_config": {"event_type": "product_added"},
        "action_type": "create_landing_page",
        "action_config": {"template_id": "product_spotlight", "publish": False},
        "risk_level": "low",
    },
    {
        "name": "Abandoned Cart Reminder",
        "description": "Email shoppers who left items in their cart for a day",
        "category": "customer",
        "trigger_type": "behavior",
        "trigger_config": {"behavior_type": "abandoned_cart", "timeframe_hours": 24},
        "action_type": "generate_campaign",
        "action_config": {"template_id": "cart_reminder", "channels": ["email"], "schedule": "immediate"},
        "risk_level": "low",
    },
    {
        "name": "Black Friday Product Drop",
        "description": "Add five seasonal products on Black Friday morning",
        "category": "campaign",
        "trigger_type": "schedule",
        "trigger_config": {"pattern": "seasonal", "season": "black_friday", "time": "10:00"},
        "conditions": [{"type": "store_status", "operator": "=", "value": "active"}],
        "action_type": "add_product",
        "action_config": {"template_id": "holiday_product", "count": 5, "category": "seasonal", "budget": 250},
        "risk_level": "high",
        "requires_approval": True,
        "auto_approval_rules": {"max_budget": 100, "business_hours_only": True},
    },
    {
        "name": "VIP Thank-You Workflow",
        "description": "Start a thank-you workflow for customers who spent 500 or more this month",
        "category": "customer",
        "trigger_type": "behavior",
        "trigger_config": {"behavior_type": "high_value_customer", "timeframe_hours": 720, "min_total": 500},
        "action_type": "start_workflow",
        "action_config": {"workflow_type_id": "customer_thank_you", "template_id": "vip_note", "inputs": {}},
        "risk_level": "low",
    },
    {
        "name": "Store Health Alert",
        "description": "Tell the team when the store's health changes away from active",
        "category": "store",
        "trigger_type": "event",
        "trigger_config": {"event_type": "store_health_changed"},
        "conditions": [{"type": "store_status", "operator": "!=", "value": "active"}],
        "action_type": "send_notification",
        "action_config": {
            "recipients": ["owner", "collaborators"],
            "message": "The store needs attention",
            "channels": ["email"],
        },
        "risk_level": "low",
    },
    {
        "name": "Conversion Drop Draft",
        "description": "Draft a recovery workflow when conversion stays under 2% for an hour",
        "category": "marketing",
        "trigger_type": "threshold",
        # conversion_rate is in percent (docs/listeners.md): 2 means 2 %.
        "trigger_config": {"metric": "conversion_rate", "operator": "<", "value": 2, "for_minutes": 60},
        "action_type": "generate_draft",
        "action_config": {"workflow_type_id": "conversion_recovery", "title": "Win back conversions"},
        "risk_level": "medium",
        "auto_approval_rules": {"max_frequency_per_day": 1},
    },
    {
        "name": "Rotate Homepage Banner",
        "description": "Swap the homepage banner every minute (the demo's quick schedule)",
        "category": "store",
        "trigger_type": "schedule",
        "trigger_config": {"pattern": "cron", "cron": "* * * * *"},
        "action_type": "update_store",
        "action_config": {"settings": {"homepage_banner": "rotate"}},
        "risk_level": "low",
    },
    {
        "name": "Restock When Products Run Low",
        "description": "Order three restock products when fewer than 3 are left; spending waits for the council",
        "category": "product",
        "trigger_type": "threshold",
        "trigger_config": {"metric": "product_count", "operator": "<", "value": 3},
        "action_type": "add_product",
        "action_config": {"template_id": "restock_basic", "count": 3, "category": "restock", "budget": 150},
        "risk_level": "high",
        "auto_approval_rules": {"max_budget": 100},
    },
]
