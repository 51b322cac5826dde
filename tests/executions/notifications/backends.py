"""Channel backends plugged in through AUTOMATIONS["NOTIFICATION_CHANNELS"] in the tests (and the docs)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from executions.notifications.channels import ChannelResult, ChannelStatus

SENT: list[tuple[str, int, str, str]] = []


class RecordingSMSBackend:
    """An SMS backend that 'sends' by recording, as a real one would call its provider."""

    name = "sms"

    def send(self, user: AbstractBaseUser, subject: str, body: str) -> ChannelResult:
        phone = getattr(user, "phone", "") or f"+1555{user.pk:07d}"
        SENT.append((self.name, user.pk, phone, body))
        return ChannelResult(self.name, user.pk, ChannelStatus.SENT, phone)


class BrokenPushBackend:
    name = "push"

    def send(self, user: AbstractBaseUser, subject: str, body: str) -> ChannelResult:
        raise ConnectionError("push provider unreachable")
