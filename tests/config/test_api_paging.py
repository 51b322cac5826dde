"""Every list endpoint reads ``limit`` and ``offset`` with the one helper (automations.api.inputs):
a limit below 1, a negative offset or either not a whole number is a 400 naming the parameter (docs/api.md)."""

from __future__ import annotations

import pytest

from tests.api import token_client

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/automations",
    "/api/automations/{rule}/executions",
    "/api/executions",
    "/api/notifications",
    "/api/approvals",
    "/api/webhook-endpoints",
]
BAD_QUERIES = [
    ("limit=-1", "limit"),
    ("limit=0", "limit"),
    ("limit=abc", "limit"),
    ("limit=1.5", "limit"),
    ("offset=-1", "offset"),
    ("offset=abc", "offset"),
    ("limit=-1&offset=-1", "limit"),
]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(("query", "field"), BAD_QUERIES)
def test_every_list_refuses_a_bad_limit_or_offset_naming_it(owner, rule, path, query, field):
    response = token_client(owner).get(f"{path.format(rule=rule.pk)}?{query}")

    assert response.status_code == 400, response.content
    assert field in response.json()
