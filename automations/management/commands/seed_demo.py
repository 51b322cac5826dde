"""Seed the demo tenant, its people and sample automations. Safe to run again: nothing is duplicated."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from automations.demo import DEMO_TENANT_ID, DEMO_TENANT_NAME, SAMPLE_AUTOMATIONS
from automations.models import AutomationRule
from automations.services import rule_create
from governance.choices import Role
from governance.services import membership_set, tenant_get_or_create

# Each with an email address, so a send_notification on the email channel shows in the console (make run).
DEMO_USERS = (
    ("demo_owner", Role.OWNER, "demo_owner@example.com"),
    ("demo_council", Role.COUNCIL, "demo_council@example.com"),
)


class Command(BaseCommand):
    help = "Create tenant_demo with an owner, a council member and sample automations (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get("DEMO_PASSWORD", "demo-password")
        tenant = tenant_get_or_create(DEMO_TENANT_ID, name=DEMO_TENANT_NAME)
        owner = None
        for username, role, email in DEMO_USERS:
            user, created = get_user_model().objects.get_or_create(
                username=username, defaults={"is_staff": True, "email": email}
            )
            if created:
                # Staff only to reach /admin/; what they may see and do there is their role's (the
                # permission policy), so no Django model permission is granted.
                user.set_password(password)
                user.save()
            elif not user.email:
                user.email = email  # a demo seeded before the users had addresses
                user.save(update_fields=["email"])
            membership_set(tenant, user, role)
            owner = owner or user
        created_count = 0
        for sample in SAMPLE_AUTOMATIONS:
            if not AutomationRule.all_objects.filter(tenant=tenant, name=sample["name"]).exists():
                rule_create(tenant, sample, owner)
                created_count += 1
        self.stdout.write(
            f"Demo tenant {DEMO_TENANT_ID}: {created_count} automation(s) created, "
            f"{len(SAMPLE_AUTOMATIONS) - created_count} already there. "
            f"Sign in at /admin/ as demo_owner or demo_council (password from DEMO_PASSWORD, default 'demo-password')."
        )
