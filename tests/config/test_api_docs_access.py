"""The schema and docs pages are for signed-in users unless the operator sets API_DOCS_PUBLIC."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.api import token_client

pytestmark = pytest.mark.django_db

PAGES = ["/api/docs/", "/api/docs"]
SCHEMAS = ["/api/schema/", "/api/schema"]


def test_public_is_off_by_default():
    from config.settings import base

    assert base.API_DOCS_PUBLIC is False


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_of_the_pages_are_sent_to_the_login(url, client):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"
    assert b"openapi" not in response.content


@pytest.mark.parametrize("url", SCHEMAS)
def test_anonymous_schema_requests_get_401(url):
    client = token_client(None)
    for accept in ("application/json", "application/vnd.oai.openapi", "*/*"):
        response = client.get(url, HTTP_ACCEPT=accept)
        assert response.status_code == 401, accept
        assert response["WWW-Authenticate"] == "Token"
        assert b"paths" not in response.content


def test_a_bad_token_gets_401_on_the_schema_and_the_login_on_the_pages():
    client = Client(HTTP_AUTHORIZATION="Token not-a-token")
    assert client.get("/api/schema/").status_code == 401
    assert client.get("/api/docs/")["Location"] == "/accounts/login/?next=/api/docs/"


@pytest.mark.parametrize("url", PAGES + SCHEMAS)
def test_signed_in_users_read_them(url, client, owner):
    client.force_login(owner)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("url", SCHEMAS)
def test_api_clients_read_the_schema_with_their_token(url, owner):
    response = token_client(owner).get(url, HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200 and "/api/automations/" in response.json()["paths"]


@pytest.mark.parametrize("url", PAGES + SCHEMAS)
def test_the_operator_can_open_them_to_everyone(url, client, settings):
    settings.API_DOCS_PUBLIC = True
    assert client.get(url).status_code == 200
