"""Celery app and tasks: evaluation, outbound WeChat messages, reminders."""
