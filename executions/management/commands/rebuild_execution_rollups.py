"""Correct the daily execution roll-ups from the raw executions still kept (docs/analytics.md).

Safe to run again and while workers run: each batch of rules adds the difference between a recount and
the stored roll-ups, read from one snapshot; days whose raw executions may have been pruned keep their
roll-ups. Run it once after deploying the release that added roll-ups (existing installs).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from executions.rollups import REBUILD_RULES_PER_BATCH, rollups_rebuild


class Command(BaseCommand):
    help = "Correct the daily execution roll-ups from raw executions (safe to run again, and while workers run)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", action="append", dest="tenants", help="Only this tenant (repeatable).")
        parser.add_argument(
            "--batch-rules",
            type=int,
            default=REBUILD_RULES_PER_BATCH,
            help=f"Rules per transaction (default {REBUILD_RULES_PER_BATCH}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = rollups_rebuild(options["tenants"], batch_rules=max(1, int(options["batch_rules"])))
        self.stdout.write(
            f"{result.tenants} tenant(s), {result.batches} batch(es): {result.keys_corrected} roll-up row(s) "
            f"corrected, {result.executions_added:+d} execution(s)"
        )
