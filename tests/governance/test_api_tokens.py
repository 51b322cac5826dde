"""API tokens: stored as digests, several per user, expiry, revocation (service, admin), one query per
request, and DRF tokens from before carried over by the migration."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.apps.registry import Apps
from django.db import connection, models
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance.api.authentication import LAST_USED_RESOLUTION, BearerOrTokenAuthentication
from governance.models import ApiToken, api_token_digest
from governance.services import api_token_create, api_token_revoke
from tests.api import token_client

pytestmark = pytest.mark.django_db


def call(key: str, url: str = "/api/automations") -> tuple[int, object]:
    client = token_client(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get(url)
    return response.status_code, response.json().get("detail")


def test_the_key_is_stored_nowhere(owner):
    token, key = api_token_create(owner, "laptop")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(ApiToken._meta.db_table)}")
        stored = [str(value) for row in cursor.fetchall() for value in row]
    assert key not in stored and key[12:] not in "".join(stored)
    assert token.digest == hashlib.sha256(key.encode()).hexdigest() and token.prefix == key[:12]
    assert "digest" not in str(token) and key not in str(token)


def test_several_named_tokens_per_user_work_and_are_revoked_apart(owner):
    laptop, laptop_key = api_token_create(owner, "laptop")
    _, ci_key = api_token_create(owner, "ci")
    assert call(laptop_key) == (200, None) and call(ci_key) == (200, None)
    assert api_token_revoke(ApiToken.objects.filter(pk=laptop.pk)) == 1
    assert api_token_revoke(ApiToken.objects.filter(pk=laptop.pk)) == 0  # already revoked
    assert call(laptop_key) == (401, "Token revoked.")
    assert call(ci_key) == (200, None)
    assert list(owner.api_tokens.values_list("name", flat=True)) == ["ci", "laptop"]


def test_expiry(owner):
    token, key = api_token_create(owner, "temporary", expires_at=timezone.now() + dt.timedelta(hours=1))
    assert call(key) == (200, None) and token.is_active
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = token_client(None)
    response.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    answer = response.get("/api/automations")
    assert (answer.status_code, answer.json()) == (401, {"detail": "Token expired."})
    assert answer["WWW-Authenticate"] == "Token"


def test_an_expiry_in_the_past_is_refused(owner):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        api_token_create(owner, "late", expires_at=timezone.now() - dt.timedelta(days=1))
    assert "expires_at" in error.value.message_dict and not ApiToken.objects.exists()


def test_an_unknown_key_is_invalid(owner):
    _, key = api_token_create(owner, "laptop")
    assert call(key + "x") == (401, "Invalid token.")
    assert call(key.upper()) == (401, "Invalid token.")


def test_authentication_is_one_query_and_use_is_recorded_at_most_every_few_minutes(owner):
    token, key = api_token_create(owner, "laptop")
    authentication = BearerOrTokenAuthentication()
    # first use: the lookup and one update of last_used_at
    with CaptureQueriesContext(connection) as queries:
        user, auth = authentication.authenticate_credentials(key)
    assert (user.pk, auth.pk) == (owner.pk, token.pk)
    assert [query["sql"].split()[0] for query in queries] == ["SELECT", "UPDATE"]
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None
    # within the resolution: the lookup only
    with CaptureQueriesContext(connection) as queries:
        authentication.authenticate_credentials(key)
    assert len(queries) == 1
    # past it: recorded again
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first_use - LAST_USED_RESOLUTION - dt.timedelta(1))
    with CaptureQueriesContext(connection) as queries:
        authentication.authenticate_credentials(key)
    assert len(queries) == 2
    token.refresh_from_db()
    assert token.last_used_at >= first_use


# --- admin ---------------------------------------------------------------------------------------


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw-root")


def test_admin_lists_tokens_without_their_keys_and_revokes_selected(client, root, owner, collaborator):
    laptop, laptop_key = api_token_create(owner, "laptop")
    ci, ci_key = api_token_create(collaborator, "ci")
    client.force_login(root)
    page = client.get("/admin/governance/apitoken/")
    html = page.content.decode()
    assert page.status_code == 200
    assert laptop.prefix in html and "laptop" in html and ci.prefix in html and "alice" in html
    for secret in (laptop_key, laptop.digest, ci_key, ci.digest):
        assert secret not in html
    change = client.get(f"/admin/governance/apitoken/{laptop.pk}/change/").content.decode()
    assert laptop.prefix in change and laptop_key not in change and laptop.digest not in change
    assert client.get("/admin/governance/apitoken/add/").status_code == 403
    # when: revoke selected
    response = client.post(
        "/admin/governance/apitoken/", {"action": "revoke_selected", "_selected_action": [laptop.pk]}, follow=True
    )
    # then
    assert "Revoked 1 token." in response.content.decode()
    assert call(laptop_key) == (401, "Token revoked.") and call(ci_key) == (200, None)
    assert "revoked" in client.get("/admin/governance/apitoken/").content.decode()


def test_staff_see_and_revoke_only_their_own_tokens(client, owner, collaborator):
    from django.contrib.auth.models import Permission

    mine, mine_key = api_token_create(owner, "mine")
    theirs, theirs_key = api_token_create(collaborator, "theirs")
    owner.is_staff = True
    owner.save(update_fields=["is_staff"])
    owner.user_permissions.add(*Permission.objects.filter(codename__in=["view_apitoken", "change_apitoken"]))
    client.force_login(owner)
    html = client.get("/admin/governance/apitoken/").content.decode()
    assert mine.prefix in html and theirs.prefix not in html
    assert client.get(f"/admin/governance/apitoken/{theirs.pk}/change/").status_code == 302  # not found: to index
    client.post("/admin/governance/apitoken/", {"action": "revoke_selected", "_selected_action": [mine.pk, theirs.pk]})
    assert call(mine_key) == (401, "Token revoked.") and call(theirs_key) == (200, None)


# --- migration of DRF's tokens ---------------------------------------------------------------------

LEGACY_APPS = Apps()


class LegacyDrfToken(models.Model):
    """The columns of rest_framework.authtoken's table, which this project no longer installs."""

    key = models.CharField(max_length=40, primary_key=True)
    user_id = models.BigIntegerField()
    created = models.DateTimeField()

    class Meta:
        app_label = "authtoken"
        db_table = "authtoken_token"
        apps = LEGACY_APPS

    def __str__(self) -> str:
        return self.key[:8]


@pytest.mark.django_db(transaction=True)
def test_drf_tokens_are_hashed_into_api_tokens_and_keep_working(tenant, owner):
    executor = MigrationExecutor(connection)
    executor.migrate([("governance", "0002_api_token")])
    try:
        # given a database with DRF's token table, as an install before this change had
        with connection.schema_editor() as editor:
            editor.create_model(LegacyDrfToken)
        key = "0123456789abcdef0123456789abcdef01234567"
        created = timezone.now() - dt.timedelta(days=400)
        LegacyDrfToken.objects.create(key=key, user_id=owner.pk, created=created)
        MigrationRecorder(connection).record_applied("authtoken", "0001_initial")
        # when the migration runs
        executor = MigrationExecutor(connection)
        executor.migrate([("governance", "0003_api_tokens_from_drf")])
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    # then the old key still works, stored as its digest only
    token = ApiToken.objects.get(user=owner)
    assert (token.digest, token.prefix, token.name) == (api_token_digest(key), key[:12], "DRF token (migrated)")
    assert abs(token.created_at - created) < dt.timedelta(seconds=1)
    assert call(key) == (200, None)
    # and DRF's table and its migration records are gone
    assert "authtoken_token" not in connection.introspection.table_names()
    assert not MigrationRecorder(connection).migration_qs.filter(app="authtoken").exists()
