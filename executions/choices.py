from django.db import models


class ExecutionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SKIPPED = "skipped", "Skipped (conditions not met)"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    BLOCKED = "blocked", "Blocked"
    CANCELLED = "cancelled", "Cancelled (rule archived)"
    # A shadow rule's run: conditions and governance decided, the action logged, never taken.
    SHADOWED = "shadowed", "Shadowed (would have acted)"
    # Held by a contact cap, quiet hours or a tenant quota: skipped for good (throttled), or waiting
    # until ``next_attempt_at`` to run once (deferred).
    THROTTLED = "throttled", "Throttled (held by a cap)"
    DEFERRED = "deferred", "Deferred"


class TriggerSource(models.TextChoices):
    EVENT = "event", "Event"
    SCHEDULER = "scheduler", "Scheduler"
    THRESHOLD = "threshold", "Threshold"
    BEHAVIOR = "behavior", "Behavior"
    MANUAL = "manual", "Manual"


class ScheduleSlotStatus(models.TextChoices):
    FIRED = "fired", "Fired"
    MISSED = "missed", "Missed (too late to fire)"


class CustomerEventType(models.TextChoices):
    """Customer activity the behaviour tracker reads (events carrying a customer_id)."""

    CART_UPDATED = "cart_updated", "Cart updated"
    CHECKOUT_STARTED = "checkout_started", "Checkout started"
    ORDER_PLACED = "order_placed", "Order placed"
    PRODUCT_VIEWED = "product_viewed", "Product viewed"
    CUSTOMER_ACTIVE = "customer_active", "Customer active"


# Event types that count as activity on a customer's cart.
CART_EVENT_TYPES = (CustomerEventType.CART_UPDATED, CustomerEventType.CHECKOUT_STARTED)


# An execution is open until it reaches one of these; success is set exactly then.
ENDED_STATUSES = frozenset(
    {
        ExecutionStatus.SKIPPED,
        ExecutionStatus.REJECTED,
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.FAILED,
        ExecutionStatus.BLOCKED,
        ExecutionStatus.CANCELLED,
        ExecutionStatus.SHADOWED,
        ExecutionStatus.THROTTLED,
    }
)
OPEN_STATUSES = frozenset(set(ExecutionStatus) - ENDED_STATUSES)
UNSUCCESSFUL_ENDED_STATUSES = frozenset(ENDED_STATUSES - {ExecutionStatus.SUCCEEDED})
# Statuses of executions whose action was allowed to run: what max_frequency_per_day counts.
ACTION_ALLOWED_STATUSES = frozenset(
    {
        ExecutionStatus.APPROVED,
        ExecutionStatus.RUNNING,
        ExecutionStatus.RETRYING,
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.FAILED,
    }
)


def success_for_status(status: str) -> bool | None:
    """``success`` as it must be for ``status``: True, False once ended, None while open."""
    if status == ExecutionStatus.SUCCEEDED:
        return True
    if status in ENDED_STATUSES:
        return False
    return None


# How a sentence says where an execution stands: "Execution 12 succeeded", "… is awaiting approval".
EXECUTION_STATUS_PREDICATES: dict[str, str] = {
    ExecutionStatus.PENDING: "is pending",
    ExecutionStatus.SKIPPED: "was skipped: its conditions were not met",
    ExecutionStatus.AWAITING_APPROVAL: "is awaiting approval",
    ExecutionStatus.APPROVED: "was approved",
    ExecutionStatus.REJECTED: "was rejected",
    ExecutionStatus.RUNNING: "is running",
    ExecutionStatus.RETRYING: "is retrying its deliveries",
    ExecutionStatus.SUCCEEDED: "succeeded",
    ExecutionStatus.FAILED: "failed",
    ExecutionStatus.BLOCKED: "was blocked",
    ExecutionStatus.CANCELLED: "was cancelled: its rule was archived",
    ExecutionStatus.SHADOWED: "was shadowed: its rule is in shadow mode, so the action was only logged",
    ExecutionStatus.THROTTLED: "was throttled: a cap held its action back",
    ExecutionStatus.DEFERRED: "is deferred: a cap holds its action until later",
}


def execution_sentence(execution_label: str, status: str) -> str:
    """``Execution 12`` + ``succeeded`` -> "Execution 12 succeeded" (the API's and the portal's words)."""
    predicate = EXECUTION_STATUS_PREDICATES.get(status)
    if predicate is None:
        label = ExecutionStatus(status).label if status in ExecutionStatus.values else status
        predicate = f"has the status “{label}”"
    return f"{execution_label} {predicate}"


class FailureKind(models.TextChoices):
    """Why an execution failed, is retrying, or ended without acting (blocked, rejected, cancelled).

    ``AutomationExecution.failure_kind`` holds one ("" when the execution did not fail); the cause and
    what to do next for each live in ``executions.failures`` (docs/failures.md).
    """

    RECEIVER_REFUSED = "receiver_refused", "Receiver refused"
    RECEIVER_DOWN = "receiver_down", "Receiver unavailable"
    TIMED_OUT = "timed_out", "Timed out"
    NO_ENDPOINT = "no_endpoint", "No endpoint"
    DESTINATION_REFUSED = "destination_refused", "Webhook address not allowed"
    OUTCOME_UNKNOWN = "outcome_unknown", "Outcome unknown"
    ACTION_ERROR = "action_error", "Action error"
    CONDITION_ERROR = "condition_error", "Condition error"
    GOVERNANCE_ERROR = "governance_error", "Governance error"
    GOVERNANCE_REJECTED = "governance_rejected", "Rejected by the council"
    NO_COUNCIL = "no_council", "No council to approve"
    CAP_REACHED = "cap_reached", "Loop-protection cap reached"
    CHAIN_LOOP = "chain_loop", "Loop in a chain of actions"
    RULE_INACTIVE = "rule_inactive", "Rule disabled or archived"
    APPROVAL_CANCELLED = "approval_cancelled", "Approval cancelled"
    INTERNAL_ERROR = "internal_error", "Internal error"


# Statuses whose execution carries a failure kind (every other status has "").
FAILURE_STATUSES = frozenset(
    {
        ExecutionStatus.FAILED,
        ExecutionStatus.RETRYING,
        ExecutionStatus.BLOCKED,
        ExecutionStatus.REJECTED,
        ExecutionStatus.CANCELLED,
    }
)


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled (rule archived)"


class NotificationKind(models.TextChoices):
    APPROVAL_REQUESTED = "approval_requested", "Approval requested"
    EXECUTION_FAILED = "execution_failed", "Execution failed"
    EXECUTION_REJECTED = "execution_rejected", "Execution rejected"
    # A send_notification action's message.
    AUTOMATION_MESSAGE = "automation_message", "Automation message"
    # The circuit breaker paused a rule (one notice per pause, to its owner).
    RULE_PAUSED = "rule_paused", "Automation paused"


class ActionOutcome(models.TextChoices):
    """What an action handler knows about its attempt."""

    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    # The command may or may not have taken effect (a timeout, a lost connection): retry it with the
    # same idempotency key.
    UNKNOWN = "unknown", "Unknown (retry with the same idempotency key)"
    # Nothing received the command (no enabled webhook endpoint for its action type): it was only
    # recorded. The run ends ``succeeded`` (no error) but is an outcome of its own (ExecutionOutcome).
    RECORDED = "recorded", "Recorded only (nothing received it)"


class ExecutionOutcome(models.TextChoices):
    """What a run came to, as pages and stats tell it apart: its status, except that a succeeded run whose
    command nothing received (``AutomationExecution.recorded_only``) is ``recorded_only``."""

    RECORDED_ONLY = "recorded_only", "Recorded only (nothing received it)"


# The values of an execution's ``outcome``: every status, and recorded_only.
OUTCOME_CHOICES = [*ExecutionStatus.choices, *ExecutionOutcome.choices]

# ``action_result["delivery"]`` of a command nothing received.
NOT_DELIVERED = "not_delivered"


class DeliveryStatus(models.TextChoices):
    """Where one webhook delivery (an execution's command to one endpoint) stands."""

    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


# A delivery in one of these may still be sent; the sweeper looks only at these.
OPEN_DELIVERY_STATUSES = frozenset({DeliveryStatus.PENDING, DeliveryStatus.RETRYING})


class AttemptOutcome(models.TextChoices):
    """What one HTTP attempt of a delivery came to."""

    IN_FLIGHT = "in_flight", "In flight"
    SUCCEEDED = "succeeded", "Succeeded (2xx)"
    RETRYABLE = "retryable", "Failed, will retry (timeout, connection error, 429, 5xx)"
    FAILED = "failed", "Failed permanently (3xx, 4xx, refused destination)"
    # The worker died (or lost its lease) before it recorded what the receiver answered.
    UNKNOWN = "unknown", "Unknown (worker lost mid-request)"
    # A 2xx for a delivery that already has its one recorded success: shown, never counted twice.
    DUPLICATE = "duplicate", "Duplicate success (already delivered)"
