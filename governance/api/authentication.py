"""Token authentication that accepts both ``Authorization: Token <key>`` and ``Bearer <key>``."""

from __future__ import annotations

from rest_framework import authentication, exceptions
from rest_framework.request import Request

TOKEN_KEYWORDS = ("token", "bearer")


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
        model = self.get_model()
        try:
            token = model.objects.select_related("user").get(key=key)
        except model.DoesNotExist as error:
            raise exceptions.AuthenticationFailed("Invalid token.") from error
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return token.user, token
