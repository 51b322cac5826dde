"""python manage.py api_token USERNAME --tenant TENANT_ID --role ROLE [--name N] [--expires-in DAYS],
and api_token_revoke USERNAME --prefix P | --name N | --all"""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from governance.models import ApiToken, Membership, Tenant, api_token_digest
from governance.selectors import default_council
from tests.api import token_client

pytestmark = pytest.mark.django_db


def run(*args: str, command: str = "api_token") -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def status(key: str) -> tuple[int, object]:
    client = token_client(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/automations")
    return response.status_code, response.json().get("detail")


@pytest.mark.parametrize("role", ["owner", "collaborator", "council", "viewer"])
def test_creates_tenant_user_membership_and_prints_only_the_token(role):
    output = run("erin", "--tenant", "tenant_new", "--role", role)
    key = output.strip()
    assert output == key + "\n" and key.startswith("art_") and len(key) == 47
    user = get_user_model().objects.get(username="erin")
    token = ApiToken.objects.get(user=user)
    # only the digest is stored, and a prefix to tell tokens apart
    assert (token.digest, token.prefix, token.name) == (api_token_digest(key), key[:12], "api_token command")
    assert token.expires_at is None and token.revoked_at is None
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


def test_each_run_prints_a_new_working_token_and_changes_role(tenant, owner):
    first = run("alice", "--tenant", "tenant_test", "--role", "owner").strip()
    second = run("alice", "--tenant", "tenant_test", "--role", "viewer").strip()
    assert first != second
    assert status(first) == (200, None) and status(second) == (200, None)
    assert ApiToken.objects.filter(user=owner).count() == 2
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


def test_name_and_expiry():
    before = timezone.now()
    key = run("erin", "--tenant", "tenant_new", "--name", "ci deploys", "--expires-in", "30").strip()
    token = ApiToken.objects.get(digest=api_token_digest(key))
    assert token.name == "ci deploys"
    assert before + dt.timedelta(days=30) <= token.expires_at <= timezone.now() + dt.timedelta(days=30)
    assert status(key) == (200, None)


@pytest.mark.parametrize("days", ["0", "-1", "soon", "1e9"])
def test_rejects_an_expiry_that_is_not_a_positive_number_of_days(days):
    with pytest.raises(CommandError, match="expires-in"):
        run("erin", "--tenant", "tenant_new", "--expires-in", days)
    assert not ApiToken.objects.exists()


def test_rejects_a_name_too_long_and_makes_nothing():
    with pytest.raises(CommandError, match="at most 100 characters"):
        run("erin", "--tenant", "tenant_new", "--name", "x" * 101)
    assert not get_user_model().objects.filter(username="erin").exists() and not ApiToken.objects.exists()


def test_revoke_by_prefix_name_or_all(tenant, owner, collaborator):
    ci = run("alice", "--tenant", "tenant_test", "--name", "ci").strip()
    laptop = run("alice", "--tenant", "tenant_test", "--name", "laptop").strip()
    spare = run("alice", "--tenant", "tenant_test", "--name", "spare").strip()
    bobs = run("bob", "--tenant", "tenant_test", "--role", "collaborator", "--name", "ci").strip()
    # by the prefix the admin shows
    assert run("alice", "--prefix", ci[:12], command="api_token_revoke") == "Revoked 1 token.\n"
    assert status(ci) == (401, "Token revoked.")
    assert status(laptop) == (200, None)
    # by name: only that user's tokens of that name
    assert run("alice", "--name", "laptop", command="api_token_revoke") == "Revoked 1 token.\n"
    assert status(laptop) == (401, "Token revoked.") and status(bobs) == (200, None)
    # all of a user's (already revoked ones are not counted again)
    assert run("alice", "--all", command="api_token_revoke") == "Revoked 1 token.\n"
    assert status(spare) == (401, "Token revoked.") and status(bobs) == (200, None)


def test_revoke_needs_a_selector_and_an_existing_token(owner):
    with pytest.raises(CommandError):
        run("alice", command="api_token_revoke")
    with pytest.raises(CommandError, match="No such token"):
        run("alice", "--name", "nothing", command="api_token_revoke")
