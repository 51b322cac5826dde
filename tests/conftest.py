"""Shared fixtures. The cast: alice owns tenant_test, bob collaborates, carol sits on its council,
charlie owns another tenant (tenant_other)."""

from __future__ import annotations

import pytest

from tests.browser import browser, page_for  # noqa: F401  (browser-test fixtures)
from tests.factories import make_rule, make_tenant, make_user


@pytest.fixture
def tenant(db):
    return make_tenant("tenant_test", name="Test Shop")


@pytest.fixture
def other_tenant(db):
    return make_tenant("tenant_other", name="Other Shop")


@pytest.fixture
def owner(tenant):
    return make_user("alice", tenant, "owner")


@pytest.fixture
def collaborator(tenant):
    return make_user("bob", tenant, "collaborator")


@pytest.fixture
def council_member(tenant):
    return make_user("carol", tenant, "council")


@pytest.fixture
def other_owner(other_tenant):
    return make_user("charlie", other_tenant, "owner")


@pytest.fixture
def rule(tenant, owner):
    return make_rule(tenant, owner)
