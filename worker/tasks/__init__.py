"""Celery tasks, one module per concern. Importing this package registers them all."""

from worker.tasks import evaluation, feedback, maintenance, outbound, reminders, rounds

__all__ = ["evaluation", "feedback", "maintenance", "outbound", "reminders", "rounds"]
