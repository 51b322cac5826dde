"""Classify executions stored before ``failure_kind`` existed, from their status and error_message.

Bounded batches in their own transactions (the migration is not atomic): each batch reads at most
BATCH ids above the last one seen and updates them grouped by kind, so no lock is held for long and an
interrupted run resumes where it stopped (rows already classified are skipped). Rows whose error names
no known cause get ``internal_error``, and pages show their raw error beside it (docs/failures.md).
"""

from django.db import migrations, transaction

BATCH = 2000
STATUSES = ["failed", "retrying", "blocked", "rejected", "cancelled"]


def classify_existing(apps, schema_editor):
    # The classifier is pure and reads the texts the pipeline has always written; imported rather than
    # copied so old and new rows are classified by the same table.
    from executions.failures import failure_kind_for

    Execution = apps.get_model("executions", "AutomationExecution")
    last_id = 0
    while True:
        rows = list(
            Execution.objects.filter(pk__gt=last_id, status__in=STATUSES, failure_kind="")
            .order_by("pk")
            .values_list("pk", "status", "error_message")[:BATCH]
        )
        if not rows:
            return
        by_kind: dict[str, list[int]] = {}
        for pk, status, error in rows:
            by_kind.setdefault(failure_kind_for(status, error), []).append(pk)
        with transaction.atomic():
            for kind, ids in by_kind.items():
                Execution.objects.filter(pk__in=ids, failure_kind="").update(failure_kind=kind)
        last_id = rows[-1][0]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("executions", "0014_failure_kind"),
    ]

    operations = [
        migrations.RunPython(classify_existing, migrations.RunPython.noop, elidable=True),
    ]
