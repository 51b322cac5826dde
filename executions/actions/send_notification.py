"""send_notification: Send a message to the tenant's owner, collaborators or councils.

Resolves ``recipients`` to active users of the rule's tenant, gives each an in-app notification and
sends the message on each requested channel (``notify_users``: email through Django's email backend,
push and sms through the pluggable channel backends, docs/notifications.md). The rule's ``subject`` and
``message`` are inserted as plain text, never rendered as a template (RELIABILITY-NOTES 5.4). Each user
hears of one execution once, so a retried attempt never notifies twice. The ``notification.send``
command is also delivered to the tenant's webhook endpoints for this action type, when there are any,
through the ``deliver`` callable the pipeline hands to an in-process run.

The result's ``channel_results`` lists each channel send, per channel and recipient (``sent``,
``not_configured``, ``no_address``, ``failed`` with a detail), so the execution says which message did
not go out and why. With recipients, the run succeeded even when no endpoint receives the command (the
in-app notifications happened); without any recipient and without an endpoint it was only recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from automations.choices import ActionType, NotificationRecipient
from executions.actions.registry import ActionResult, Deliver, command_envelope, register_run

if TYPE_CHECKING:
    from executions.models import AutomationExecution

COMMAND = "notification.send"


def recipient_user_ids(tenant_id: str, recipients: list[str]) -> list[int]:
    """Active users of the tenant named by ``owner``, ``collaborators`` and ``councils`` (the tenant's councils)."""
    from governance.choices import Role
    from governance.models import CouncilMember, Membership

    members = Membership.objects.filter(tenant_id=tenant_id, user__is_active=True)
    ids: set[int] = set()
    if NotificationRecipient.OWNER in recipients:
        ids.update(members.filter(role=Role.OWNER).values_list("user_id", flat=True))
    if NotificationRecipient.COLLABORATORS in recipients:
        ids.update(members.filter(role=Role.COLLABORATOR).values_list("user_id", flat=True))
    if NotificationRecipient.COUNCILS in recipients:
        council_users = CouncilMember.objects.filter(council__tenant_id=tenant_id).values_list("user_id", flat=True)
        # Only users who still belong to the tenant: a council row never reaches an outsider.
        ids.update(members.filter(user_id__in=council_users).values_list("user_id", flat=True))
    return sorted(ids)


@register_run(ActionType.SEND_NOTIFICATION)
def action_send_notification(execution: AutomationExecution, config: dict[str, Any], deliver: Deliver) -> ActionResult:
    """Notify the recipients in-app and on their channels; deliver the ``notification.send`` command."""
    from executions.choices import ActionOutcome, NotificationKind
    from executions.notifications.channels import ChannelStatus
    from executions.notifications.notices import notify_users_detailed

    recipients = [str(r) for r in config.get("recipients") or []]
    channels = [str(c) for c in config.get("channels") or []]
    subject = str(config.get("subject") or "") or f"Automation: {execution.automation_rule.name}"
    message = str(config.get("message") or "")
    user_ids = recipient_user_ids(execution.tenant_id, recipients)
    command = command_envelope(
        execution, COMMAND, recipients=recipients, channels=channels, subject=subject, message=message
    )
    notified = notify_users_detailed(
        user_ids, execution.tenant_id, NotificationKind.AUTOMATION_MESSAGE, subject, message, execution.pk, channels
    )
    result = deliver(command)
    if result.outcome == ActionOutcome.RECORDED and user_ids:
        # No endpoint received the command, but every recipient has the in-app notification: it happened.
        result = ActionResult.succeeded(**result.data)
    not_sent = [sent for sent in notified.channel_results if sent["status"] != ChannelStatus.SENT]
    result.data.update(
        recipient_user_ids=user_ids,
        notified=len(notified.new_user_ids),
        channel_results=notified.channel_results,
        channels_not_sent=len(not_sent),
    )
    return result
