"""Print an API token for a user with a role in a tenant, creating what is missing."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.authtoken.models import Token

from governance.choices import Role
from governance.services import membership_set, tenant_get_or_create


class Command(BaseCommand):
    help = "Create (if missing) the tenant, the user and their membership, and print only the user's API token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--tenant", required=True, help="Tenant id, e.g. tenant_test (created if missing).")
        parser.add_argument(
            "--role",
            default=Role.OWNER,
            choices=Role.values,
            help="owner, collaborator, council (member of the tenant's default council) or viewer.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = tenant_get_or_create(options["tenant"])
        except ValidationError as error:
            raise CommandError(f"Invalid tenant: {'; '.join(error.messages)}") from error
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username=options["username"])
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        membership_set(tenant, user, options["role"])
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
