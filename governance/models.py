"""Tenants, who belongs to them, the councils that approve risky automations, and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
import zoneinfo
from collections.abc import Callable, Collection

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from governance.choices import DEFAULT_BUSINESS_DAYS, WEEKDAYS_BY_INDEX, FailureMessages, Role
from governance.contact_policy import validate_contact_policy
from governance.roles import APPROVER_ROLES


def validate_timezone_name(value: str) -> None:
    """Refuse anything that is not an IANA time zone name."""
    if not is_valid_timezone(value):
        raise ValidationError(f'"{value}" is not an IANA time zone name such as "Europe/Berlin".')


def is_valid_timezone(value: object) -> bool:
    if not isinstance(value, str) or not value or len(value) > 64:
        return False
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


REQUESTER_CANNOT_APPROVE_CHOICES = [
    ("never", "Never (a requester on the council may approve)"),
    ("low", "Every risk level"),
    ("medium", "Medium risk and above"),
    ("high", "High risk and above"),
    ("critical", "Critical risk only"),
]


# The action types ``Tenant.minutes_saved_per_action`` may name. Governance sits below automations, which
# knows the action kinds: automations hands them down in ready() (``known_action_types_from``).
_action_types: Callable[[], Collection[str]] = tuple
MAX_MINUTES_SAVED = 24 * 60


# Tenant quotas' defaults: above what one busy shop sends (1,000 events a second for a minute; 1,000,000
# actions an hour), so they stop a runaway client, not a platform at the throughput make bench measures.
DEFAULT_EVENTS_PER_MINUTE_QUOTA = 60_000
DEFAULT_EXECUTIONS_PER_HOUR_QUOTA = 1_000_000
MAX_QUOTA = 1_000_000_000


def known_action_types_from(provider: Callable[[], Collection[str]]) -> None:
    """Set what lists the action types a tenant's time-saved setting may name (automations' registry)."""
    global _action_types
    _action_types = provider


def minutes_saved_problems(value: object) -> list[str]:
    """Why ``value`` is not a time-saved setting: ``{action_type: minutes}``, minutes from 0 to 1440."""
    if not isinstance(value, dict):
        return ['Give an object of action types and minutes, such as {"send_notification": 3}.']
    known = set(_action_types())
    problems = []
    for key, minutes in value.items():
        if known and key not in known:
            problems.append(f'"{key}" is not an action type; use one of {", ".join(sorted(known))}.')
        elif isinstance(minutes, bool) or not isinstance(minutes, int | float) or not 0 <= minutes <= MAX_MINUTES_SAVED:
            problems.append(f"{key}: give the minutes one run saves as a number from 0 to {MAX_MINUTES_SAVED}.")
    return problems


def default_business_days() -> list[str]:
    return list(DEFAULT_BUSINESS_DAYS)


def new_council_id() -> str:
    return f"council_{uuid.uuid4().hex}"


class Tenant(models.Model):
    """A shop or organisation on the platform; every rule and execution belongs to one."""

    id = models.CharField(primary_key=True, max_length=64, help_text="A string id such as tenant_123.")
    name = models.CharField(max_length=255)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone_name])
    business_hours_start = models.TimeField(default=dt.time(9, 0))
    business_hours_end = models.TimeField(default=dt.time(17, 0))
    business_days = models.JSONField(default=default_business_days, blank=True)
    requester_cannot_approve = models.CharField(
        max_length=10,
        choices=REQUESTER_CANNOT_APPROVE_CHOICES,
        default="critical",
        help_text="Whoever triggered an execution of this risk level or higher cannot approve it themselves.",
    )
    failure_messages = models.CharField(
        max_length=20,
        choices=FailureMessages.choices,
        default=FailureMessages.FIRST_PER_WINDOW,
        db_default=FailureMessages.FIRST_PER_WINDOW,
        help_text="How owners hear of failing rules by email (and push, sms): at the first failure of each "
        "rule and window, in an hourly digest, or not at all (in-app notices only).",
    )
    # The dashboard's "time saved": minutes one successful run of an action type saves, where the tenant
    # disagrees with the action kind's default (docs/analytics.md). {} keeps every default.
    minutes_saved_per_action = models.JSONField(
        default=dict,
        blank=True,
        help_text="Minutes one successful run saves, per action type, where the action's default does not fit: "
        '{"send_notification": 3}.',
    )
    # Contact pressure across rules (docs/contact-pressure.md): per channel (email, sms, push, any), at most
    # ``max`` customer-facing actions per customer in ``window_hours``, and quiet hours in the tenant's (or
    # the event's customer's) zone. A channel left out keeps its default; null lifts its limits.
    contact_policy = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per channel (email, sms, push, any): "
        '{"email": {"max": 1, "window_hours": 16, "quiet_hours": {"start": "21:00", "end": "08:00"}}}. '
        "A channel left out keeps its default (docs/contact-pressure.md); null: no limit on it.",
    )
    # How long raw executions (with their deliveries, attempts and notices) are kept; the daily roll-ups
    # are kept forever (docs/analytics.md).
    execution_retention_days = models.PositiveIntegerField(
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Days raw executions are kept; their daily roll-ups (the stats) are kept forever.",
    )
    # The rules' circuit breaker (docs/governance.md, "Circuit breakers"): a live rule whose runs fail this many
    # times in a row is paused with one notice to its owner; 0 turns it off.
    rule_breaker_failures = models.PositiveIntegerField(
        default=20,
        db_default=20,
        validators=[MaxValueValidator(100000)],
        help_text="Pause a rule automatically when its runs fail this many times in a row (0: never).",
    )
    # Per-tenant quotas (governance/quotas.py, docs/governance.md "Tenant quotas"), counted in one shared
    # counter per window: Redis when the API throttle's cache is Redis, else the quota_counters table.
    events_per_minute_quota = models.PositiveIntegerField(
        default=DEFAULT_EVENTS_PER_MINUTE_QUOTA,
        db_default=DEFAULT_EVENTS_PER_MINUTE_QUOTA,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_QUOTA)],
        help_text="Events the tenant may send per minute (clock minute, UTC); a post that does not fit "
        "is refused whole with HTTP 429 and Retry-After.",
    )
    executions_per_hour_quota = models.PositiveIntegerField(
        default=DEFAULT_EXECUTIONS_PER_HOUR_QUOTA,
        db_default=DEFAULT_EXECUTIONS_PER_HOUR_QUOTA,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_QUOTA)],
        help_text="Actions the tenant's executions may start per hour (clock hour, UTC); the rest are "
        "deferred to the next hour.",
    )
    # Set by the pruning before it deletes: executions triggered before this may be gone, so the roll-ups of
    # those days are never rebuilt from raw rows.
    executions_pruned_before = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tenants"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        days = self.business_days
        if not isinstance(days, list) or any(day not in WEEKDAYS_BY_INDEX for day in days):
            errors["business_days"] = f"Give a list of weekday names from {', '.join(WEEKDAYS_BY_INDEX)}."
        start, end = self.business_hours_start, self.business_hours_end
        if start and end and start >= end:
            errors["business_hours_end"] = "Business hours must end after they start."
        minutes_problems = minutes_saved_problems(self.minutes_saved_per_action)
        if minutes_problems:
            errors["minutes_saved_per_action"] = " ".join(minutes_problems)
        policy_problems = validate_contact_policy(self.contact_policy)
        if policy_problems:
            errors["contact_policy"] = " ".join(
                f"{path.removeprefix('contact_policy').lstrip('.') or 'contact_policy'}: {message}"
                for path, messages in policy_problems.items()
                for message in messages
            )
        if errors:
            raise ValidationError(errors)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone if is_valid_timezone(self.timezone) else "UTC")


class Membership(models.Model):
    """A user's role in one tenant."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tenant_memberships"
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_tenant_user")]
        indexes = [models.Index(fields=["user", "tenant"], name="membership_user_tenant")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.tenant_id}"


class Council(models.Model):
    """A group of users who approve executions of the rules assigned to it."""

    id = models.CharField(primary_key=True, max_length=64, default=new_council_id, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="councils")
    name = models.CharField(max_length=255)
    is_default = models.BooleanField(default=False)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="CouncilMember", related_name="councils", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "councils"
        ordering = ["tenant_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="council_unique_name_per_tenant"),
            models.UniqueConstraint(
                fields=["tenant"], condition=models.Q(is_default=True), name="council_one_default_per_tenant"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CouncilMember(models.Model):
    council = models.ForeignKey(Council, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="council_memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "council_members"
        constraints = [models.UniqueConstraint(fields=["council", "user"], name="council_member_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.council}"

    def clean(self) -> None:
        """A seat needs a role that approves in the council's tenant (docs/governance.md)."""

        if self.council_id is None or self.user_id is None:
            return
        role = Membership.objects.filter(tenant_id=self.council.tenant_id, user_id=self.user_id).values_list(
            "role", flat=True
        )
        if role.first() not in APPROVER_ROLES:
            raise ValidationError({"user": "Only an owner or a council member of this tenant can sit on its councils."})


class TrustedUser(models.Model):
    """A user whose triggers may be auto-approved by rules with ``trusted_users_only``."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="trusted_users")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trusted_in")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "trusted_users"
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="trusted_user_unique")]

    def __str__(self) -> str:
        return f"{self.user} trusted in {self.tenant_id}"

    def clean(self) -> None:
        members = Membership.objects.filter(tenant_id=self.tenant_id, user_id=self.user_id)
        if self.tenant_id and self.user_id and not members.exists():
            raise ValidationError({"user": "Only a member of this tenant can be trusted in it."})


def api_token_digest(key: str) -> str:
    """The stored form of an API key: its SHA-256, in hex.

    A fast hash is enough here, unlike for passwords: keys are random (256 bits, or 160 for keys migrated
    from DRF's tokens), so no guess list or brute force can find one from its digest, and a salt-free
    digest is what lets a request find its token with one indexed lookup.
    """
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class ApiToken(models.Model):
    """A named API key of a user. Only the key's digest is stored; the key is shown once, when made."""

    PREFIX_LENGTH = 12

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=PREFIX_LENGTH, editable=False, help_text="The key's first characters.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    # Updated at most every few minutes (governance.api.authentication), never on every request.
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "api_tokens"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "created_at"], name="api_token_user_created")]

    def __str__(self) -> str:
        return f"{self.prefix}… {self.name} ({self.user})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired


class QuotaCounter(models.Model):
    """One quota's count in one window, for the database backend of ``governance.quotas`` (the embedded
    default; with Redis the counts live there). Bumped with one conditional ``UPDATE … SET count = count + k``."""

    key = models.CharField(max_length=100)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "quota_counters"
        constraints = [models.UniqueConstraint(fields=["key", "window_start"], name="quota_counter_unique_window")]
        indexes = [models.Index(fields=["window_start"], name="quota_counter_window")]

    def __str__(self) -> str:
        return f"{self.key} @ {self.window_start:%Y-%m-%d %H:%M}: {self.count}"
