"""Token authentication that accepts both ``Authorization: Token <key>`` and ``Bearer <key>``."""

from __future__ import annotations

import functools

from django.contrib.auth import get_user_model
from django.db import connections
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from config.sql_instances import instances_from_sql, select_list

TOKEN_KEYWORDS = ("token", "bearer")

# TRICKY: hand-written SQL: every API request runs it, and the ORM spends longer composing DRF's
# ``Token.objects.select_related("user").get(key=key)`` than the database answers it. The same match
# (the key, exactly) and the same user row; portable text.
TOKEN_USER_SQL = """
SELECT {columns}
FROM {tokens} token_row JOIN {users} user_row ON user_row.{user_pk} = token_row.{user_id}
WHERE token_row.{key} = %s
"""


@functools.cache
def token_user_sql(database: str) -> str:
    """TOKEN_USER_SQL for a database alias."""
    from rest_framework.authtoken.models import Token

    user_model = get_user_model()
    connection = connections[database]
    quote = connection.ops.quote_name
    return TOKEN_USER_SQL.format(
        columns=select_list(user_model, "user_row", connection),
        tokens=quote(Token._meta.db_table),
        users=quote(user_model._meta.db_table),
        user_pk=quote(user_model._meta.pk.column),
        user_id=quote(Token._meta.get_field("user").column),
        key=quote(Token._meta.pk.column),
    )


class BearerOrTokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication (one key per user, ``api_token`` creates it) with a second keyword."""

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[object, object] | None:
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

    def authenticate_credentials(self, key: str) -> tuple[object, object]:
        """DRF's check (a token with this key, an active user), the user and token read in one query.

        The token comes back as a loaded instance with its user attached; its ``created`` is deferred
        (read on first use), as nothing on a request's path needs it.
        """
        model = self.get_model()
        user_model = get_user_model()
        db = model.objects.db
        users = instances_from_sql(user_model, token_user_sql(db), [key])
        if not users:
            raise exceptions.AuthenticationFailed("Invalid token.")
        user = users[0]
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        token = model.from_db(db, [model._meta.pk.attname, "user_id"], [key, user.pk])
        token.user = user
        return user, token
