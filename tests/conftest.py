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


# Fixtures through which a test reaches a database (pytest-django refuses database access to any other test).
DATABASE_FIXTURES = frozenset(
    {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server"}
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the ``database_free`` mark honest: the PostgreSQL run of .ci/run skips what it marks, so a marked
    test that asks for a database (a fixture or the django_db mark) is an error, not a silent skip there."""
    wrong = [
        item.nodeid
        for item in items
        if item.get_closest_marker("database_free")
        and (item.get_closest_marker("django_db") or DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())))
    ]
    if wrong:
        raise pytest.UsageError(
            "marked database_free but asks for a database (remove the mark):\n  " + "\n  ".join(wrong)
        )
