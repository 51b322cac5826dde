"""Webhook endpoints, one delivery per (execution, endpoint), and one row per HTTP attempt.

Imported by ``executions.models`` so that they belong to the executions app and its migrations.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from automations.conf import app_settings
from automations.kinds.actions import action_kind_choices
from executions.choices import OPEN_DELIVERY_STATUSES, AttemptOutcome, DeliveryStatus
from executions.delivery.addresses import MAX_URL_LENGTH, InvalidWebhookURL, parse_webhook_url, url_refusal_at_save
from governance.common.storable import text_problem


def empty_dict() -> dict[str, Any]:
    return {}


class WebhookEndpoint(models.Model):
    """Where a tenant's platform commands go, and the secret they are signed with.

    The secret is shown once, when created or rotated, and never again (admin and API leave it out).
    After a rotation the previous secret keeps signing until ``previous_secret_expires_at``.
    """

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("governance.Tenant", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=MAX_URL_LENGTH, help_text="http(s) URL the platform commands are POSTed to.")
    enabled = models.BooleanField(default=True)
    # Null: every action type. Otherwise only executions of this action type are sent here.
    action_type = models.CharField(max_length=50, choices=action_kind_choices, null=True, blank=True)
    description = models.CharField(max_length=255, blank=True, default="")
    # Off: the command's trigger is sent without the event's payload (payload_omitted "endpoint_setting").
    include_trigger_payload = models.BooleanField(
        default=True,
        db_default=True,
        verbose_name="Send the triggering payload",
        help_text="Send the triggering event's payload in each command's trigger (up to the size limit).",
    )
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, default="", editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=255, blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Health (docs/webhooks.md, "Unhealthy endpoints"): attempts that failed or were retried in a row, and since
    # when the endpoint counts as unhealthy (AUTOMATIONS["WEBHOOK_UNHEALTHY_AFTER"] of them); one success clears both.
    consecutive_failures = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    unhealthy_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "webhook_endpoints"
        ordering = ["tenant_id", "id"]
        indexes = [models.Index(fields=["tenant", "enabled"], name="webhook_endpoint_tenant")]

    def __str__(self) -> str:
        scope = self.action_type or "all actions"
        return f"{self.url} ({scope}, {self.tenant_id})"

    def clean(self) -> None:
        unstorable = {
            field: [problem]
            for field in ("url", "description")
            if (problem := text_problem(getattr(self, field) or ""))
        }
        if unstorable:
            raise ValidationError(unstorable)
        try:
            parsed = parse_webhook_url(self.url, require_https=app_settings.WEBHOOK_REQUIRE_HTTPS)
        except InvalidWebhookURL as exc:
            raise ValidationError({"url": str(exc)}) from None
        refusal = url_refusal_at_save(
            parsed,
            allow_private=app_settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS,
            allow_loopback=app_settings.WEBHOOK_ALLOW_LOOPBACK,
        )
        if refusal:
            raise ValidationError({"url": f"Webhooks may not go there: {refusal}."})

    @property
    def healthy(self) -> bool:
        """Not marked unhealthy (docs/webhooks.md, "Unhealthy endpoints")."""
        return self.unhealthy_since is None

    def signing_secrets(self, now: dt.datetime) -> list[str]:
        """The secrets to sign with at ``now``: the current one, then the previous one during its grace."""
        secrets = [self.secret]
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and now < expires:
            secrets.append(self.previous_secret)
        return secrets


class WebhookDelivery(models.Model):
    """One execution's command to one endpoint, with its retry state.

    ``webhook_id`` is the same on every attempt, so receivers deduplicate. The next attempt time lives in
    ``next_attempt_at`` (null once ended): a claim pushes it forward by the lease, so a delivery whose
    worker died mid-request becomes due again when the lease runs out.
    """

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("governance.Tenant", on_delete=models.CASCADE, related_name="webhook_deliveries")
    execution = models.ForeignKey(
        "executions.AutomationExecution", on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    # Null once the endpoint is deleted; the delivery then fails and keeps its history.
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    action_type = models.CharField(max_length=50, blank=True, default="")
    webhook_id = models.CharField(max_length=100)
    payload = models.JSONField(default=empty_dict, blank=True)
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveIntegerField(default=0, help_text="Attempts ever made.")
    round_attempt_count = models.PositiveIntegerField(
        default=0, help_text="Attempts since created or last redelivered; what the retry schedule counts."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    claim_token = models.CharField(max_length=32, blank=True, default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "webhook_deliveries"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["execution", "endpoint"], name="delivery_one_per_execution_endpoint"),
            models.CheckConstraint(condition=models.Q(status__in=DeliveryStatus.values), name="delivery_status_valid"),
            # Open deliveries always have a next attempt time (the sweeper's index); ended ones never.
            models.CheckConstraint(
                condition=(
                    models.Q(status__in=sorted(OPEN_DELIVERY_STATUSES), next_attempt_at__isnull=False)
                    | (~models.Q(status__in=sorted(OPEN_DELIVERY_STATUSES)) & models.Q(next_attempt_at__isnull=True))
                ),
                name="delivery_next_attempt_iff_open",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=sorted(OPEN_DELIVERY_STATUSES)),
                name="delivery_due",
            ),
            models.Index(fields=["tenant", "-created_at"], name="delivery_tenant_recent"),
            # The daily roll-up's fold reads what changed since a day (executions.delivery.rollups).
            models.Index(fields=["tenant", "updated_at"], name="delivery_tenant_updated"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} of execution {self.execution_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_DELIVERY_STATUSES

    @property
    def last_result(self) -> str:
        """The last attempt's answer in one phrase: the error, led by ``HTTP <code>`` once.

        The delivery policy's errors already begin with the status (``HTTP 400``, ``HTTP 410 Gone: …``),
        so the code is added only when the error does not say it.
        """
        error = self.last_error.strip()
        if self.last_status_code is None:
            return error
        code = f"HTTP {self.last_status_code}"
        if not error or error == code:
            return code
        if error.startswith(code):
            return error
        return f"{code}: {error}"


class DeliveryAttempt(models.Model):
    """One HTTP attempt of a delivery: when, where, what came back, and what we made of it."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    attempt_number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    url = models.CharField(max_length=MAX_URL_LENGTH, blank=True, default="")
    connected_address = models.CharField(max_length=64, blank=True, default="")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    outcome = models.CharField(max_length=20, choices=AttemptOutcome.choices, default=AttemptOutcome.IN_FLIGHT)

    class Meta:
        db_table = "webhook_delivery_attempts"
        ordering = ["delivery_id", "attempt_number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "attempt_number"], name="attempt_unique_number"),
            # At most one attempt of a delivery is ever recorded as the success.
            models.UniqueConstraint(
                fields=["delivery"],
                condition=models.Q(outcome=AttemptOutcome.SUCCEEDED),
                name="attempt_one_success_per_delivery",
            ),
            models.CheckConstraint(condition=models.Q(outcome__in=AttemptOutcome.values), name="attempt_outcome_valid"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.attempt_number} of delivery {self.delivery_id} ({self.outcome})"


# Upper bounds (ms, exclusive) of the latency buckets a delivery roll-up counts attempts in; the last bucket
# takes everything from 10 s up. p95 is read from these (``executions.delivery.rollups.latency_percentile``).
LATENCY_BUCKET_BOUNDS_MS: tuple[int, ...] = (50, 100, 250, 500, 1000, 2500, 5000, 10000)
LATENCY_BUCKET_FIELDS: tuple[str, ...] = (
    "attempts_under_50ms",
    "attempts_under_100ms",
    "attempts_under_250ms",
    "attempts_under_500ms",
    "attempts_under_1s",
    "attempts_under_2500ms",
    "attempts_under_5s",
    "attempts_under_10s",
    "attempts_10s_or_more",
)


class DeliveryDailyRollup(models.Model):
    """One endpoint's webhook traffic on one local day (the tenant's time zone): deliveries that ended, and
    the HTTP attempts that finished, with their latencies in buckets.

    Folded from raw rows by ``executions.delivery.rollups`` (periodically, for the last days), so the
    dashboard reads days x endpoints rows, never the deliveries, and keeps them once raw rows are pruned.
    """

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("governance.Tenant", on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="daily_rollups")
    day = models.DateField()
    # Deliveries whose last ending (completed_at) fell on this day; a redelivered one counts where it ended.
    deliveries_succeeded = models.PositiveBigIntegerField(default=0)
    deliveries_failed = models.PositiveBigIntegerField(default=0)
    # HTTP attempts that finished this day (an answer or an error; in-flight and unknown ones are not).
    attempts = models.PositiveBigIntegerField(default=0)
    attempts_failed = models.PositiveBigIntegerField(default=0)
    latency_ms_sum = models.FloatField(default=0.0)
    attempts_under_50ms = models.PositiveBigIntegerField(default=0)
    attempts_under_100ms = models.PositiveBigIntegerField(default=0)
    attempts_under_250ms = models.PositiveBigIntegerField(default=0)
    attempts_under_500ms = models.PositiveBigIntegerField(default=0)
    attempts_under_1s = models.PositiveBigIntegerField(default=0)
    attempts_under_2500ms = models.PositiveBigIntegerField(default=0)
    attempts_under_5s = models.PositiveBigIntegerField(default=0)
    attempts_under_10s = models.PositiveBigIntegerField(default=0)
    attempts_10s_or_more = models.PositiveBigIntegerField(default=0)
    folded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "webhook_delivery_daily_rollups"
        ordering = ["endpoint_id", "-day"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "day"], name="delivery_rollup_one_per_day")]
        indexes = [models.Index(fields=["tenant", "day"], name="delivery_rollup_tenant_day")]

    def __str__(self) -> str:
        ended = f"{self.deliveries_succeeded} ok, {self.deliveries_failed} failed"
        return f"endpoint {self.endpoint_id} {self.day}: {ended}"
