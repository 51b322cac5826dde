"""Helpers for API tests: a client that authenticates with a real token header."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from rest_framework.test import APIClient

from governance.models import ApiToken
from governance.services import api_token_create


def token_for(user: AbstractBaseUser) -> str:
    """An API key for ``user``: made on first use, then the same one for this user instance.

    It is made as just used, so a request counts the queries of a token in steady use (the first use's
    last_used_at update is tested in tests/governance/test_api_tokens.py).
    """
    key = getattr(user, "_test_api_key", None)
    if key is None:
        token, key = api_token_create(user, "tests")
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        user._test_api_key = key
    return key


def token_client(user: AbstractBaseUser | None, keyword: str = "Token") -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"{keyword} {token_for(user)}")
    return client


def post_json(client: APIClient, url: str, body: Any = None) -> Any:
    return client.post(url, data=json.dumps(body if body is not None else {}), content_type="application/json")


def patch_json(client: APIClient, url: str, body: Any) -> Any:
    return client.patch(url, data=json.dumps(body), content_type="application/json")


def staff_client(user: AbstractBaseUser) -> Any:
    """A signed-in test client for the portal and the admin (the user is made staff)."""
    from django.test import Client

    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(user)
    return client
