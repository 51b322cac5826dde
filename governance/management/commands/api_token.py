"""Print a new API token for a user with a role in a tenant, creating what is missing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from governance.choices import Role
from governance.services import api_token_create, membership_set, tenant_get_or_create

DEFAULT_NAME = "api_token command"


def positive_days(value: str) -> float:
    try:
        days = float(value)
    except ValueError:
        days = 0.0
    if not 0 < days <= 36500:
        raise ValueError(value)
    return days


class Command(BaseCommand):
    help = (
        "Create (if missing) the tenant, the user and their membership, and print only a new API token for the "
        "user. Each run makes a new token (keys are stored hashed, so an old one cannot be shown again); earlier "
        "tokens keep working until they expire or are revoked (api_token_revoke)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--tenant", required=True, help="Tenant id, e.g. tenant_test (created if missing).")
        parser.add_argument(
            "--role",
            default=Role.OWNER,
            choices=Role.values,
            help="owner, collaborator, council (member of the tenant's default council) or viewer.",
        )
        parser.add_argument("--name", default=DEFAULT_NAME, help=f'A label for the token (default "{DEFAULT_NAME}").')
        parser.add_argument(
            "--expires-in",
            type=positive_days,
            metavar="DAYS",
            help="The token stops working after this many days (default: never).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        expires_in = options["expires_in"]
        expires_at = timezone.now() + dt.timedelta(days=expires_in) if expires_in else None
        try:
            with transaction.atomic():
                tenant = tenant_get_or_create(options["tenant"])
                user_model = get_user_model()
                user, created = user_model.objects.get_or_create(username=options["username"])
                if created:
                    user.set_unusable_password()
                    user.save(update_fields=["password"])
                membership_set(tenant, user, options["role"])
                _, key = api_token_create(user, options["name"], expires_at=expires_at)
        except ValidationError as error:
            raise CommandError(f"Invalid input: {'; '.join(error.messages)}") from error
        self.stdout.write(key)
