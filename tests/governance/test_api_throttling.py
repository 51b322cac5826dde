"""Per-token throttling: one atomic counter per token and window, shared through Redis when configured."""

from __future__ import annotations

from urllib.parse import urlparse, urlunparse

import pytest
from django.core.cache import caches
from django.test import override_settings

from governance.api.throttling import TokenRateThrottle
from tests.api import token_client
from tests.services import require_redis

pytestmark = pytest.mark.django_db

API_REDIS_DB = 5  # this project's tests use Redis DB 5 for the API's throttle counters


def redis_url() -> str:
    parsed = urlparse(require_redis())
    return urlunparse(parsed._replace(path=f"/{API_REDIS_DB}"))


@pytest.fixture
def three_per_minute(settings, monkeypatch):
    # A fixed clock, so a window boundary can never fall inside a test.
    monkeypatch.setattr(TokenRateThrottle, "timer", staticmethod(lambda: 1_800_000_030.0))
    TokenRateThrottle.THROTTLE_RATES = {"api": "3/minute"}
    yield
    TokenRateThrottle.THROTTLE_RATES = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]


def test_redis_counter_is_shared_and_per_token(owner, collaborator, rule, three_per_minute):
    url = redis_url()
    throttle_cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    with override_settings(CACHES={**settings_caches(), "throttle": throttle_cache}):
        caches["throttle"].clear()
        try:
            alice = token_client(owner)
            statuses = [alice.get("/api/automations").status_code for _ in range(3)]
            # A second client with the same token (another process, in production) shares the count.
            again = token_client(owner)
            assert statuses == [200, 200, 200]
            assert again.get("/api/automations").status_code == 429
            assert token_client(collaborator).get("/api/automations").status_code == 200
            keys = caches["throttle"]._cache.get_client().keys("*throttle:api:token:*")
            assert len(keys) == 2
        finally:
            caches["throttle"].clear()


def settings_caches() -> dict:
    from django.conf import settings

    return dict(settings.CACHES)


def test_anonymous_requests_are_throttled_by_address(tenant, three_per_minute):
    caches["throttle"].clear()
    client = token_client(None)
    statuses = [client.get("/api/automations").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    caches["throttle"].clear()


def test_bad_tokens_are_throttled_too(tenant, three_per_minute):
    caches["throttle"].clear()
    client = token_client(None)
    client.credentials(HTTP_AUTHORIZATION="Token guess")
    statuses = [client.get("/api/automations").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    caches["throttle"].clear()


def test_a_forged_forwarded_for_header_does_not_escape_the_address_throttle(tenant, three_per_minute):
    caches["throttle"].clear()
    client = token_client(None)
    client.credentials(HTTP_AUTHORIZATION="Token guess")
    statuses = [client.get("/api/automations", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code for n in range(4)]
    assert statuses == [401, 401, 401, 429]
    caches["throttle"].clear()
