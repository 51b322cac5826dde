"""Running rules: one AutomationExecution per trigger of a rule, the audit trail of what happened."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from executions.choices import (
    ENDED_STATUSES,
    OPEN_STATUSES,
    UNSUCCESSFUL_ENDED_STATUSES,
    ApprovalStatus,
    ExecutionOutcome,
    ExecutionStatus,
    FailureKind,
    NotificationKind,
    ScheduleSlotStatus,
    TriggerSource,
    success_for_status,
)


def empty_dict() -> dict:
    return {}


def empty_list() -> list:
    return []


def outcome_q(outcome: str) -> models.Q:
    """Executions whose ``outcome`` is ``outcome``: succeeded runs something received apart from those only
    recorded (``recorded_only``), every other outcome by its status. Filters and stats use this."""
    if outcome == ExecutionOutcome.RECORDED_ONLY:
        return models.Q(status=ExecutionStatus.SUCCEEDED, recorded_only=True)
    if outcome == ExecutionStatus.SUCCEEDED:
        return models.Q(status=ExecutionStatus.SUCCEEDED, recorded_only=False)
    return models.Q(status=outcome)


class AutomationExecution(models.Model):
    id = models.BigAutoField(primary_key=True)
    automation_rule = models.ForeignKey(
        "automations.AutomationRule", on_delete=models.PROTECT, related_name="executions"
    )
    tenant = models.ForeignKey("governance.Tenant", on_delete=models.PROTECT, related_name="executions")
    event = models.ForeignKey(
        "executions.Event", null=True, blank=True, on_delete=models.PROTECT, related_name="executions"
    )
    # What this execution is the one run for: "event:<id>", "schedule:<utc slot>", "threshold:<crossing>",
    # "behavior:<customer>:<occurrence>". Unique per rule, so a redelivered trigger never runs twice.
    occurrence_key = models.CharField(max_length=255, null=True, blank=True)
    rule_version = models.ForeignKey(
        "automations.RuleVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="executions"
    )
    status = models.CharField(max_length=20, choices=ExecutionStatus.choices, default=ExecutionStatus.PENDING)

    triggered_at = models.DateTimeField(default=timezone.now)
    trigger_source = models.CharField(max_length=20, choices=TriggerSource.choices)
    trigger_data = models.JSONField(default=empty_dict, blank=True)
    # Who caused this run, as authenticated (docs/governance.md, "Where each fact comes from"): the
    # caller of a manual run, the poster of an API event; null for signals, listeners and Python emits.
    # Governance's trusted_users_only reads this, never a user_id in the context.
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    conditions_met = models.BooleanField(null=True, blank=True)
    condition_results = models.JSONField(default=empty_list, blank=True)

    action_started_at = models.DateTimeField(null=True, blank=True)
    action_completed_at = models.DateTimeField(null=True, blank=True)
    action_result = models.JSONField(null=True, blank=True)

    success = models.BooleanField(null=True, blank=True)
    # A succeeded run whose command nothing received (no enabled webhook endpoint for its action type):
    # it was only recorded. Never shown as a success; stats count it apart (``outcome``).
    recorded_only = models.BooleanField(default=False)
    error_message = models.TextField(blank=True, default="")
    # Why it failed, is retrying, or ended without acting (executions.failures.failure_kind_for sets it
    # with error_message; "" when it did not fail). db_default: rows inserted by code that predates the
    # column get "" too, and adding the column never rewrites the table.
    failure_kind = models.CharField(max_length=32, blank=True, default="", db_default="", choices=FailureKind.choices)
    execution_time_ms = models.FloatField(null=True, blank=True)

    required_approval = models.BooleanField(default=False)
    approved_by_user_id = models.CharField(max_length=150, blank=True, default="")
    approved_at = models.DateTimeField(null=True, blank=True)
    # The governance decision the pipeline took (ApprovalDecision.as_dict()), for the audit trail.
    governance_decision = models.JSONField(null=True, blank=True)

    # Action attempts. ``action_attempts`` counts claims of the action step and doubles as the
    # fencing token: a worker records its result only while the row still carries its attempt number.
    action_attempts = models.PositiveSmallIntegerField(default=0)
    # While ``running``: when the worker's claim lapses and the lease sweeper may reclaim the row.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # While ``retrying``: the earliest time of the next attempt (backoff lives here, not in the broker).
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    # Contact pressure (docs/contact-pressure.md): the customer this run is about (its event's customer_id,
    # or its behaviour's customer; "" for none: never capped) and the channels its action reaches them on
    # (",email,any," as of the rule's version when logged; "" when not customer-facing). Counting a
    # customer's actions across rules is one query on execution_customer_contact.
    customer_id = models.CharField(max_length=100, blank=True, default="", db_default="")
    contact_channels = models.CharField(max_length=64, blank=True, default="", db_default="")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "automation_executions"
        ordering = ["-triggered_at", "-id"]
        indexes = [
            models.Index(fields=["automation_rule", "-triggered_at"], name="execution_rule_recent"),
            models.Index(fields=["tenant", "-triggered_at"], name="execution_tenant_recent"),
            models.Index(fields=["automation_rule", "status", "triggered_at"], name="execution_rule_status"),
            models.Index(
                fields=["status", "updated_at"],
                condition=models.Q(status__in=sorted(OPEN_STATUSES)),
                name="execution_open_by_status",
            ),
            models.Index(
                fields=["tenant", "customer_id", "action_started_at"],
                condition=~models.Q(customer_id=""),
                name="execution_customer_contact",
            ),
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status=ExecutionStatus.DEFERRED),
                name="execution_deferred_due",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["automation_rule", "occurrence_key"],
                condition=models.Q(occurrence_key__isnull=False),
                name="execution_one_per_rule_occurrence",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ExecutionStatus.values), name="execution_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(trigger_source__in=TriggerSource.values), name="execution_trigger_source_valid"
            ),
            # success is true only for succeeded, false for every other ended status, null while open.
            models.CheckConstraint(
                condition=(
                    models.Q(status=ExecutionStatus.SUCCEEDED, success=True)
                    | models.Q(status__in=sorted(UNSUCCESSFUL_ENDED_STATUSES), success=False)
                    | models.Q(status__in=sorted(OPEN_STATUSES), success__isnull=True)
                ),
                name="execution_success_matches_status",
            ),
            models.CheckConstraint(
                condition=models.Q(recorded_only=False) | models.Q(status=ExecutionStatus.SUCCEEDED),
                name="execution_recorded_only_succeeded",
            ),
        ]

    # Not a column: when the hold step counted this run's action start in its tenant's executions-per-hour
    # quota (executions.pipeline.hold.quota_holds), so a caller that then loses the run to another worker
    # gives the count back.
    quota_counted_at: dt.datetime | None = None

    def __str__(self) -> str:
        return f"execution {self.pk} of {self.automation_rule_id} ({self.status})"

    @property
    def log_fields(self) -> dict[str, object]:
        """The ids a log line about this execution carries (``extra=``; JSON logs show them)."""
        return {
            "tenant_id": self.tenant_id,
            "rule_id": self.automation_rule_id,
            "execution_id": self.pk,
            "event_id": self.event_id,
        }

    @property
    def is_open(self) -> bool:
        return self.status not in ENDED_STATUSES

    @property
    def hold(self) -> dict | None:
        """What held the action back (``governance_decision["hold"]``: kind, reason, until, deferred; a shadow
        run's says ``shadow``), or None (docs/contact-pressure.md)."""
        decision = self.governance_decision if isinstance(self.governance_decision, dict) else {}
        hold = decision.get("hold")
        return hold if isinstance(hold, dict) else None

    @property
    def outcome(self) -> str:
        """What the run came to: its status, except ``recorded_only`` for a succeeded run nothing received."""
        if self.recorded_only and self.status == ExecutionStatus.SUCCEEDED:
            return str(ExecutionOutcome.RECORDED_ONLY)
        return str(self.status)

    @property
    def outcome_label(self) -> str:
        if self.outcome == ExecutionOutcome.RECORDED_ONLY:
            return str(ExecutionOutcome.RECORDED_ONLY.label)
        return str(self.get_status_display())

    def set_status(self, status: str) -> None:
        """Set status and the success flag that goes with it (a run is recorded only once succeeded)."""
        self.status = status
        self.success = success_for_status(status)
        if status != ExecutionStatus.SUCCEEDED:
            self.recorded_only = False


class ExecutionDailyRollup(models.Model):
    """Ended executions summed per (tenant, rule, day, status, failure kind, action type, trigger source).

    ``day`` is the local date (the tenant's time zone) of the executions' ``triggered_at``. A row grows as
    executions end, in the transaction that ends them (``executions.rollups``), and is kept when the raw
    executions are pruned: stats and the dashboard read these, so their cost follows days x rules.
    """

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("governance.Tenant", on_delete=models.CASCADE, related_name="+")
    automation_rule = models.ForeignKey("automations.AutomationRule", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    status = models.CharField(max_length=20, choices=ExecutionStatus.choices)
    failure_kind = models.CharField(max_length=32, blank=True, default="", choices=FailureKind.choices)
    action_type = models.CharField(max_length=40)
    trigger_source = models.CharField(max_length=20, choices=TriggerSource.choices)
    count = models.PositiveBigIntegerField(default=0)
    # Sum of the executions' execution_time_ms (a missing time counts as 0).
    execution_time_ms_sum = models.FloatField(default=0.0)
    # Of ``count``, succeeded runs whose command nothing received (``AutomationExecution.recorded_only``).
    recorded_only_count = models.PositiveBigIntegerField(default=0)

    class Meta:
        db_table = "automation_execution_daily_rollups"
        ordering = ["automation_rule_id", "-day"]
        constraints = [
            # The upsert's conflict target (rule first: the per-rule stats read its prefix).
            models.UniqueConstraint(
                fields=["automation_rule", "day", "status", "failure_kind", "action_type", "trigger_source", "tenant"],
                name="execution_rollup_one_per_key",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "day"], name="execution_rollup_tenant_day")]

    def __str__(self) -> str:
        return f"{self.automation_rule_id} {self.day} {self.status}: {self.count}"


class RuleDailyOutcomes(models.Model):
    """The daily roll-ups summed per (rule, day, action type), one column per outcome: what the analytics
    dashboard reads (issue 17: a rule's day is one row here, about seven in ``ExecutionDailyRollup``).

    Derived from ``ExecutionDailyRollup`` only: every increment of those rows adds its projection here in
    the same statement batch and transaction (``executions.rollups``), and the rebuild corrects these from
    those. ``succeeded`` counts runs something received; ``recorded_only`` the succeeded runs nothing did.
    The counts are signed so that a correction can be added like any increment.
    """

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("governance.Tenant", on_delete=models.CASCADE, related_name="+")
    automation_rule = models.ForeignKey("automations.AutomationRule", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    action_type = models.CharField(max_length=40)
    succeeded = models.BigIntegerField(default=0)
    recorded_only = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    skipped = models.BigIntegerField(default=0)
    rejected = models.BigIntegerField(default=0)
    blocked = models.BigIntegerField(default=0)
    cancelled = models.BigIntegerField(default=0)
    shadowed = models.BigIntegerField(default=0)
    throttled = models.BigIntegerField(default=0)
    # The execution_time_ms of the runs whose action ran (succeeded, recorded only included, and failed).
    ran_time_ms_sum = models.FloatField(default=0.0)

    class Meta:
        db_table = "automation_rule_daily_outcomes"
        ordering = ["automation_rule_id", "-day"]
        constraints = [
            models.UniqueConstraint(
                fields=["automation_rule", "day", "action_type", "tenant"], name="rule_daily_outcomes_one_per_key"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "day"], name="rule_daily_outcomes_tenant_day")]

    def __str__(self) -> str:
        return f"{self.automation_rule_id} {self.day} {self.action_type}"


class Event(models.Model):
    """Something that happened in a tenant's shop; the row is also the dispatch outbox."""

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("governance.Tenant", on_delete=models.CASCADE, related_name="events")
    event_type = models.CharField(max_length=100)
    source = models.CharField(max_length=100, blank=True, default="")
    payload = models.JSONField(default=empty_dict, blank=True)
    customer_id = models.CharField(max_length=100, blank=True, default="")
    idempotency_key = models.CharField(max_length=200)
    occurred_at = models.DateTimeField(default=timezone.now)
    received_at = models.DateTimeField(default=timezone.now)
    # The authenticated user who posted the event (POST /api/events); null for events from signals,
    # listeners and Python code. Never taken from the event's body or payload.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # 0 for events from outside; an event caused by an action carries its cause's depth + 1.
    causation_depth = models.PositiveSmallIntegerField(default=0)
    # TRICKY: no database constraint. A foreign key into automation_executions (deferred, as Django makes
    # them on PostgreSQL) is checked at commit with a lock on that table, so a lock held there (a long
    # migration, LOCK TABLE) stalled every event's ingestion, even with this column NULL. emit_event checks
    # the execution exists; executions are never deleted while the events they caused are kept.
    caused_by_execution = models.ForeignKey(
        AutomationExecution,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="caused_events",
        db_constraint=False,
    )
    # Set once the event has been matched against rules; null rows are the outbox the sweeper re-queues.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # When the outbox sweeper last re-queued the event, so one backlog is not re-queued on every sweep.
    requeued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "automation_events"
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "idempotency_key"], name="event_unique_idempotency_key"),
        ]
        indexes = [
            models.Index(
                fields=["received_at"], condition=models.Q(dispatched_at__isnull=True), name="event_undispatched"
            ),
            # The outbox by tenant: matching's scan of the tenants with events waiting and each one's oldest
            # (docs/pipeline.md, "Fairness between tenants").
            models.Index(
                fields=["tenant", "received_at", "id"],
                condition=models.Q(dispatched_at__isnull=True),
                name="event_undispatched_tenant",
            ),
            models.Index(fields=["tenant", "event_type", "-occurred_at"], name="event_tenant_type_recent"),
            models.Index(fields=["occurred_at"], name="event_occurred"),
            models.Index(
                fields=["tenant", "customer_id", "event_type", "occurred_at"],
                condition=~models.Q(customer_id=""),
                name="event_customer_activity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.pk} ({self.tenant_id})"

    @property
    def log_fields(self) -> dict[str, object]:
        """The ids a log line about this event carries (``extra=``; JSON logs show them)."""
        return {"tenant_id": self.tenant_id, "event_id": self.pk}


class MetricSample(models.Model):
    """One observed value of a tenant's metric or attribute (product_count = 2, store_status = active)."""

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("governance.Tenant", on_delete=models.CASCADE, related_name="metric_samples")
    metric = models.CharField(max_length=100)
    value_number = models.FloatField(null=True, blank=True)
    value_text = models.CharField(max_length=255, null=True, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "automation_metric_samples"
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "metric", "-recorded_at"], name="metric_latest"),
            models.Index(fields=["recorded_at"], name="metric_sample_recorded"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(value_number__isnull=True) | models.Q(value_text__isnull=True),
                name="metric_one_value_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.metric}={self.value} ({self.tenant_id})"

    @property
    def value(self) -> float | int | str | None:
        """The sample's value: a number (whole numbers as int) or a text."""
        return self.value_of(self.value_number, self.value_text)

    @staticmethod
    def value_of(number: float | None, text: str | None) -> float | int | str | None:
        """A sample's value from its two columns (for rows read with ``values_list``)."""
        if number is not None:
            return int(number) if float(number).is_integer() else number
        return text


class ApprovalRequest(models.Model):
    """A council's decision on one execution that governance did not auto-approve.

    The council and its members at request time are snapshotted; one decision by any current member
    of that council decides (quorum 1). The decision is claimed with a conditional update, so two
    members clicking at once produce one decision.
    """

    id = models.BigAutoField(primary_key=True)
    execution = models.OneToOneField(AutomationExecution, on_delete=models.CASCADE, related_name="approval_request")
    tenant = models.ForeignKey("governance.Tenant", on_delete=models.CASCADE, related_name="approval_requests")
    # The execution's rule, copied when the request is saved first (``save``; migration 0027 filled older
    # rows): the dashboard's category filter reads it without joining the executions (issue 17).
    automation_rule = models.ForeignKey(
        "automations.AutomationRule", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    council = models.ForeignKey(
        "governance.Council", null=True, blank=True, on_delete=models.SET_NULL, related_name="approval_requests"
    )
    status = models.CharField(max_length=20, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING)
    # {"council_id", "council_name", "member_ids", "quorum", "decision": ApprovalDecision.as_dict()}
    policy_snapshot = models.JSONField(default=empty_dict, blank=True)
    reason = models.TextField(blank=True, default="")
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True, default="")

    class Meta:
        db_table = "automation_approval_requests"
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(
                fields=["council", "requested_at"],
                condition=models.Q(status=ApprovalStatus.PENDING),
                name="approval_pending_by_council",
            ),
            models.Index(fields=["tenant", "status", "-requested_at"], name="approval_tenant_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=ApprovalStatus.values), name="approval_status_valid"),
        ]

    def __str__(self) -> str:
        return f"approval of execution {self.execution_id} ({self.status})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.automation_rule_id is None and self.execution_id is not None:
            self.automation_rule_id = self.execution.automation_rule_id
        super().save(*args, **kwargs)


class Notification(models.Model):
    """An in-app message to one user: an approval to give, an execution that failed."""

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("governance.Tenant", on_delete=models.CASCADE, related_name="notifications")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40, choices=NotificationKind.choices)
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True, default="")
    execution = models.ForeignKey(
        AutomationExecution, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    # A grouped notice: every failure of one rule in one window is one row per user, counted in
    # ``occurrences`` (executions.failure_notices); "" for a notice about one execution.
    group_key = models.CharField(max_length=150, blank=True, default="", db_default="")
    # IntegerField, not Positive…: a CHECK on a new column makes PostgreSQL scan the table under its lock.
    occurrences = models.IntegerField(default=1, db_default=1)
    last_occurred_at = models.DateTimeField(null=True, blank=True)
    # Set while the group has news for the tenant's hourly digest; the digest claims it back to False.
    digest_pending = models.BooleanField(default=False, db_default=False)

    class Meta:
        db_table = "automation_notifications"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "read_at", "-created_at"], name="notification_user_inbox"),
            models.Index(fields=["user"], condition=models.Q(digest_pending=True), name="notification_digest_due"),
        ]
        constraints = [
            # One notice of a kind per user and execution: a redelivered task never notifies twice.
            models.UniqueConstraint(
                fields=["user", "execution", "kind"],
                condition=models.Q(execution__isnull=False),
                name="notification_once_per_execution",
            ),
            # One row per user and group: concurrent failures add to it (the insert race is decided here).
            models.UniqueConstraint(
                fields=["user", "group_key"], condition=~models.Q(group_key=""), name="notification_one_per_group"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}: {self.title}"


# --- listener state: what the schedule, threshold and behaviour listeners already did ----------------


class ScheduleSlot(models.Model):
    """One slot of a schedule rule that fired or was missed; unique per (rule, slot).

    The unique row is the fence: a second beat, a retried tick or two workers can reach the same slot,
    but only one insert succeeds. A fired slot is also unique per calendar period (daily: local date),
    so a rule fires at most once a day even when its time is edited to later that day.
    """

    id = models.BigAutoField(primary_key=True)
    rule = models.ForeignKey("automations.AutomationRule", on_delete=models.CASCADE, related_name="schedule_slots")
    slot_at = models.DateTimeField(help_text="The instant the slot fires at (UTC).")
    scheduled_local = models.CharField(max_length=32, help_text="The local wall time the pattern asked for.")
    zone_name = models.CharField(max_length=64, help_text="The IANA time zone the slot was computed in.")
    period = models.CharField(max_length=40, help_text="Local date, ISO week, month or year of the slot.")
    status = models.CharField(max_length=10, choices=ScheduleSlotStatus.choices)
    execution = models.ForeignKey(
        AutomationExecution, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "automation_schedule_slots"
        ordering = ["rule_id", "-slot_at"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "slot_at"], name="schedule_slot_once"),
            models.UniqueConstraint(
                fields=["rule", "period"],
                condition=models.Q(status=ScheduleSlotStatus.FIRED),
                name="schedule_fired_once_per_period",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ScheduleSlotStatus.values), name="schedule_slot_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.status} {self.slot_at:%Y-%m-%d %H:%M}Z"


class ThresholdState(models.Model):
    """The last comparison of a threshold rule, so crossings survive restarts and fire once.

    normal: condition_met false; pending: met, waiting for for_minutes (fired_at null); firing: met and
    fired. ``version`` is the compare-and-set guard: a writer updates only the version it read.
    """

    rule = models.OneToOneField(
        "automations.AutomationRule", primary_key=True, on_delete=models.CASCADE, related_name="threshold_state"
    )
    # metric|operator|value|for_minutes the state was computed under; a changed rule starts afresh.
    config_fingerprint = models.CharField(max_length=255)
    condition_met = models.BooleanField(null=True, blank=True)
    met_since = models.DateTimeField(null=True, blank=True)
    fired_at = models.DateTimeField(null=True, blank=True)
    value_before_crossing = models.JSONField(null=True, blank=True)
    last_value = models.JSONField(null=True, blank=True)
    last_observed_at = models.DateTimeField(null=True, blank=True)
    # Crossings so far (kept when the rule's config changes); numbers each crossing's occurrence key.
    crossings = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "automation_threshold_states"

    def __str__(self) -> str:
        return f"{self.rule_id}: met={self.condition_met} since {self.met_since}"


class BehaviorMatch(models.Model):
    """One customer matching a behaviour rule for one occurrence (this abandoned cart, this order).

    Unique per (rule, customer, occurrence): the same abandoned cart never fires twice, a later one can.
    """

    id = models.BigAutoField(primary_key=True)
    rule = models.ForeignKey("automations.AutomationRule", on_delete=models.CASCADE, related_name="behavior_matches")
    customer_id = models.CharField(max_length=100)
    occurrence = models.CharField(max_length=120, help_text='What matched, such as "cart:123" (an event id).')
    # The event that identifies the occurrence; the detectors skip events already matched for the rule.
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    matched_at = models.DateTimeField(default=timezone.now)
    execution = models.ForeignKey(
        AutomationExecution, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        db_table = "automation_behavior_matches"
        ordering = ["rule_id", "-matched_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "customer_id", "occurrence"], name="behavior_match_once_per_occurrence"
            ),
        ]
        indexes = [models.Index(fields=["rule", "event"], name="behavior_match_rule_event")]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.customer_id} {self.occurrence}"


# Webhook delivery models live beside their services; importing them here makes them executions models.
from executions.delivery.models import (  # noqa: E402
    DeliveryAttempt,
    DeliveryDailyRollup,
    WebhookDelivery,
    WebhookEndpoint,
)

__all__ = [
    "ApprovalRequest",
    "AutomationExecution",
    "BehaviorMatch",
    "DeliveryAttempt",
    "DeliveryDailyRollup",
    "Event",
    "ExecutionDailyRollup",
    "MetricSample",
    "Notification",
    "RuleDailyOutcomes",
    "ScheduleSlot",
    "ThresholdState",
    "WebhookDelivery",
    "WebhookEndpoint",
]


class ServiceHeartbeat(models.Model):
    """A mark a process leaves to show it works: the worker's answers to readiness canaries."""

    name = models.CharField(primary_key=True, max_length=100)
    beat_at = models.DateTimeField()

    class Meta:
        db_table = "service_heartbeats"

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"
