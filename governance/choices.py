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
