"""python manage.py api_token USERNAME --tenant TENANT_ID --role ROLE"""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from governance.models import Membership, Tenant
from governance.selectors import default_council
from tests.api import token_client

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("api_token", *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("role", ["owner", "collaborator", "council", "viewer"])
def test_creates_tenant_user_membership_and_prints_only_the_token(role):
    output = run("erin", "--tenant", "tenant_new", "--role", role)
    key = output.strip()
    assert output == key + "\n" and len(key) == 40
    user = get_user_model().objects.get(username="erin")
    assert Token.objects.get(user=user).key == key
    assert not user.has_usable_password()
    assert Tenant.objects.filter(pk="tenant_new").exists()
    assert Membership.objects.get(user=user, tenant_id="tenant_new").role == role
    on_council = default_council("tenant_new").members.filter(pk=user.pk).exists()
    assert on_council == (role in ("owner", "council"))


def test_token_works_against_the_api():
    key = run("erin", "--tenant", "tenant_new", "--role", "viewer").strip()
    client = token_client(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/automations").json()["count"] == 0


def test_is_idempotent_and_changes_role(tenant, owner):
    first = run("alice", "--tenant", "tenant_test", "--role", "owner")
    second = run("alice", "--tenant", "tenant_test", "--role", "viewer")
    assert first == second
    assert Membership.objects.get(user=owner, tenant=tenant).role == "viewer"
    assert owner.check_password("pw-alice")


def test_second_tenant_for_existing_user(tenant, owner):
    run("alice", "--tenant", "tenant_more", "--role", "collaborator")
    assert set(Membership.objects.filter(user=owner).values_list("tenant_id", flat=True)) == {
        "tenant_test",
        "tenant_more",
    }


def test_rejects_unknown_role():
    with pytest.raises(CommandError):
        run("erin", "--tenant", "tenant_new", "--role", "emperor")
    assert not get_user_model().objects.filter(username="erin").exists()
