"""Revoke API tokens: one by the prefix the admin shows, a user's tokens of one name, or all of a user's."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.common.words import plural
from governance.models import ApiToken
from governance.services import api_token_revoke


class Command(BaseCommand):
    help = "Revoke a user's API tokens: those with --prefix, those named --name, or --all of them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--prefix", help="The token's first characters, as the admin lists them.")
        which.add_argument("--name", help="Every token of the user with this name.")
        which.add_argument("--all", action="store_true", help="Every token of the user.")

    def handle(self, *args: Any, **options: Any) -> None:
        tokens = ApiToken.objects.filter(user__username=options["username"])
        if options["prefix"]:
            tokens = tokens.filter(prefix__startswith=options["prefix"])
        elif options["name"]:
            tokens = tokens.filter(name=options["name"])
        if not tokens.exists():
            raise CommandError(f"No such token of {options['username']!r}.")
        count = api_token_revoke(tokens)
        self.stdout.write(f"Revoked {plural(count, 'token')}.")
