"""Notifications: channel backends (``channels``) that the pipeline's notify_users sends through."""
