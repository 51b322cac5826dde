"""API key authentication: ``Authorization: Token <key>`` or ``Bearer <key>``, checked against stored digests."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connections
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from governance.common.sql_instances import column_of, instances_from_sql, select_list
from governance.models import ApiToken, api_token_digest
from governance.selectors import roles_for_user

logger = logging.getLogger(__name__)

TOKEN_KEYWORDS = ("token", "bearer")
# A token's last_used_at is written at most this often, so requests do not each write a row.
LAST_USED_RESOLUTION = dt.timedelta(minutes=5)

# TRICKY: hand-written SQL: every API request runs it, and the ORM spends longer composing the query than
# the database answers it. One indexed lookup by digest gives the user row and the token's state; the
# times are compared in SQL, so no datetime column needs converting here.
TOKEN_USER_SQL = """
SELECT {columns},
       token_row.{token_pk} AS api_token_id,
       token_row.{revoked_at} IS NOT NULL AS api_token_revoked,
       token_row.{expires_at} IS NOT NULL AND token_row.{expires_at} <= %s AS api_token_expired,
       token_row.{last_used_at} IS NULL OR token_row.{last_used_at} < %s AS api_token_used_long_ago
FROM {tokens} token_row JOIN {users} user_row ON user_row.{user_pk} = token_row.{user_id}
WHERE token_row.{digest} = %s
"""

TOKEN_STATE_COLUMNS = ("api_token_id", "api_token_revoked", "api_token_expired", "api_token_used_long_ago")


@functools.cache
def token_user_sql(database: str) -> str:
    """TOKEN_USER_SQL for a database alias."""
    user_model = get_user_model()
    connection = connections[database]
    quote = connection.ops.quote_name
    column = lambda name: quote(column_of(ApiToken, name))  # noqa: E731
    return TOKEN_USER_SQL.format(
        columns=select_list(user_model, "user_row", connection),
        tokens=quote(ApiToken._meta.db_table),
        users=quote(user_model._meta.db_table),
        user_pk=quote(column_of(user_model, user_model._meta.pk.name)),
        token_pk=column("id"),
        user_id=column("user"),
        digest=column("digest"),
        revoked_at=column("revoked_at"),
        expires_at=column("expires_at"),
        last_used_at=column("last_used_at"),
    )


class BearerOrTokenAuthentication(authentication.TokenAuthentication):
    """API keys (``ApiToken``, made by ``manage.py api_token``) after ``Token`` or ``Bearer``.

    A subclass of DRF's TokenAuthentication for its ``WWW-Authenticate: Token`` answer and the schema's
    ``tokenAuth`` scheme; the lookup is this module's.
    """

    keyword = "Token"
    model = ApiToken

    def authenticate(self, request: Request) -> tuple[object, ApiToken] | None:
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower().decode(errors="replace") not in TOKEN_KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: give one token after Token or Bearer.")
        try:
            key = parts[1].decode()
        except UnicodeError as error:
            raise exceptions.AuthenticationFailed("Invalid token header: the token has invalid characters.") from error
        return self.authenticate_credentials(key)

    def authenticate_credentials(self, key: str) -> tuple[object, ApiToken]:
        """The active user of an unrevoked, unexpired token with this key, and the token, in one query.

        The token comes back with only its id and user loaded (the rest is read on first use), as nothing
        on a request's path needs more.
        """
        db = ApiToken.objects.db
        connection = connections[db]
        now = timezone.now()
        params = [
            connection.ops.adapt_datetimefield_value(now),
            connection.ops.adapt_datetimefield_value(now - LAST_USED_RESOLUTION),
            api_token_digest(key),
        ]
        users = instances_from_sql(get_user_model(), token_user_sql(db), params)
        if not users:
            raise exceptions.AuthenticationFailed("Invalid token.")
        user = users[0]
        state = {name: vars(user).pop(name) for name in TOKEN_STATE_COLUMNS}
        if state["api_token_revoked"]:
            raise exceptions.AuthenticationFailed("Token revoked.")
        if state["api_token_expired"]:
            raise exceptions.AuthenticationFailed("Token expired.")
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        token = ApiToken.from_db(db, ["id", "user_id"], [state["api_token_id"], user.pk])
        token.user = user
        if state["api_token_used_long_ago"]:
            self.record_use(token, now)
        return user, token

    @staticmethod
    def record_use(token: ApiToken, now: dt.datetime) -> None:
        """Note when the token was used; a failure (a busy SQLite file) never fails the request."""
        try:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        except DatabaseError:
            logger.warning("Could not record the use of API token %s", token.pk, exc_info=True)


@dataclass(frozen=True)
class TokenCaller:
    """Who an API token speaks for, as checked at ``checked_at`` (``time.monotonic()``)."""

    user_id: int
    token_id: int
    roles: dict[str, str]  # {tenant_id: role}, as roles_for_user gives them
    checked_at: float


class TokenCallerCache:
    """The callers of API keys, each checked against the database at most every
    ``API_TOKEN_CACHE_SECONDS`` (default 5) per process.

    For the lean ingestion path (``executions.api.ingest``), which would otherwise look the token and the
    memberships up on every event it posts. A revoked or expired token, a deactivated user and a changed
    or removed membership take effect within those seconds; a key that fails the check is never kept.
    Keyed by the key's digest, so no key is held here. Bounded: past ``max_entries`` it starts afresh.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self.entries: dict[str, TokenCaller] = {}

    def caller(self, key: str) -> TokenCaller | None:
        """The key's caller, or None for a key that authenticates no one (the full path says why)."""
        digest = api_token_digest(key)
        now = time.monotonic()
        entry = self.entries.get(digest)
        if entry is not None and now - entry.checked_at < settings.API_TOKEN_CACHE_SECONDS:
            return entry
        self.entries.pop(digest, None)
        try:
            _, token = BearerOrTokenAuthentication().authenticate_credentials(key)
        except exceptions.AuthenticationFailed:
            return None
        caller = TokenCaller(token.user_id, token.pk, roles_for_user(token.user), now)
        if len(self.entries) >= self.max_entries:
            self.entries.clear()
        self.entries[digest] = caller
        return caller


token_callers = TokenCallerCache()
