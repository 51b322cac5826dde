"""Notifications: an in-app row per user, and optionally a message on each of the given channels
(email, push, sms: ``executions.notifications.channels``, docs/notifications.md)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from automations.conf import app_settings
from executions.models import Notification

logger = logging.getLogger(__name__)


def notice_channels() -> tuple[str, ...]:
    """The channels approval requests and failure notices go out on, besides in-app."""
    return tuple(app_settings.NOTICE_CHANNELS)


@dataclass
class Notified:
    """What ``notify_users_detailed`` did: the users newly notified in-app, and each channel send's result
    (one per channel and user: sent, not_configured, no_address or failed)."""

    new_user_ids: list[int] = field(default_factory=list)
    channel_results: list[dict[str, Any]] = field(default_factory=list)


def notify_users(
    user_ids: Iterable[int],
    tenant_id: str,
    kind: str,
    title: str,
    body: str = "",
    execution_id: int | None = None,
    channels: Sequence[str] = (),
) -> int:
    """Tell each user: an in-app notification, plus a message on each of ``channels``; returns how many were new."""
    return len(notify_users_detailed(user_ids, tenant_id, kind, title, body, execution_id, channels).new_user_ids)


def notify_users_detailed(
    user_ids: Iterable[int],
    tenant_id: str,
    kind: str,
    title: str,
    body: str = "",
    execution_id: int | None = None,
    channels: Sequence[str] = (),
) -> Notified:
    """Tell each user: an in-app notification, plus a message on each of ``channels``; what was done.

    A user hears about one execution once per kind (a unique constraint): a redelivered task neither
    duplicates the in-app row nor sends the message again. A channel that fails is logged, reported in
    its result and never raises.
    """
    ids = sorted({int(user_id) for user_id in user_ids})
    notified = Notified()
    if not ids:
        return notified
    already: set[int] = set()
    if execution_id is not None:
        already = set(
            Notification.objects.filter(user_id__in=ids, execution_id=execution_id, kind=kind).values_list(
                "user_id", flat=True
            )
        )
    new_ids = [user_id for user_id in ids if user_id not in already]
    Notification.objects.bulk_create(
        [
            Notification(
                tenant_id=tenant_id, user_id=user_id, kind=kind, title=title[:255], body=body, execution_id=execution_id
            )
            for user_id in new_ids
        ],
        ignore_conflicts=True,
    )
    notified.new_user_ids = new_ids
    if channels and new_ids:
        from executions.notifications.channels import send_via_channel

        for user in get_user_model().objects.filter(pk__in=new_ids, is_active=True).order_by("pk"):
            for channel in channels:
                result = send_via_channel(channel, user, title, body)
                notified.channel_results.append(result.as_dict())
                if not result.sent:
                    logger.info("notice %s to user %s on %s: %s", kind, user.pk, channel, result.status)
    return notified


def notify_users_on_commit(
    user_ids: Iterable[int],
    tenant_id: str,
    kind: str,
    title: str,
    body: str = "",
    execution_id: int | None = None,
    channels: Sequence[str] | None = None,
) -> None:
    """``notify_users`` after the current transaction commits (on the notice channels unless told otherwise).

    Its failure is logged, never raised: a notice never undoes the decision or result it reports.
    """
    chosen = notice_channels() if channels is None else tuple(channels)
    transaction.on_commit(
        partial(notify_users, list(user_ids), tenant_id, kind, title, body, execution_id, chosen), robust=True
    )


def notices_mark_done(execution_id: int, kind: str) -> int:
    """Mark every recipient's notice of ``kind`` about the execution read: the thing it asked for is done
    (an approval was decided, on whichever surface, or cancelled). Returns how many were still unread.

    An approval notice sent to a whole council is one row per member; once anyone decides, it no longer
    waits in the others' inboxes or in their unread counts.
    """
    unread = Notification.objects.filter(execution_id=execution_id, kind=kind, read_at__isnull=True)
    return unread.update(read_at=timezone.now())


def notifications_mark_read(user: User, tenant_id: str, ids: list[int] | None = None) -> int:
    """Mark the user's unread notifications in the tenant read (only ``ids`` when given); returns how many."""
    unread = Notification.objects.filter(user_id=user.pk, tenant_id=tenant_id, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())


def notifications_mark_all_read(user: User, tenant_ids: Iterable[str] | QuerySet[Any, Any]) -> int:
    """Mark every unread notification of the user in ``tenant_ids`` (ids, or a subquery of them) read: the
    inbox's "Mark all read" over several tenants (``POST /api/notifications/read-all``); returns how many."""
    unread = Notification.objects.filter(user_id=user.pk, tenant_id__in=tenant_ids, read_at__isnull=True)
    return unread.update(read_at=timezone.now())


def notification_mark_read(notification: Notification) -> Notification:
    """Mark one notification read (once: a second call keeps the first time)."""
    from django.utils import timezone

    Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=timezone.now())
    notification.refresh_from_db(fields=["read_at"])
    return notification
