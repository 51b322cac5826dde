"""What a rule is: its definition, its versions and its running totals."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, models
from django.utils import timezone

from automations.approval_facts import rule_approval_decision
from automations.choices import Category, ContactCap, RiskLevel, RuleMode, RuleStateChangeKind, TriggerType, WhenCapped
from automations.conditions import ConditionResult, compiled_conditions_for_rule, rule_matches
from automations.conditions.cache import MATCHES_ATTRIBUTE, CompiledFromAttribute
from automations.conditions.run_checks import rule_run_checks
from automations.kinds.actions import action_kind_choices
from automations.kinds.triggers import trigger_kind_choices
from automations.schedule_times import ScheduleError, next_run_text, next_slot_after, schedule_timezone
from automations.validators import Errors, RuleValidationError, validate_rule_definition, validate_storable
from governance.common.sql_instances import column_of
from governance.models import Council

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from governance.decisions import ApprovalDecision, GovernanceFacts

# The fields that make up a rule's definition: editing any of them makes a new version.
DEFINITION_FIELDS = (
    "name",
    "description",
    "category",
    "trigger_type",
    "trigger_config",
    "conditions",
    "action_type",
    "action_config",
    "risk_level",
    "requires_approval",
    "assigned_council_id",
    "auto_approval_rules",
    "mode",
    "contact_cap",
    "when_capped",
)


# The fields a rule's validation reads: its definition and whether it is enabled.
EDITABLE_FIELDS = (*DEFINITION_FIELDS, "enabled")
# Names a save(update_fields=...) may give for them (a foreign key saves under its field name).
_VALIDATED_SAVE_NAMES = frozenset({*EDITABLE_FIELDS, "assigned_council"})
_DEFINITION_SAVE_NAMES = frozenset({*DEFINITION_FIELDS, "assigned_council"})


def success_rate(succeeded: int, failed: int) -> float | None:
    """The success rate of a rule's runs: succeeded / (succeeded + failed), to 4 decimals; runs only
    recorded (nothing received the action) are in neither; None when none succeeded or failed
    (docs/api.md "Stats"). The only place it is computed: the rule's running totals, the details page
    and the API's stats all call it."""
    decided = succeeded + failed
    return round(succeeded / decided, 4) if decided else None


# How a success rate is shown (docs/failures.md, "Success rates"): green only at or above HEALTHY, gold
# below it, red below POOR; no rate (nothing ran) is neutral. Every page that colours a rate asks this.
SUCCESS_RATE_HEALTHY = 0.95
SUCCESS_RATE_POOR = 0.80


def success_rate_health(rate: float | None) -> str:
    """``healthy``, ``degraded`` or ``poor`` for a rate from ``success_rate``; "" for None (nothing ran)."""
    if rate is None or rate != rate:
        return ""
    if rate >= SUCCESS_RATE_HEALTHY:
        return "healthy"
    if rate >= SUCCESS_RATE_POOR:
        return "degraded"
    return "poor"


def new_rule_id() -> str:
    return f"automation_{uuid.uuid4().hex}"


def empty_list() -> list[Any]:
    return []


def empty_dict() -> dict[str, Any]:
    return {}


class LiveRuleManager(models.Manager["AutomationRule"]):
    """Rules that have not been archived (deleted)."""

    def get_queryset(self) -> models.QuerySet[AutomationRule]:
        return super().get_queryset().filter(deleted_at__isnull=True)


# The running totals ``add_runs`` writes.
TOTALS_FIELDS = (
    "execution_count",
    "success_count",
    "failure_count",
    "recorded_only_count",
    "average_execution_time_ms",
    "last_executed_at",
    "consecutive_failures",
)


class AutomationRule(models.Model):
    """trigger -> conditions -> governance -> action, owned by one tenant."""

    # Core
    id = models.CharField(primary_key=True, max_length=64, default=new_rule_id, editable=False)
    tenant = models.ForeignKey("governance.Tenant", on_delete=models.PROTECT, related_name="automation_rules")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    category = models.CharField(max_length=100, choices=Category.choices, blank=True, default="")
    enabled = models.BooleanField(default=True)

    # Trigger
    # Any registered trigger kind (automations.kinds): no database check lists them, see docs/extending.md.
    trigger_type = models.CharField(max_length=20, choices=trigger_kind_choices)
    trigger_config = models.JSONField(default=empty_dict)
    # Denormalised from trigger_config for the event matcher's indexed lookup; "" for other triggers.
    event_type = models.CharField(max_length=100, blank=True, default="", editable=False)

    # Schedule triggers only: the next slot's instant (UTC), kept in sync by the rule services and advanced
    # by the schedule tick; null for other triggers, disabled or archived rules, and schedules that never fire.
    next_run_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Conditions
    conditions = models.JSONField(default=empty_list, blank=True)
    conditions.descriptor_class = CompiledFromAttribute  # assigning drops the compiled conditions

    # Action
    # Any registered action kind (automations.kinds): no database check lists them, see docs/extending.md.
    action_type = models.CharField(max_length=40, choices=action_kind_choices)
    action_config = models.JSONField(default=empty_dict)

    # Governance
    risk_level = models.CharField(max_length=20, choices=RiskLevel.choices, default=RiskLevel.LOW)
    requires_approval = models.BooleanField(default=False)
    assigned_council = models.ForeignKey(
        "governance.Council", null=True, blank=True, on_delete=models.SET_NULL, related_name="automation_rules"
    )
    auto_approval_rules = models.JSONField(default=empty_dict, blank=True)
    # live: acts; shadow: matched, evaluated and governed like a live rule, logged as "shadowed" with the
    # action it would have taken, never delivered (no approval request, no notice). Part of the definition.
    mode = models.CharField(max_length=10, choices=RuleMode.choices, default=RuleMode.LIVE)
    # Contact pressure (docs/contact-pressure.md): whether a run that reaches the customer obeys the tenant's
    # caps and quiet hours (exempt: transactional), and whether an action they hold is skipped or deferred.
    contact_cap = models.CharField(max_length=10, choices=ContactCap.choices, default=ContactCap.OBEY)
    when_capped = models.CharField(max_length=10, choices=WhenCapped.choices, default=WhenCapped.SKIP)

    # Execution tracking
    last_triggered_at = models.DateTimeField(null=True, blank=True)
    last_executed_at = models.DateTimeField(null=True, blank=True)
    execution_count = models.PositiveIntegerField(default=0)
    success_count = models.PositiveIntegerField(default=0)
    failure_count = models.PositiveIntegerField(default=0)
    # Runs that ended without error but whose command nothing received (no webhook endpoint for the action
    # type): counted apart, neither a success nor a failure. execution_count = success + failure + this.
    recorded_only_count = models.PositiveIntegerField(default=0)
    average_execution_time_ms = models.FloatField(default=0.0)

    # The circuit breaker (docs/governance.md, "Circuit breakers"): failed runs in a row, reset by a success and
    # by enabling the rule; at the tenant's rule_breaker_failures the rule is paused (enabled off) and these
    # say when and why. Written by the pipeline in the transaction that ended each run.
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    paused_at = models.DateTimeField(null=True, blank=True, editable=False)
    paused_reason = models.TextField(blank=True, default="", editable=False)

    # Bookkeeping
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    version.descriptor_class = CompiledFromAttribute
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    all_objects = models.Manager()
    objects = LiveRuleManager()

    class Meta:
        db_table = "automation_rules"
        ordering = ["-created_at", "id"]
        base_manager_name = "all_objects"
        default_manager_name = "objects"
        indexes = [
            models.Index(
                fields=["tenant", "event_type"],
                condition=models.Q(enabled=True, deleted_at__isnull=True, trigger_type="event"),
                name="rule_enabled_event_lookup",
            ),
            models.Index(
                fields=["trigger_type", "tenant"],
                condition=models.Q(enabled=True, deleted_at__isnull=True),
                name="rule_enabled_by_trigger",
            ),
            models.Index(fields=["tenant", "category", "created_at"], name="rule_tenant_list"),
            # The schedule tick reads only due rules through this index, so its cost follows the due rules.
            models.Index(
                fields=["next_run_at"],
                condition=models.Q(
                    enabled=True, deleted_at__isnull=True, trigger_type=TriggerType.SCHEDULE, next_run_at__isnull=False
                ),
                name="rule_schedule_due",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(risk_level__in=RiskLevel.values), name="rule_risk_level_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()
        state.pop(MATCHES_ATTRIBUTE, None)  # a compiled function is not picklable; it is made again
        return state

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Refuse an invalid definition with the services' ``RuleValidationError`` (unless this exact state
        was validated already: the services validate once, then save), and version an edit made outside
        the services (the ORM, the shell): a changed definition gets the next version and its snapshot.

        Not covered: ``QuerySet.update()`` and ``bulk_create()``, which never call ``save()``.
        """
        update_fields = kwargs.get("update_fields")
        touched = None if update_fields is None else set(update_fields)
        if touched is None or touched & _VALIDATED_SAVE_NAMES:
            self.check_definition()
        self.event_type = self.derived_event_type()
        if touched is not None and "trigger_config" in touched:
            kwargs["update_fields"] = touched = {*touched, "event_type"}
        # The services version their own edits (with the editor) and say so for that one save; any other
        # edit is versioned here.
        versions_here = not self.__dict__.pop("_versions_handled", False) and (
            touched is None or bool(touched & _DEFINITION_SAVE_NAMES)
        )
        snapshot = versions_here and self._state.adding
        if versions_here and not self._state.adding:
            stored = AutomationRule.all_objects.filter(pk=self.pk).values(*DEFINITION_FIELDS).first()
            if stored is not None and stored != self.definition():
                AutomationRule.all_objects.filter(pk=self.pk).update(version=models.F("version") + 1)
                self.version = AutomationRule.all_objects.values_list("version", flat=True).get(pk=self.pk)
                if touched is not None:
                    kwargs["update_fields"] = {*touched, "version"}
                snapshot = True
        super().save(*args, **kwargs)
        if snapshot:
            definition = self.definition()
            RuleVersion.objects.get_or_create(rule=self, version=self.version, defaults={"definition": definition})

    @property
    def log_fields(self) -> dict[str, object]:
        """The ids a log line about this rule carries (``extra=``; JSON logs show them)."""
        return {"tenant_id": self.tenant_id, "rule_id": self.pk}

    # --- validation ------------------------------------------------------------------------------

    def definition_errors(self, absent: frozenset[str] = frozenset()) -> Errors:
        """Every problem of this rule's definition, keyed by field path; {} when it is valid.

        The one validation of a rule: the services raise it (``check_definition``), ``save()`` refuses
        it, the admin's form shows it (``clean``), the API nests its paths and the builder shows them.
        """
        data = {field: getattr(self, field) for field in EDITABLE_FIELDS if field not in absent}
        # TRICKY: text and numbers the databases cannot store are refused first, before any lookup
        # (the council's) would send them to PostgreSQL and fail there.
        unstorable = validate_storable(data, "")
        if unstorable:
            return {path.lstrip("."): messages for path, messages in unstorable.items()}
        errors = validate_rule_definition(data)
        council_id = self.assigned_council_id
        checked = council_id and "assigned_council_id" not in errors  # a stored-safe id only reaches the database
        if checked and not Council.objects.filter(pk=council_id, tenant_id=self.tenant_id).exists():
            errors["assigned_council_id"] = ["No such council in this tenant."]
        return errors

    def check_definition(self, absent: frozenset[str] = frozenset()) -> None:
        """Raise ``RuleValidationError`` for an invalid definition; a state once found valid is not
        validated again (the service validates, then saves). ``absent``: fields the caller did not give
        (a new rule's required JSON fields then say so, rather than checking the empty default)."""
        state = self._validation_state()
        if not absent and state is not None and getattr(self, "_valid_state", None) == state:
            return
        errors = self.definition_errors(absent)
        if errors:
            raise RuleValidationError(errors)
        self._valid_state = state

    def adopt_validated_state(self, other: AutomationRule) -> None:
        """Take over ``other``'s validated state: ``check_definition`` then skips only when this instance
        holds exactly the tenant and values ``other`` was validated with (the admin's form validated a copy)."""
        self._valid_state = getattr(other, "_valid_state", None)

    def _validation_state(self) -> str | None:
        """The validated values as text; None when they cannot be written out (then nothing is cached)."""
        values = {field: getattr(self, field) for field in EDITABLE_FIELDS}
        try:
            return json.dumps([self.tenant_id, values], sort_keys=True, default=str)
        except (TypeError, ValueError):  # e.g. an integer too long to print: it is refused anyway
            return None

    def clean(self) -> None:
        """Django's model validation (the admin's form): the definition's one validation."""
        self.check_definition()

    def derived_event_type(self) -> str:
        if self.trigger_type != TriggerType.EVENT or not isinstance(self.trigger_config, dict):
            return ""
        value = self.trigger_config.get("event_type")
        return value if isinstance(value, str) else ""

    def compute_next_run_at(self, after: dt.datetime) -> dt.datetime | None:
        """The first schedule slot strictly after ``after``, or None unless this is a live, enabled schedule."""
        if self.trigger_type != TriggerType.SCHEDULE or not self.enabled or self.deleted_at is not None:
            return None
        try:
            slot = next_slot_after(self.trigger_config, self.tenant.timezone, after)
        except ScheduleError as error:
            # An old bad row logs and never fires; it never crashes a save or a tick.
            logger.warning("rule %s: schedule cannot be computed: %s", self.pk, error)
            return None
        return slot.utc if slot is not None else None

    @property
    def next_run_text(self) -> str:
        """The details and list pages' "Next run: …" text; "" for a rule that is not a schedule.

        ``next_run_at`` (kept by the rule services with the schedule code, ``compute_next_run_at``) on the
        schedule's own clock: "Mon 8 Dec, 09:00 (America/New_York)"; a disabled or archived schedule has
        none, nor one that never fires again.
        """
        if self.trigger_type != TriggerType.SCHEDULE:
            return ""
        if not self.enabled or self.deleted_at is not None:
            return "none while disabled"
        if self.next_run_at is None:
            return "none: the schedule has no future date"
        zone = schedule_timezone(self.trigger_config, self.tenant.timezone)
        return next_run_text(self.next_run_at, zone, timezone.now())

    def definition(self) -> dict[str, Any]:
        """The versioned part of the rule, as plain JSON."""
        return {field: getattr(self, field) for field in DEFINITION_FIELDS}

    @property
    def paused_by_breaker(self) -> bool:
        """Turned off by the circuit breaker and not enabled since (``paused_reason`` says why)."""
        return not self.enabled and self.paused_at is not None

    @property
    def is_archived(self) -> bool:
        return self.deleted_at is not None

    @property
    def success_rate(self) -> float | None:
        """The rule's running totals' rate (``success_rate``: the same function as the stats selectors)."""
        return success_rate(self.success_count, self.failure_count)

    # --- the spec's methods: each delegates ------------------------------------------------------

    def evaluate_conditions(self, context: dict[str, Any]) -> bool:
        """True when every condition holds for ``context`` (an empty list always holds).

        TRICKY: from the second call on an instance, this is the compiled function itself, an instance
        attribute shadowing the method (``automations.conditions.cache.rule_matches``).
        """
        return rule_matches(self, context)

    def evaluate_conditions_detailed(self, context: dict[str, Any]) -> list[ConditionResult]:
        """One result per top-level condition: condition, passed, actual and expected value, reason."""
        return compiled_conditions_for_rule(self).explain(context)

    def run_checks(self, context: dict[str, Any]) -> list[ConditionResult]:
        """What a run with ``context`` checks before governance, one result each: for a threshold rule the
        trigger's comparison first, then each condition. Test Conditions and every execution use it."""
        return rule_run_checks(self, context)

    def approval_decision(
        self, context: dict[str, Any] | None = None, facts: GovernanceFacts | None = None
    ) -> ApprovalDecision:
        """The governance decision for running this rule's action now, with reasons.

        Governance reads no fact from ``context`` (the spec's argument; a payload or a caller's context
        is data anyone may forge): ``facts`` come from trusted sources, by default the server clock, no
        actor, the rule's own budget and our own execution counts (docs/governance.md).
        """
        return rule_approval_decision(self, facts)

    def should_auto_approve(self, context: dict[str, Any] | None = None, facts: GovernanceFacts | None = None) -> bool:
        return self.approval_decision(context, facts).auto_approved

    def record_execution(self, success: bool, execution_time_ms: float, recorded_only: bool = False) -> None:
        """Add one execution to the running totals with a single database-side update, then read them back.

        ``recorded_only``: a run that ended without error but whose command nothing received; it counts in
        ``recorded_only_count``, not in ``success_count``.
        """
        recorded = 1 if success and recorded_only else 0
        succeeded = 1 if success and not recorded else 0
        streak = (True, 0) if success else (False, 1)
        AutomationRule.add_runs(
            self.pk, 1, succeeded, 0 if success else 1, float(execution_time_ms), recorded, streak=streak
        )
        self.refresh_from_db(fields=TOTALS_FIELDS)

    @staticmethod
    def add_runs(
        rule_id: str,
        count: int,
        succeeded: int,
        failed: int,
        total_ms: float,
        recorded: int = 0,
        *,
        streak: tuple[bool, int] | None = None,
    ) -> None:
        """Add ``count`` runs (``succeeded`` + ``failed`` + ``recorded`` only) to a rule's totals in a single
        UPDATE, so concurrent recorders never lose a count.

        The new average is computed from the row's old values inside the same statement:
        avg' = (avg * n + sum of the new times) / (n + count). ``streak`` = (a success came, failures after
        the last success) moves ``consecutive_failures``, the circuit breaker's count, in the same statement:
        back to 0 plus those failures after a success, else up by them.
        """
        # TRICKY: plain SQL, not the ORM's F()/Case expressions: this runs for every rule of every batch the
        # pipeline records, where compiling those expressions cost more CPU than the statement. The right-hand
        # sides read the row's values from before the update, as F() does, on PostgreSQL and SQLite alike.
        column = {name: connection.ops.quote_name(column_of(AutomationRule, name)) for name in RUN_TOTAL_COLUMNS}
        old_count = f"CAST({column['execution_count']} AS {connection.data_types['FloatField']})"
        now = (
            "STATEMENT_TIMESTAMP()"
            if connection.vendor == "postgresql"
            else "STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW')"
        )  # Django's Now() on each database
        assignments: list[str] = []
        params: list[Any] = []
        if streak is not None:
            reset, failures = streak
            failing = column["consecutive_failures"]
            assignments.append(f"{failing} = %s" if reset else f"{failing} = {failing} + %s")
            params.append(failures)
        for name, amount in (
            ("execution_count", count),
            ("success_count", succeeded),
            ("failure_count", failed),
            ("recorded_only_count", recorded),
        ):
            assignments.append(f"{column[name]} = {column[name]} + %s")
            params.append(amount)
        average = column["average_execution_time_ms"]
        assignments.append(
            f"{average} = CASE WHEN {column['execution_count']} = 0 THEN %s "
            f"ELSE ({average} * {old_count} + %s) / ({old_count} + %s) END"
        )
        params += [float(total_ms) / count, float(total_ms), float(count)]
        assignments.append(f"{column['last_executed_at']} = {now}")
        table = connection.ops.quote_name(AutomationRule._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET {', '.join(assignments)} WHERE {column['id']} = %s", [*params, rule_id])


# The columns AutomationRule.add_runs writes, and its key.
RUN_TOTAL_COLUMNS = ("id", *TOTALS_FIELDS)


class RuleVersion(models.Model):
    """A snapshot of a rule's definition at one version; executions point at the one they ran."""

    rule = models.ForeignKey(AutomationRule, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    definition = models.JSONField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)
    # Set when this version was made by restoring an earlier one (POST …/versions/<n>/restore).
    restored_from = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        db_table = "automation_rule_versions"
        ordering = ["rule_id", "-version"]
        constraints = [models.UniqueConstraint(fields=["rule", "version"], name="rule_version_unique")]

    def __str__(self) -> str:
        return f"{self.rule_id} v{self.version}"


class RuleStateChange(models.Model):
    """A rule turned on, off or archived: its history beside the versions (which record definitions)."""

    rule = models.ForeignKey(AutomationRule, on_delete=models.CASCADE, related_name="state_changes")
    kind = models.CharField(max_length=20, choices=RuleStateChangeKind.choices)
    version = models.PositiveIntegerField(help_text="The rule's version when it changed.")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "automation_rule_state_changes"
        ordering = ["rule_id", "-changed_at", "-id"]
        indexes = [models.Index(fields=["rule", "-changed_at"], name="rule_state_change_recent")]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.kind} at v{self.version}"
