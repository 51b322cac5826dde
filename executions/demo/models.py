"""The demo store's state: the store (its receiver secret and settings), its items and the commands received."""

from __future__ import annotations

from typing import Any

from django.db import models

from executions.demo.choices import DemoCommandOutcome, DemoItemKind


def empty_dict() -> dict[str, Any]:
    return {}


class DemoStore(models.Model):
    """One tenant's demo shop and the endpoint its webhooks come in by (with the secret it verifies them by)."""

    tenant = models.OneToOneField("governance.Tenant", on_delete=models.CASCADE, primary_key=True)
    endpoint = models.ForeignKey(
        "executions.WebhookEndpoint", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # What a receiver keeps from the endpoint's creation: the secret it verifies signatures with.
    webhook_secret = models.CharField(max_length=100, blank=True, default="")
    settings = models.JSONField(default=empty_dict, blank=True)  # what store.update commands set
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "demo_stores"

    def __str__(self) -> str:
        return f"Demo store of {self.tenant_id}"


class DemoStoreItem(models.Model):
    """A product, landing page, campaign, draft or workflow in a demo store."""

    id = models.BigAutoField(primary_key=True)
    store = models.ForeignKey(DemoStore, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=20, choices=DemoItemKind.choices)
    key = models.CharField(max_length=100, help_text="The store's own id: prod_0007, page_3, ...")
    name = models.CharField(max_length=200)
    details = models.JSONField(default=empty_dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "demo_store_items"
        ordering = ["store_id", "kind", "-id"]
        constraints = [models.UniqueConstraint(fields=["store", "kind", "key"], name="demo_item_unique_key")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


class DemoCommand(models.Model):
    """A webhook the demo receiver got: verified and applied (once per webhook-id), or rejected."""

    id = models.BigAutoField(primary_key=True)
    store = models.ForeignKey(DemoStore, on_delete=models.CASCADE, related_name="commands")
    webhook_id = models.CharField(max_length=200)
    command = models.CharField(max_length=100, blank=True, default="")
    body = models.JSONField(default=empty_dict, blank=True)
    outcome = models.CharField(max_length=20, choices=DemoCommandOutcome.choices)
    result = models.CharField(max_length=500, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "demo_commands"
        ordering = ["-received_at", "-id"]
        constraints = [
            # A redelivery of an applied webhook is answered, never applied twice (receivers dedupe on webhook-id).
            models.UniqueConstraint(
                fields=["store", "webhook_id"],
                condition=models.Q(outcome__in=[DemoCommandOutcome.APPLIED, DemoCommandOutcome.RECORDED]),
                name="demo_command_applied_once",
            )
        ]
        indexes = [models.Index(fields=["store", "-received_at"], name="demo_command_recent")]

    def __str__(self) -> str:
        return f"{self.webhook_id} ({self.outcome})"

    @property
    def verified(self) -> bool:
        return self.outcome != DemoCommandOutcome.REJECTED
