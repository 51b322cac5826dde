"""Failure notices grouped per rule and window, and the hourly digest (docs/notifications.md, "Failure notices").

A rule that fails 160 times in an hour gives each owner one in-app notice, "Automation "X" failed 160 times
in the last hour: receiver refused", updated by every failure, not 160 notices. Windows are aligned to the
clock (``AUTOMATIONS["FAILURE_NOTICE_WINDOW_MINUTES"]``, UTC), so every worker computes the same group key
for a failure and the database decides the rest:

1. ``UPDATE … SET occurrences = occurrences + 1, title = <the same count, as text>`` on the user's row of the
   group: one statement, so concurrent failures never lose a count and the title always says the count stored;
2. no row yet: ``INSERT`` it (in a savepoint); the unique constraint (user, group_key) lets exactly one
   concurrent insert win, and a loser goes back to step 1.

Messages on the notice channels follow the tenant's ``failure_messages``: ``first_per_window`` sends one when
the group's row is created (the insert's winner, so once per rule, window and owner), ``hourly_digest`` marks
the row for the next digest (``failure_digests_send``), ``none`` sends nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import CharField, F, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from automations.conf import app_settings
from executions import rows
from executions.choices import NotificationKind
from executions.models import AutomationExecution, Notification
from executions.notifications.channels import send_via_channel
from executions.notifications.notices import notice_channels
from executions.selectors import failure_explanations, tenant_owner_ids
from governance.choices import FailureMessages
from governance.common.words import plural
from governance.models import Tenant

logger = logging.getLogger(__name__)

NAME_LIMIT = 120  # of a rule's name in a title (titles are at most 255 characters)


def failure_window(moment: dt.datetime, minutes: int | None = None) -> tuple[dt.datetime, dt.datetime]:
    """The window ``moment`` falls in: aligned to the clock in UTC, ``minutes`` long (the setting by default)."""
    size = dt.timedelta(minutes=int(minutes or app_settings.FAILURE_NOTICE_WINDOW_MINUTES))
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    start = epoch + ((moment.astimezone(dt.UTC) - epoch) // size) * size
    return start, start + size


def failure_group_key(rule_id: str, window_start: dt.datetime) -> str:
    return f"failed:{rule_id}:{window_start.astimezone(dt.UTC):%Y%m%dT%H%MZ}"


def window_words(minutes: int | None = None) -> str:
    """ "hour", "30 minutes", "2 hours": how a title names the window."""
    minutes = int(minutes or app_settings.FAILURE_NOTICE_WINDOW_MINUTES)
    if minutes % 60 == 0:
        hours = minutes // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"


@dataclass(frozen=True)
class FailureNoticeText:
    """A group's words: the title of its first failure, the two ends of a counted title, and the body."""

    first_title: str
    counted_prefix: str  # 'Automation "X" failed '
    counted_suffix: str  # " times in the last hour: receiver refused"
    body: str

    def counted_title(self, count: int) -> str:
        return f"{self.counted_prefix}{count}{self.counted_suffix}"


def failure_notice_text(rule_name: str, label: str, cause: str, next_step: str) -> FailureNoticeText:
    name = rule_name if len(rule_name) <= NAME_LIMIT else rule_name[: NAME_LIMIT - 1] + "…"
    reason = label.lower() if label else "unknown error"
    body = f"Latest: {cause}." + (f" What to do: {next_step}" if next_step else "")
    return FailureNoticeText(
        first_title=f'Automation "{name}" failed: {reason}',
        counted_prefix=f'Automation "{name}" failed ',
        counted_suffix=f" times in the last {window_words()}: {reason}",
        body=body,
    )


@dataclass
class FailureNoticed:
    """What ``failure_notice_record`` did: users whose group row it created, and those it added to."""

    created_user_ids: list[int] = field(default_factory=list)
    updated_user_ids: list[int] = field(default_factory=list)
    channel_results: list[dict[str, object]] = field(default_factory=list)


def failure_notice_record(execution_id: int, now: dt.datetime | None = None) -> FailureNoticed:
    """Count a failed execution in its rule's notice of the current window, for each of the tenant's owners.

    Call once per failure, after the transaction that recorded it commits (``failure_notice_on_commit``);
    safe under any number of concurrent workers (see the module's docstring).
    """
    noticed = FailureNoticed()
    execution = AutomationExecution.objects.select_related("automation_rule").filter(pk=execution_id).first()
    if execution is None:
        return noticed
    now = now or timezone.now()
    explanation = failure_explanations([execution]).get(execution.pk)
    text = failure_notice_text(
        execution.automation_rule.name,
        explanation.label if explanation else "",
        explanation.cause if explanation else (execution.error_message or "no detail was recorded"),
        explanation.next_step if explanation else "",
    )
    window_start, _ = failure_window(now)
    key = failure_group_key(execution.automation_rule_id, window_start)
    mode = Tenant.objects.filter(pk=execution.tenant_id).values_list("failure_messages", flat=True).first()
    digest = mode == FailureMessages.HOURLY_DIGEST
    for user_id in sorted(set(tenant_owner_ids(execution.tenant_id))):
        if _add_occurrence(user_id, key, text, execution.pk, now, digest):
            noticed.updated_user_ids.append(user_id)
            continue
        try:
            with transaction.atomic():
                Notification.objects.create(
                    tenant_id=execution.tenant_id,
                    user_id=user_id,
                    kind=NotificationKind.EXECUTION_FAILED,
                    title=text.first_title[:255],
                    body=text.body,
                    execution_id=execution.pk,
                    group_key=key,
                    occurrences=1,
                    created_at=now,
                    last_occurred_at=now,
                    digest_pending=digest,
                )
            noticed.created_user_ids.append(user_id)
        except IntegrityError:
            # Another worker created the group's row first: add to it instead.
            if _add_occurrence(user_id, key, text, execution.pk, now, digest):
                noticed.updated_user_ids.append(user_id)
            else:  # pragma: no cover - the row that refused the insert exists
                logger.warning("failure notice %s for user %s: neither created nor updated", key, user_id)
    if mode == FailureMessages.FIRST_PER_WINDOW and noticed.created_user_ids:
        noticed.channel_results = _send(noticed.created_user_ids, text.first_title, text.body)
    return noticed


def _add_occurrence(
    user_id: int, key: str, text: FailureNoticeText, execution_id: int, now: dt.datetime, digest: bool
) -> bool:
    """Add one failure to the user's row of the group, in one statement; False when there is no row yet."""
    count = F("occurrences") + 1
    title = Concat(Value(text.counted_prefix), Cast(count, output_field=CharField()), Value(text.counted_suffix))
    updates: dict[str, object] = {
        "occurrences": count,
        "title": title,
        "body": text.body,
        "execution_id": execution_id,
        "last_occurred_at": now,
        "read_at": None,  # news: it waits in the inbox again
    }
    if digest:
        updates["digest_pending"] = True
    return Notification.objects.filter(user_id=user_id, group_key=key).update(**updates) == 1


def _send(user_ids: list[int], subject: str, body: str) -> list[dict[str, object]]:
    results = []
    for user in get_user_model().objects.filter(pk__in=user_ids, is_active=True).order_by("pk"):
        for channel in notice_channels():
            result = send_via_channel(channel, user, subject, body)
            results.append(result.as_dict())
            if not result.sent:
                logger.info("failure notice to user %s on %s: %s", user.pk, channel, result.status)
    return results


def failure_notice_on_commit(execution: AutomationExecution) -> None:
    """``failure_notice_record`` after the current transaction commits; its failure is logged, never raised
    (a notice never undoes the result it reports)."""
    transaction.on_commit(partial(failure_notice_record, execution.pk), robust=True)


# --- the hourly digest ---------------------------------------------------------------------------


@dataclass
class DigestsSent:
    notices: int = 0
    users: int = 0
    messages: int = 0


def failure_digests_send(limit: int = 1000) -> DigestsSent:
    """Send each user one message per notice channel listing their failure notices with news since the last
    digest (``digest_pending``), and clear the mark. A row is claimed with a guarded update before it is sent,
    so two digests running at once never send it twice; a failure counted after the claim marks it again for
    the next digest."""
    sent = DigestsSent()
    pending = list(
        Notification.objects.filter(digest_pending=True).order_by("user_id", "id").values_list("id", flat=True)[:limit]
    )
    if not pending:
        return sent
    won = rows.update_rows(
        Notification, [{"id": pk, "digest_pending": False} for pk in pending], where={"digest_pending": True}
    )
    by_user: dict[int, list[Notification]] = defaultdict(list)
    for notice in (
        Notification.objects.filter(pk__in=won).select_related("tenant").order_by("user_id", "-last_occurred_at")
    ):
        by_user[notice.user_id].append(notice)
    sent.notices = len(won)
    users = get_user_model().objects.filter(pk__in=by_user, is_active=True)
    for user in users.order_by("pk"):
        notices = by_user[user.pk]
        subject = f"{plural(len(notices), 'automation')} failed in the last hour"
        lines = [f"- {notice.title} ({notice.tenant.name}). {notice.body}" for notice in notices]
        body = "\n".join(["These automations failed; open the notifications in the portal for details.", *lines])
        sent.users += 1
        for channel in notice_channels():
            result = send_via_channel(channel, user, subject, body)
            sent.messages += int(result.sent)
            if not result.sent:
                logger.info("failure digest to user %s on %s: %s", user.pk, channel, result.status)
    return sent
