"""Notification channels: email through Django's email backend, push and SMS through pluggable backends.

A channel backend is any class with a ``name`` and ``send(user, subject, body) -> ChannelResult``
(see ``ChannelBackend``). Built-ins register under their channel key; the setting
``AUTOMATIONS["NOTIFICATION_CHANNELS"] = {"push": "dotted.path.Class", "sms": ...}`` adds or overrides
entries. A channel with no backend gets ``NotConfiguredChannel``, which logs and reports "not_configured".
See docs/notifications.md.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.utils.module_loading import import_string

from automations.conf import app_settings

logger = logging.getLogger(__name__)

# The channels send_notification knows (automations.choices.NotificationChannel).
KNOWN_CHANNELS = ("email", "push", "sms")


class ChannelStatus:
    SENT = "sent"
    NOT_CONFIGURED = "not_configured"
    NO_ADDRESS = "no_address"
    FAILED = "failed"


@dataclass(frozen=True)
class ChannelResult:
    """What one send on one channel to one user came to; stored by the caller in the action result."""

    channel: str
    user_id: int | None
    status: str  # a ChannelStatus
    detail: str = ""

    @property
    def sent(self) -> bool:
        return self.status == ChannelStatus.SENT

    def as_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "user_id": self.user_id, "status": self.status, "detail": self.detail}


@runtime_checkable
class ChannelBackend(Protocol):
    """The interface of a channel backend.

    ``send`` delivers ``subject`` and ``body`` to ``user`` and returns a ``ChannelResult``. It should
    return (not raise) for expected failures such as a user without a phone number; an exception is
    caught by ``send_via_channel`` and reported as "failed". Backends are instantiated without
    arguments for every send, so read configuration from settings in ``__init__``.
    """

    name: str

    def send(self, user: User, subject: str, body: str) -> ChannelResult: ...


class EmailChannel:
    """Email through Django's configured backend (SMTP in production) to ``user.email``."""

    name = "email"

    def send(self, user: User, subject: str, body: str) -> ChannelResult:
        address = getattr(user, "email", "") or ""
        if not address:
            return ChannelResult(self.name, user.pk, ChannelStatus.NO_ADDRESS, "The user has no email address.")
        try:
            sent = send_mail(subject, body, None, [address], fail_silently=False)
        except (smtplib.SMTPException, OSError) as exc:
            logger.warning("email to user %s failed: %s", user.pk, exc)
            return ChannelResult(self.name, user.pk, ChannelStatus.FAILED, f"{type(exc).__name__}: {exc}")
        if not sent:
            return ChannelResult(self.name, user.pk, ChannelStatus.FAILED, "The email backend sent nothing.")
        return ChannelResult(self.name, user.pk, ChannelStatus.SENT, address)


class NotConfiguredChannel:
    """Stands in for a channel with no backend: logs, sends nothing, reports "not_configured"."""

    def __init__(self, name: str = "") -> None:
        self.name = name

    def send(self, user: User, subject: str, body: str) -> ChannelResult:
        logger.info("notification channel %r has no backend; nothing sent to user %s", self.name, user.pk)
        detail = (
            f'No backend for "{self.name}": set AUTOMATIONS["NOTIFICATION_CHANNELS"]["{self.name}"] to a backend class.'
        )
        return ChannelResult(self.name, user.pk, ChannelStatus.NOT_CONFIGURED, detail)


BackendFactory = Callable[[], ChannelBackend]
_REGISTRY: dict[str, BackendFactory] = {}


class UnknownChannel(KeyError):
    """No channel by that name; the message lists the known ones."""


def register_channel(name: str) -> Callable[[type], type]:
    """Class decorator: make the class the backend of channel ``name`` (settings still override)."""

    def decorator(cls: type) -> type:
        _REGISTRY[name] = cls
        return cls

    return decorator


register_channel("email")(EmailChannel)


def channel_names() -> list[str]:
    configured = app_settings.NOTIFICATION_CHANNELS
    return sorted(set(KNOWN_CHANNELS) | set(_REGISTRY) | set(configured))


def get_channel(name: str) -> ChannelBackend:
    """A backend instance for channel ``name``: from settings, else registered, else not configured."""
    configured: dict[str, Any] = app_settings.NOTIFICATION_CHANNELS
    if name in configured:
        target = configured[name]
        factory = import_string(target) if isinstance(target, str) else target
        return _named(factory(), name)
    if name in _REGISTRY:
        return _named(_REGISTRY[name](), name)
    if name in KNOWN_CHANNELS:
        return NotConfiguredChannel(name)
    raise UnknownChannel(f'Unknown notification channel "{name}"; known: {", ".join(channel_names())}.')


def _named(backend: Any, name: str) -> ChannelBackend:
    if not callable(getattr(backend, "send", None)):
        raise TypeError(f"The backend for channel {name!r} has no send(user, subject, body) method.")
    if not getattr(backend, "name", ""):
        backend.name = name
    return backend


def send_via_channel(channel: str, user: User, subject: str, body: str) -> ChannelResult:
    """Send on one channel to one user; never raises for a backend's failure (reported as "failed").

    Raises ``UnknownChannel`` for a channel name nobody knows (a bad definition, refused at save time).
    """
    backend = get_channel(channel)
    try:
        result = backend.send(user, subject, body)
    except Exception as exc:  # a backend boundary: a broken push/SMS plugin must not break the pipeline
        logger.exception("notification channel %r failed for user %s", channel, user.pk)
        return ChannelResult(channel, user.pk, ChannelStatus.FAILED, f"{type(exc).__name__}: {exc}")
    if not isinstance(result, ChannelResult):
        return ChannelResult(channel, user.pk, ChannelStatus.FAILED, "The backend did not return a ChannelResult.")
    return result
