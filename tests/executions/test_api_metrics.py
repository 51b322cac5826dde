"""POST /api/metrics: samples into the caller's tenants, all or none."""

from __future__ import annotations

import pytest

from executions.models import MetricSample
from tests.api import post_json, token_client
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_one_sample_without_tenant_id(owner):
    response = post_json(token_client(owner), "/api/metrics", {"metric": "product_count", "value": 2})
    assert response.status_code == 201
    data = response.json()
    assert data["count"] == 1 and data["samples"][0]["tenant_id"] == "tenant_test"
    sample = MetricSample.objects.get()
    assert (sample.tenant_id, sample.metric, sample.value) == ("tenant_test", "product_count", 2)


def test_a_list_of_samples(collaborator):
    body = [
        {"tenant_id": "tenant_test", "metric": "product_count", "value": 2},
        {"tenant_id": "tenant_test", "metric": "store_status", "value": "active"},
    ]
    response = post_json(token_client(collaborator), "/api/metrics/", body)
    assert response.status_code == 201
    assert MetricSample.objects.count() == 2


@pytest.mark.parametrize(
    "body, field",
    [
        ({"metric": "product count", "value": 2}, "metric"),
        ({"metric": "product_count"}, "value"),
        ({"metric": "product_count", "value": [1]}, "value"),
        ([{"metric": "ok", "value": 1}, {"metric": "bad name", "value": 1}], "samples[1].metric"),
        ([], "non_field_errors"),
        ("text", "non_field_errors"),
    ],
)
def test_bad_samples_are_400_and_store_nothing(owner, body, field):
    response = post_json(token_client(owner), "/api/metrics", body)
    assert response.status_code == 400
    assert field in response.json()
    assert MetricSample.objects.count() == 0


def test_huge_integer_is_400(owner):
    response = token_client(owner).post(
        "/api/metrics", data='{"metric": "m", "value": ' + "9" * 400 + "}", content_type="application/json"
    )
    assert response.status_code == 400


@pytest.mark.parametrize("role", ["council", "viewer"])
def test_council_and_viewers_cannot_push(tenant, role):
    user = make_user(f"u_{role}", tenant, role)
    response = post_json(token_client(user), "/api/metrics", {"metric": "product_count", "value": 2})
    assert response.status_code == 403
    assert MetricSample.objects.count() == 0


@pytest.mark.parametrize("tenant_id", ["tenant_test", "tenant_nowhere"])
def test_other_tenants_are_403(owner, other_owner, tenant_id):
    body = [
        {"tenant_id": "tenant_other", "metric": "product_count", "value": 1},
        {"tenant_id": tenant_id, "metric": "product_count", "value": 2},
    ]
    response = post_json(token_client(other_owner), "/api/metrics", body)
    assert response.status_code == 403
    assert MetricSample.objects.count() == 0
