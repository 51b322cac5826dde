"""GET /api/notifications and POST /api/notifications/<id>/read: only the caller's own."""

from __future__ import annotations

import pytest

from executions.models import Notification
from tests.api import token_client

pytestmark = pytest.mark.django_db


def notify(user, tenant, title="Approve this", kind="approval_requested"):
    return Notification.objects.create(tenant=tenant, user=user, kind=kind, title=title)


def test_list_and_mark_read(tenant, owner, collaborator):
    mine = notify(owner, tenant)
    notify(owner, tenant, title="Older", kind="execution_failed")
    notify(collaborator, tenant, title="Not yours")
    client = token_client(owner)
    data = client.get("/api/notifications").json()
    assert data["count"] == 2 and data["unread_count"] == 2
    assert {item["title"] for item in data["notifications"]} == {"Approve this", "Older"}
    response = client.post(f"/api/notifications/{mine.pk}/read")
    assert response.status_code == 200 and response.json()["notification"]["read_at"]
    first_read = Notification.objects.get(pk=mine.pk).read_at
    client.post(f"/api/notifications/{mine.pk}/read/")
    assert Notification.objects.get(pk=mine.pk).read_at == first_read
    assert client.get("/api/notifications?unread=true").json()["count"] == 1
    assert client.get("/api/notifications?unread=false").json()["count"] == 1
    assert client.get("/api/notifications?unread=maybe").status_code == 400


def test_someone_elses_notification_is_404(tenant, owner, collaborator, other_owner, other_tenant):
    theirs = notify(collaborator, tenant)
    foreign = notify(other_owner, other_tenant)
    client = token_client(owner)
    for notification in (theirs, foreign):
        assert client.post(f"/api/notifications/{notification.pk}/read").status_code == 404
        assert Notification.objects.get(pk=notification.pk).read_at is None
    assert client.post("/api/notifications/99999999999999999999999/read").status_code == 404


def test_notifications_of_a_tenant_left_are_hidden(tenant, owner):
    from governance.models import Membership

    notify(owner, tenant)
    Membership.objects.filter(user=owner).delete()
    assert token_client(owner).get("/api/notifications").json()["count"] == 0
