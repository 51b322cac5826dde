"""The signed-in user of a request, typed: ``request.user`` is ``User | AnonymousUser`` to the type checker.

Views, API views and admin pages sit behind a login (``login_required``, ``IsAuthenticated``, the admin
site), so the user they pass to services and selectors is a ``User``; ``request_user`` says so once,
and refuses an anonymous user should a page ever be reached without one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.http import HttpRequest
    from rest_framework.request import Request


def request_user(request: HttpRequest | Request) -> User:
    """The request's signed-in user (PermissionDenied for an anonymous one, which a login already keeps out)."""
    user = request.user
    if isinstance(user, AnonymousUser):
        raise PermissionDenied("Sign in as an active user.")
    return user
