"""Login throttling (django-axes): the portal and admin login forms and the API's Basic authentication.

Failures count per (username, client address); past AXES_FAILURE_LIMIT the pair is refused, the right
password too, until the cool-off passes or an operator resets it.
"""

from __future__ import annotations

import base64
import datetime as dt
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import make_user

pytestmark = pytest.mark.django_db

WRONG_TRIES = 150
LOGIN_PAGES = ["/accounts/login/", "/admin/login/"]


@pytest.fixture(autouse=True)
def axes_on(settings):
    """The suite runs with axes off (test settings); these tests run it as deployed."""
    settings.AXES_ENABLED = True


@pytest.fixture
def staff(tenant):
    user = make_user("alice", tenant, "owner")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def sign_in(client: Client, url: str, password: str, username: str = "alice", **headers: str) -> int:
    """POST the login form; the status code (302 signed in, 200 refused, 429 locked out)."""
    return client.post(url, {"username": username, "password": password}, **headers).status_code


def signed_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def pass_the_cool_off() -> None:
    """Move every recorded failure back past the cool-off, as the clock would."""
    AccessAttempt.objects.update(attempt_time=dt.datetime.now(dt.UTC) - settings.AXES_COOLOFF_TIME - dt.timedelta(1))


def test_settings_as_deployed():
    from config.settings import base

    assert base.AXES_ENABLED and base.AXES_FAILURE_LIMIT == 5
    assert dt.timedelta(minutes=15) == base.AXES_COOLOFF_TIME
    assert base.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    assert base.MIDDLEWARE[-1] == "axes.middleware.AxesMiddleware"
    assert base.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_150_wrong_passwords_lock_the_right_one_out_until_the_cool_off(url, staff):
    client = Client(REMOTE_ADDR="203.0.113.7")
    # given 150 wrong passwords
    statuses = [sign_in(client, url, f"guess-{number}") for number in range(WRONG_TRIES)]
    assert statuses[: settings.AXES_FAILURE_LIMIT - 1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert set(statuses[settings.AXES_FAILURE_LIMIT - 1 :]) == {429}
    # when the right one comes from the same address
    response = client.post(url, {"username": "alice", "password": "pw-alice"})
    # then it is refused with the lockout page
    assert response.status_code == 429 and not signed_in(client)
    assert b"Sign-in paused" in response.content and b"15 minutes" in response.content
    # and after the cool-off it works
    pass_the_cool_off()
    assert sign_in(client, url, "pw-alice") == 302 and signed_in(client)


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_a_lockout_holds_one_username_and_address_only(url, staff, tenant):
    make_user("bob", tenant, "collaborator")
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for number in range(settings.AXES_FAILURE_LIMIT):
        sign_in(attacker, url, f"guess-{number}")
    assert sign_in(attacker, url, "pw-alice") == 429
    # alice from her own address is not locked out by the attacker's guesses
    alice = Client(REMOTE_ADDR="198.51.100.20")
    assert sign_in(alice, url, "pw-alice") == 302 and signed_in(alice)
    # nor is another user at the attacker's address (a shared office or NAT)
    assert sign_in(attacker, "/accounts/login/", "pw-bob", username="bob") == 302


def test_a_forged_forwarded_for_header_is_not_a_new_address(staff):
    client = Client(REMOTE_ADDR="203.0.113.7")
    for number in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "/accounts/login/", f"x{number}", HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert sign_in(client, "/accounts/login/", "pw-alice", HTTP_X_FORWARDED_FOR="10.9.9.9") == 429


def test_behind_a_proxy_the_forwarded_address_counts(staff, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = Client(REMOTE_ADDR="10.0.0.2")
    for number in range(settings.AXES_FAILURE_LIMIT):
        sign_in(proxy, "/accounts/login/", f"x{number}", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert sign_in(proxy, "/accounts/login/", "pw-alice", HTTP_X_FORWARDED_FOR="203.0.113.7") == 429
    # another client behind the same proxy signs in
    assert sign_in(proxy, "/accounts/login/", "pw-alice", HTTP_X_FORWARDED_FOR="198.51.100.20") == 302


def test_operator_unlocks_with_axes_reset_username(staff):
    client = Client(REMOTE_ADDR="203.0.113.7")
    for number in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "/admin/login/", f"guess-{number}")
    assert sign_in(client, "/admin/login/", "pw-alice") == 429
    out = StringIO()
    call_command("axes_reset_username", "alice", stdout=out)
    assert "removed" in out.getvalue()
    assert sign_in(client, "/admin/login/", "pw-alice") == 302


def test_a_success_clears_the_failures(staff):
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(2):
        for number in range(settings.AXES_FAILURE_LIMIT - 1):
            assert sign_in(client, "/accounts/login/", f"guess-{number}") == 200
        assert sign_in(client, "/accounts/login/", "pw-alice") == 302
        client.post("/accounts/logout/")


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_api_basic_authentication_is_locked_out_too(staff, tenant):
    client = APIClient(REMOTE_ADDR="203.0.113.7")
    client.credentials(HTTP_AUTHORIZATION=basic("alice", "pw-alice"))
    assert client.get("/api/automations").status_code == 200
    client.credentials(HTTP_AUTHORIZATION=basic("alice", "wrong"))
    statuses = [client.get("/api/automations").status_code for _ in range(WRONG_TRIES)]
    assert set(statuses) == {401}
    # the right password through Basic, and then through the login page, from that address: refused
    client.credentials(HTTP_AUTHORIZATION=basic("alice", "pw-alice"))
    response = client.get("/api/automations")
    assert response.status_code == 401
    assert sign_in(Client(REMOTE_ADDR="203.0.113.7"), "/accounts/login/", "pw-alice") == 429
    # alice elsewhere is unaffected; after the cool-off the address works again
    elsewhere = APIClient(REMOTE_ADDR="198.51.100.20")
    elsewhere.credentials(HTTP_AUTHORIZATION=basic("alice", "pw-alice"))
    assert elsewhere.get("/api/automations").status_code == 200
    pass_the_cool_off()
    assert client.get("/api/automations").status_code == 200
