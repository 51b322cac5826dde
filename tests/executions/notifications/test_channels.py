"""Notification channels: email through Django's SMTP backend to a real local SMTP server, and plug-ins."""

from __future__ import annotations

import email
import socket
import threading

import pytest
from aiosmtpd.controller import Controller

from executions.notifications.channels import (
    ChannelBackend,
    ChannelStatus,
    NotConfiguredChannel,
    UnknownChannel,
    get_channel,
    send_via_channel,
)
from tests.executions.notifications import backends
from tests.factories import make_user


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.envelopes: list = []
        self.received = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:
        self.envelopes.append(envelope)
        self.received.set()
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on 127.0.0.1 with Django's SMTP backend pointed at it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "automations@shop.test"
    yield inbox
    controller.stop()


def test_email_is_received_by_the_smtp_server(smtp_server, tenant):
    user = make_user("dora", tenant, "owner", email="dora@shop.test")

    result = send_via_channel("email", user, "Low product count", "Only 2 products left in Test Shop.")

    assert result.sent and result.status == ChannelStatus.SENT
    assert smtp_server.received.wait(10)
    [envelope] = smtp_server.envelopes
    assert envelope.rcpt_tos == ["dora@shop.test"]
    assert envelope.mail_from == "automations@shop.test"
    message = email.message_from_bytes(envelope.content)
    assert message["Subject"] == "Low product count"
    assert "Only 2 products left" in message.get_payload()


def test_email_to_a_user_without_an_address_is_reported_not_raised(smtp_server, tenant):
    user = make_user("eve", tenant, "owner")

    result = send_via_channel("email", user, "s", "b")

    assert result.status == ChannelStatus.NO_ADDRESS
    assert smtp_server.envelopes == []


def test_an_unreachable_smtp_server_is_a_failed_result(settings, tenant):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    user = make_user("finn", tenant, "owner", email="finn@shop.test")

    result = send_via_channel("email", user, "s", "b")

    assert result.status == ChannelStatus.FAILED and "ConnectionRefusedError" in result.detail


@pytest.mark.parametrize("channel", ["push", "sms"])
def test_push_and_sms_without_a_backend_report_not_configured(settings, tenant, channel):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "NOTIFICATION_CHANNELS": {}}
    user = make_user("gus", tenant, "owner")

    result = send_via_channel(channel, user, "s", "b")

    assert result.status == ChannelStatus.NOT_CONFIGURED
    assert f'AUTOMATIONS["NOTIFICATION_CHANNELS"]["{channel}"]' in result.detail
    assert isinstance(get_channel(channel), NotConfiguredChannel)


def test_a_backend_plugged_in_from_settings_is_used(settings, tenant):
    settings.AUTOMATIONS = {
        **settings.AUTOMATIONS,
        "NOTIFICATION_CHANNELS": {"sms": "tests.executions.notifications.backends.RecordingSMSBackend"},
    }
    backends.SENT.clear()
    user = make_user("hana", tenant, "owner")

    result = send_via_channel("sms", user, "Low stock", "Only 2 left")

    assert result.sent
    assert [("sms", user.pk, result.detail, "Only 2 left")] == backends.SENT
    assert isinstance(get_channel("sms"), ChannelBackend)


def test_a_failing_backend_is_reported_as_failed_not_raised(settings, tenant):
    settings.AUTOMATIONS = {
        **settings.AUTOMATIONS,
        "NOTIFICATION_CHANNELS": {"push": "tests.executions.notifications.backends.BrokenPushBackend"},
    }
    user = make_user("ivan", tenant, "owner")

    result = send_via_channel("push", user, "s", "b")

    assert result.status == ChannelStatus.FAILED and "push provider unreachable" in result.detail


def test_settings_can_override_the_email_channel(settings, tenant):
    recording = "tests.executions.notifications.backends.RecordingSMSBackend"
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "NOTIFICATION_CHANNELS": {"email": recording}}
    backends.SENT.clear()

    send_via_channel("email", make_user("jo", tenant, "owner", email="jo@shop.test"), "s", "b")

    assert len(backends.SENT) == 1


def test_an_unknown_channel_names_the_known_ones(tenant):
    with pytest.raises(UnknownChannel, match="email, push, sms"):
        send_via_channel("pigeon", make_user("kim", tenant, "owner"), "s", "b")


def test_results_serialise_for_the_action_result(settings, tenant):
    settings.AUTOMATIONS = {**settings.AUTOMATIONS, "NOTIFICATION_CHANNELS": {}}
    user = make_user("lou", tenant, "owner")

    assert send_via_channel("push", user, "s", "b").as_dict() == {
        "channel": "push",
        "user_id": user.pk,
        "status": "not_configured",
        "detail": 'No backend for "push": set AUTOMATIONS["NOTIFICATION_CHANNELS"]["push"] to a backend class.',
    }
