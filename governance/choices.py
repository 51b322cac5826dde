from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    COLLABORATOR = "collaborator", "Collaborator"
    COUNCIL = "council", "Council member"
    VIEWER = "viewer", "Viewer"


class Weekday(models.TextChoices):
    MONDAY = "monday", "Monday"
    TUESDAY = "tuesday", "Tuesday"
    WEDNESDAY = "wednesday", "Wednesday"
    THURSDAY = "thursday", "Thursday"
    FRIDAY = "friday", "Friday"
    SATURDAY = "saturday", "Saturday"
    SUNDAY = "sunday", "Sunday"


# Python's date.weekday() index -> Weekday value.
WEEKDAYS_BY_INDEX: tuple[str, ...] = tuple(Weekday.values)
DEFAULT_BUSINESS_DAYS: list[str] = list(WEEKDAYS_BY_INDEX[:5])


class FailureMessages(models.TextChoices):
    """How a tenant's owners hear of failing rules on the notice channels (email, push, sms); the in-app
    notice is always kept, one per rule and window (docs/notifications.md, "Failure notices")."""

    FIRST_PER_WINDOW = "first_per_window", "A message when a rule starts failing, at most one per rule and window"
    HOURLY_DIGEST = "hourly_digest", "One digest an hour of the rules that failed"
    NONE = "none", "No messages: in-app notices only"
