"""Skip, or under CI fail, when a test needs a service this machine does not run."""

from __future__ import annotations

import os
import socket

import pytest
from django.db import connection

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def missing_service(reason: str) -> None:
    """Skip with ``reason`` on a developer machine; fail under CI, where every service must run."""
    if IN_CI:
        pytest.fail(f"CI must run this test, but: {reason}")
    pytest.skip(reason)


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_redis() -> str:
    """The Redis URL for tests, or skip/fail when Redis is not reachable."""
    from urllib.parse import urlparse

    parsed = urlparse(REDIS_URL)
    if not port_is_open(parsed.hostname or "127.0.0.1", parsed.port or 6379):
        missing_service(f"Redis is not reachable at {REDIS_URL} (set TEST_REDIS_URL)")
    return REDIS_URL


def database_vendor() -> str:
    return connection.vendor
