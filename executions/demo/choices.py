from django.db import models


class DemoItemKind(models.TextChoices):
    """What the demo store holds: products, and what the rules' commands make."""

    PRODUCT = "product", "Product"
    PAGE = "page", "Landing page"
    CAMPAIGN = "campaign", "Campaign"
    DRAFT = "draft", "Workflow draft"
    WORKFLOW = "workflow", "Workflow"


class DemoCommandOutcome(models.TextChoices):
    """What the receiver did with a webhook."""

    APPLIED = "applied", "Applied"
    RECORDED = "recorded", "Recorded (nothing to change)"
    DUPLICATE = "duplicate", "Duplicate (already applied)"
    REJECTED = "rejected", "Rejected (signature not verified)"
