"""Helpers for API tests: a client that authenticates with a real token header."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def token_for(user: AbstractBaseUser) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def token_client(user: AbstractBaseUser | None, keyword: str = "Token") -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"{keyword} {token_for(user)}")
    return client


def post_json(client: APIClient, url: str, body: Any = None) -> Any:
    return client.post(url, data=json.dumps(body if body is not None else {}), content_type="application/json")


def patch_json(client: APIClient, url: str, body: Any) -> Any:
    return client.patch(url, data=json.dumps(body), content_type="application/json")
