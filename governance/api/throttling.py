"""Per-token request throttling with an atomic fixed-window counter in the cache."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import structlog
from django.core.cache import caches
from django.http import HttpRequest
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from governance.common.prometheus import count_rate_limit_refusal
from governance.common.redis_clients import redis_client
from governance.models import ApiToken
from governance.selectors import tenant_ids_for_user

if TYPE_CHECKING:
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)


def client_address(request: HttpRequest | Request) -> str | None:
    """The client's address as the API throttle sees it: REMOTE_ADDR, or X-Forwarded-For's entry added by
    the outermost of ``NUM_PROXIES`` trusted proxies. django-axes counts login failures by it too."""
    # get_ident reads only request.META, which a Django request has too; the stubs want a DRF Request.
    return BaseThrottle().get_ident(request) or None  # type: ignore[arg-type]


def bind_client_address(request: HttpRequest, **kwargs: object) -> None:
    """Web log lines carry the client address the throttle and django-axes use (never a forged header)."""
    structlog.contextvars.bind_contextvars(ip=client_address(request))


class TokenRateThrottle(SimpleRateThrottle):
    """``API_THROTTLE_RATE`` requests per window for each token (or session user, or anonymous IP).

    TRICKY: DRF's stock throttles read, append and write a history list, which races between
    processes. Here each window is one counter bumped atomically: on Redis one INCR (with its EXPIRE,
    one round trip), elsewhere ``cache.add`` then ``cache.incr``. With the default local-memory cache each
    worker process counts on its own, so the effective limit is the rate times the worker count;
    configure ``THROTTLE_CACHE_URL`` (Redis) to share one counter.
    """

    scope = "api"
    cache_alias = "throttle"
    # Set by SimpleRateThrottle.__init__ from the rate (None without one); the stubs do not declare them.
    num_requests: int | None
    duration: int | None

    def __init__(self) -> None:
        super().__init__()
        self.cache = caches[self.cache_alias]
        self.window_end = 0.0

    def get_cache_key(self, request: Request, view: APIView) -> str:
        auth = getattr(request, "auth", None)
        if isinstance(auth, ApiToken):
            ident = f"token:{auth.pk}"  # as allows_token
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"anon:{self.get_ident(request)}"
        return f"throttle:{self.scope}:{ident}"

    def allow_request(self, request: Request, view: APIView) -> bool:
        if self.rate is None or self.num_requests is None or self.duration is None:
            return True
        if self.count(self.get_cache_key(request, view)) <= self.num_requests:
            return True
        # The label is the caller's tenant (tenants, comma-joined); '' for anonymous callers and superusers.
        user = getattr(request, "user", None)
        member = user is not None and user.is_authenticated and not user.is_superuser
        count_rate_limit_refusal(",".join(sorted(tenant_ids_for_user(user))) if user is not None and member else "")
        return False

    def allows_token(self, token_id: int) -> bool:
        """Count one request of API token ``token_id``; False once the window's rate is exceeded (the
        lean ingestion path, which has no DRF request; the same counter as ``allow_request``)."""
        if self.rate is None or self.num_requests is None or self.duration is None:
            return True
        return self.count(f"throttle:{self.scope}:token:{token_id}") <= self.num_requests

    def count(self, base_key: str) -> int:
        """Count one request against ``base_key`` in the current window; returns the window's count so far.

        On Redis one round trip (SET NX with the expiry, then INCR, in one pipeline) with a client kept for
        the process;
        elsewhere the cache's ``add`` then ``incr``.
        """
        assert self.duration is not None
        duration = self.duration
        window = int(self.timer() // duration)
        self.window_end = (window + 1) * duration
        key = f"{base_key}:{window}"
        client = redis_client(self.cache_alias)
        if client is not None:
            raw_key = self.cache.make_and_validate_key(key)  # the key cache.get(key) reads
            pipeline = client.pipeline(transaction=False)
            pipeline.set(raw_key, 0, ex=duration + 1, nx=True)
            pipeline.incr(raw_key)
            try:
                return int(pipeline.execute()[1])
            except RedisError as error:
                # Fail open, as the tenant quotas do: refusing every request while the counter's Redis is
                # down or hung (its operations time out: COUNTER_REDIS_TIMEOUT_SECONDS) would refuse the
                # events it exists to protect; the database still stores each one.
                logger.warning("API throttle counter unreachable (%s): %s not enforced", error, base_key)
                return 0
        self.cache.add(key, 0, timeout=duration + 1)
        try:
            return int(self.cache.incr(key))
        except ValueError:  # expired between add and incr
            self.cache.add(key, 1, timeout=duration + 1)
            return 1

    def wait(self) -> float | None:
        return max(0.0, self.window_end - self.timer())
