"""Exporting executions as CSV or JSON, streamed (docs/api.md, "Export executions").

The rows are read in keyset chunks of ``EXPORT_CHUNK`` (newest first, through the (tenant, triggered_at)
index), each chunk one short query with only the exported columns, and written out as they are read: the
memory an export takes does not grow with the number of executions, and no transaction or cursor stays
open between chunks.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any, Final

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet

from executions.choices import ExecutionOutcome, ExecutionStatus
from executions.models import AutomationExecution
from executions.selectors import older_than

EXPORT_CHUNK: Final = 1000
EXPORT_FORMATS: Final = ("csv", "json")

# Column -> the value read for it (``values_list`` names); the order of the CSV columns and JSON keys.
EXPORT_COLUMNS: Final = {
    "id": "id",
    "tenant_id": "tenant_id",
    "automation_rule_id": "automation_rule_id",
    "rule_name": "automation_rule__name",
    "rule_archived": "automation_rule__deleted_at",
    "triggered_at": "triggered_at",
    "trigger_source": "trigger_source",
    "status": "status",
    "outcome": "recorded_only",
    "failure_kind": "failure_kind",
    "error_message": "error_message",
    "required_approval": "required_approval",
    "approved_by_user_id": "approved_by_user_id",
    "action_started_at": "action_started_at",
    "action_completed_at": "action_completed_at",
    "execution_time_ms": "execution_time_ms",
}
# Spreadsheets run a cell starting with one of these as a formula: such text is written with a leading '.
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def export_rows(executions: QuerySet[AutomationExecution]) -> Iterator[dict[str, Any]]:
    """The executions (already scoped and filtered) as export rows, newest first, read in keyset chunks."""
    fields = list(EXPORT_COLUMNS.values())
    ordered = executions.order_by("-triggered_at", "-id")
    after: tuple[dt.datetime, int] | None = None
    while True:
        chunk = ordered
        if after is not None:
            chunk = older_than(chunk, after)
        values = list(chunk.values_list(*fields)[:EXPORT_CHUNK])
        for row in values:
            yield _export_row(dict(zip(EXPORT_COLUMNS, row, strict=True)))
        if len(values) < EXPORT_CHUNK:
            return
        last = values[-1]
        after = (last[fields.index("triggered_at")], last[0])


def _export_row(row: dict[str, Any]) -> dict[str, Any]:
    row["rule_archived"] = row["rule_archived"] is not None
    recorded_only = row["outcome"] and row["status"] == ExecutionStatus.SUCCEEDED
    row["outcome"] = str(ExecutionOutcome.RECORDED_ONLY) if recorded_only else row["status"]
    return row


class _Echo:
    """A file-like object whose ``write`` returns what it was given (csv.writer into a generator)."""

    def write(self, value: str) -> str:
        return value


def _csv_cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def export_csv(executions: QuerySet[AutomationExecution]) -> Iterator[str]:
    """The export as CSV text, a header then one line per execution."""
    writer = csv.writer(_Echo())
    yield writer.writerow(list(EXPORT_COLUMNS))
    for row in export_rows(executions):
        yield writer.writerow([_csv_cell(value) for value in row.values()])


def export_json(executions: QuerySet[AutomationExecution]) -> Iterator[str]:
    """The export as one JSON array of objects, written an object at a time."""
    yield "["
    separator = "\n"
    for row in export_rows(executions):
        yield separator + json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False)
        separator = ",\n"
    yield "\n]\n"
