"""In-app notifications: approval requests, failures and rejections (email, push and SMS come later)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial

from django.db import transaction

from executions.models import Notification

logger = logging.getLogger(__name__)


def notify_users(
    user_ids: Iterable[int],
    tenant_id: str,
    kind: str,
    title: str,
    body: str = "",
    execution_id: int | None = None,
) -> int:
    """Create one in-app notification per user; returns how many were new.

    A user is told about one execution once per kind (a unique constraint), so a redelivered task
    never notifies twice.
    """
    ids = sorted({int(user_id) for user_id in user_ids})
    if not ids:
        return 0
    rows = [
        Notification(
            tenant_id=tenant_id, user_id=user_id, kind=kind, title=title[:255], body=body, execution_id=execution_id
        )
        for user_id in ids
    ]
    before = Notification.objects.filter(user_id__in=ids, execution_id=execution_id, kind=kind).count()
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    if execution_id is None:
        return len(rows)
    after = Notification.objects.filter(user_id__in=ids, execution_id=execution_id, kind=kind).count()
    return after - before


def notify_users_on_commit(
    user_ids: Iterable[int],
    tenant_id: str,
    kind: str,
    title: str,
    body: str = "",
    execution_id: int | None = None,
) -> None:
    """``notify_users`` after the current transaction commits; its failure is logged, never raised."""
    transaction.on_commit(
        partial(notify_users, list(user_ids), tenant_id, kind, title, body, execution_id), robust=True
    )
