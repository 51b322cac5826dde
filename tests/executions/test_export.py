"""Exporting executions (docs/api.md, "Export executions"): CSV and JSON streamed with the activity log's
filters, scoped to the caller's tenants, linked from /portal/activity, in flat memory."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from automations.services import rule_archive
from executions.models import AutomationExecution
from tests.api import token_client
from tests.factories import make_execution, make_rule

pytestmark = pytest.mark.django_db


def body(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def csv_rows(response) -> list[dict[str, str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(body(response))))


def test_csv_and_json_follow_the_filters_newest_first(tenant, owner):
    # given: a rule with a success and two failures, and an archived rule with one failure
    rule = make_rule(tenant, owner, name="Restock")
    old = make_rule(tenant, owner, name="Old promo")
    now = timezone.now()
    make_execution(rule, "succeeded", triggered_at=now - dt.timedelta(hours=3))
    make_execution(rule, "failed", triggered_at=now - dt.timedelta(hours=2), error_message="=HYPERLINK(1)")
    newest = make_execution(rule, "failed", triggered_at=now - dt.timedelta(hours=1), error_message="timeout")
    make_execution(old, "failed", triggered_at=now, error_message="gone")
    rule_archive(old, owner)
    api = token_client(owner)

    # when
    failed_csv = csv_rows(api.get("/api/executions/export", {"format": "csv", "status": "failed"}))
    restock_json = api.get("/api/executions/export", {"format": "json", "q": "restock", "status": "failed"})

    # then: the filters apply, newest first, archived rules marked, formulas never run in a spreadsheet
    assert [row["rule_name"] for row in failed_csv] == ["Old promo", "Restock", "Restock"]
    assert [row["rule_archived"] for row in failed_csv] == ["True", "False", "False"]
    assert failed_csv[2]["error_message"] == "'=HYPERLINK(1)"
    assert restock_json["Content-Type"] == "application/json"
    assert "attachment" in restock_json["Content-Disposition"]
    rows = json.loads(body(restock_json))
    assert [row["id"] for row in rows] == [newest.pk, newest.pk - 1]
    assert rows[0]["status"] == "failed" and rows[0]["outcome"] == "failed" and rows[0]["rule_archived"] is False
    assert set(rows[0]) >= {"triggered_at", "trigger_source", "failure_kind", "execution_time_ms", "error_message"}


def test_bad_input_is_a_400_naming_the_field(tenant, owner):
    api = token_client(owner)
    response = api.get("/api/executions/export", {"format": "xlsx"})
    assert response.status_code == 400 and "format" in response.json()
    response = api.get("/api/executions/export", {"format": "csv", "status": "nope"})
    assert response.status_code == 400 and "status" in response.json()


def test_each_caller_exports_only_its_tenants(tenant, owner, other_tenant, other_owner, collaborator):
    mine = make_execution(make_rule(tenant, owner))
    theirs = make_execution(make_rule(other_tenant, other_owner))

    assert [int(r["id"]) for r in csv_rows(token_client(owner).get("/api/executions/export"))] == [mine.pk]
    assert [int(r["id"]) for r in csv_rows(token_client(other_owner).get("/api/executions/export"))] == [theirs.pk]
    # any role may read, as the activity log; another tenant's id selects nothing
    assert [int(r["id"]) for r in csv_rows(token_client(collaborator).get("/api/executions/export"))] == [mine.pk]
    other = token_client(owner).get("/api/executions/export", {"tenant_id": other_tenant.pk})
    assert csv_rows(other) == []
    assert token_client(None).get("/api/executions/export").status_code in (401, 403)


def test_the_activity_log_links_to_the_export_of_what_it_shows(tenant, owner, other_tenant, other_owner):
    # given: alice belongs to a second tenant too, with its own execution
    from governance.portal import SESSION_KEY
    from governance.services import membership_set

    membership_set(other_tenant, owner, "viewer")
    make_execution(make_rule(other_tenant, other_owner), "failed")
    failed = make_execution(make_rule(tenant, owner, name="Mine"), "failed")
    make_execution(make_rule(tenant, owner, name="Mine too"), "succeeded")
    client = Client()
    client.force_login(owner)
    session = client.session
    session[SESSION_KEY] = tenant.pk  # the portal shows tenant_test
    session.save()

    # when
    page = client.get("/portal/activity", {"status": "failed"}).content.decode()

    # then: the CSV link carries the filters and the portal's tenant, and answers with just that
    start = page.index("data-activity-export")
    href = page[page.index('href="', start) + 6 : page.index('"', page.index('href="', start) + 6)]
    href = href.replace("&amp;", "&")
    assert "status=failed" in href and f"tenant_id={tenant.pk}" in href and "format=csv" in href
    assert [int(row["id"]) for row in csv_rows(client.get(href))] == [failed.pk]


def resident_peak_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/self/status")


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc/self/clear_refs")
@pytest.mark.slow
def test_the_export_streams_100k_rows_in_flat_memory(tenant, owner):
    # given
    rule = make_rule(tenant, owner)
    api = token_client(owner)

    def add(count: int) -> None:
        """``count`` executions: one saved, then copied by the database itself (doubling, set-based)."""
        make_execution(rule, status="failed", error_message="the receiver answered 500", execution_time_ms=12.5)
        columns = ", ".join(
            connection.ops.quote_name(field.column)
            for field in AutomationExecution._meta.concrete_fields
            if not field.primary_key
        )
        table = connection.ops.quote_name(AutomationExecution._meta.db_table)
        with connection.cursor() as cursor:
            while (have := AutomationExecution.objects.count()) < count:
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table} LIMIT %s", [min(have, count - have)]
                )

    def export_peak(kind: str) -> tuple[int, int, int]:
        """(lines, bytes, growth of the process's peak resident memory) while the whole export streams and is
        thrown away. The peak is Linux's high-water mark, reset first through /proc/self/clear_refs: no
        tracing overhead, and it counts every byte the process holds (rows, objects, buffers)."""
        response = api.get("/api/executions/export", {"format": kind})
        Path("/proc/self/clear_refs").write_text("5")
        before = resident_peak_bytes()
        lines = size = 0
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")
            size += len(chunk)
        return lines, size, resident_peak_bytes() - before

    # when: 100,000 executions are exported as CSV and as JSON
    add(100_000)
    exported = {kind: export_peak(kind) for kind in ("csv", "json")}

    # then: every row streamed, while the process's peak memory grew by a fraction of the export's own size
    # (a buffered export would hold all of it, and 100,000 rows' objects besides: hundreds of MB)
    assert exported["csv"][0] == 100_001 and exported["json"][0] >= 100_001
    for kind, (_lines, size, peak) in exported.items():
        assert size > 10 * 1024 * 1024, (kind, size)
        assert peak < min(size / 2, 8 * 1024 * 1024), (kind, size, peak)
