from django.db import models

# TriggerType, ActionType and ConditionOperator name the built-in kinds (the spec's enum values) for code
# that refers to one of them. The lists of kinds (choices, validation, the API schema) come from the
# registries in automations.kinds, which also hold a host project's kinds: read those, not .choices.


class TriggerType(models.TextChoices):
    EVENT = "event", "Event"
    SCHEDULE = "schedule", "Schedule"
    THRESHOLD = "threshold", "Threshold"
    BEHAVIOR = "behavior", "Behavior"


class ActionType(models.TextChoices):
    START_WORKFLOW = "start_workflow", "Start Workflow"
    SEND_NOTIFICATION = "send_notification", "Send Notification"
    UPDATE_PRODUCT = "update_product", "Update Product"
    GENERATE_CAMPAIGN = "generate_campaign", "Generate Campaign"
    CREATE_LANDING_PAGE = "create_landing_page", "Create Landing Page"
    ADD_PRODUCT = "add_product", "Add Product"
    UPDATE_STORE = "update_store", "Update Store"
    GENERATE_DRAFT = "generate_draft", "Generate Draft"


class RiskLevel(models.TextChoices):
    LOW = "low", "Low - Safe for auto-execution"
    MEDIUM = "medium", "Medium - Review recommended"
    HIGH = "high", "High - Requires council approval"
    CRITICAL = "critical", "Critical - Always requires approval"


class RuleMode(models.TextChoices):
    """Whether a rule acts (live) or only logs what it would have done (shadow, docs/shadow.md)."""

    LIVE = "live", "Live"
    SHADOW = "shadow", "Shadow (logs what it would do, never acts)"


class ContactCap(models.TextChoices):
    """Whether a rule's customer-facing actions count against, and obey, the tenant's contact policy
    (caps and quiet hours, docs/contact-pressure.md). Transactional rules (an order confirmation) are exempt."""

    OBEY = "obey", "Obey the tenant's contact caps and quiet hours"
    EXEMPT = "exempt", "Exempt (transactional: never held)"


class WhenCapped(models.TextChoices):
    """What happens to an action the contact policy holds back."""

    SKIP = "skip", "Skip it (throttled)"
    DEFER = "defer", "Defer it to the end of the window or the quiet hours (deferred)"


class RuleStateChangeKind(models.TextChoices):
    """A change to a rule that is not a new definition (those are ``RuleVersion`` rows)."""

    ENABLED = "enabled", "Enabled"
    DISABLED = "disabled", "Disabled"
    ARCHIVED = "archived", "Archived"
    # Turned off by the circuit breaker: its runs failed the tenant's rule_breaker_failures times in a row.
    PAUSED = "paused", "Paused automatically"


class Category(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    STORE = "store", "Store"
    PRODUCT = "product", "Product"
    CAMPAIGN = "campaign", "Campaign"
    CUSTOMER = "customer", "Customer"


class SchedulePattern(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    SEASONAL = "seasonal", "Seasonal"
    CRON = "cron", "Cron"


class Season(models.TextChoices):
    BLACK_FRIDAY = "black_friday", "Black Friday"
    CYBER_MONDAY = "cyber_monday", "Cyber Monday"
    HOLIDAY_SEASON = "holiday_season", "Holiday season"
    VALENTINES_DAY = "valentines_day", "Valentine's Day"
    MOTHERS_DAY = "mothers_day", "Mother's Day"
    BACK_TO_SCHOOL = "back_to_school", "Back to school"
    SPRING = "spring", "Spring"
    SUMMER = "summer", "Summer"
    AUTUMN = "autumn", "Autumn"
    WINTER = "winter", "Winter"


class ThresholdOperator(models.TextChoices):
    LT = "<", "drops below"
    GT = ">", "rises above"
    LTE = "<=", "is at or below"
    GTE = ">=", "reaches"
    EQ = "=", "equals"
    NEQ = "!=", "differs from"


class BehaviorType(models.TextChoices):
    ABANDONED_CART = "abandoned_cart", "Abandoned cart"
    PRODUCT_VIEWED_NOT_BOUGHT = "product_viewed_not_bought", "Product viewed but not bought"
    REPEAT_PURCHASE = "repeat_purchase", "Repeat purchase"
    HIGH_VALUE_CUSTOMER = "high_value_customer", "High-value customer"
    DORMANT_CUSTOMER = "dormant_customer", "Dormant customer"


class NotificationRecipient(models.TextChoices):
    OWNER = "owner", "Owner"
    COLLABORATORS = "collaborators", "Collaborators"
    COUNCILS = "councils", "Councils"


class NotificationChannel(models.TextChoices):
    EMAIL = "email", "Email"
    PUSH = "push", "Push"
    SMS = "sms", "SMS"


class CampaignChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SOCIAL = "social", "Social"
    ADS = "ads", "Ads"
    SMS = "sms", "SMS"


class ConditionOperator(models.TextChoices):
    EQ = "=", "equals"
    NEQ = "!=", "does not equal"
    LT = "<", "is less than"
    GT = ">", "is greater than"
    LTE = "<=", "is at most"
    GTE = ">=", "is at least"
    CONTAINS = "contains", "contains"
    NOT_CONTAINS = "not_contains", "does not contain"
    IN = "in", "is one of"
    NOT_IN = "not_in", "is not one of"
    BETWEEN = "between", "is between"
    EXISTS = "exists", "exists"
    MATCHES = "matches", "matches"


class ConditionGroup(models.TextChoices):
    ANY = "any", "any of"
    ALL = "all", "all of"
    NOT = "not", "not"
