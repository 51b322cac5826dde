"""The styled 404 and 500 pages and the favicon (issue 15, item 10)."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from governance.common.api_errors import json_or_default_500

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(owner):
    client = Client()
    client.force_login(owner)
    return client


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    "path",
    [
        "/portal/automations/automation_missing",
        "/portal/automations/automation_missing/executions/1",
        "/portal/automations/builder/automation_missing/edit",
        "/portal/no-such-page",
    ],
)
def test_a_missing_portal_page_is_the_styled_404_even_with_debug_on(settings, owner_client, rule, debug, path):
    settings.DEBUG = debug  # make run's local settings turn DEBUG on
    response = owner_client.get(path)
    assert response.status_code == 404
    html = response.content.decode()
    assert 'data-error-page="404"' in html and "Page not found" in html
    assert "/static/css/app.css" in html and 'rel="icon"' in html  # the portal's own look
    assert "URLconf" not in html and "Technical" not in html  # never Django's debug page


@pytest.mark.parametrize("debug", [False, True])
def test_the_api_keeps_its_json_404(settings, owner, debug):
    from tests.api import token_client

    settings.DEBUG = debug
    response = token_client(owner).get("/api/automations/automation_missing")
    assert response.status_code == 404 and response.json() == {"detail": "No such automation in your tenants."}


def test_the_500_page_is_styled():
    response = json_or_default_500(RequestFactory().get("/portal/automations"))
    assert response.status_code == 500
    html = response.content.decode()
    assert 'data-error-page="500"' in html and "Something went wrong" in html and "/static/css/app.css" in html


def test_the_favicon_is_served_and_linked(owner_client):
    response = Client().get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(response.streaming_content)
    assert (
        '<link rel="icon" href="/favicon.ico" type="image/svg+xml">'
        in owner_client.get("/portal/automations").content.decode()
    )
