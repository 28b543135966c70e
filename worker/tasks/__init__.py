"""Celery tasks, one module per area, each task named in core.jobs. Celery imports them through
the app's ``include`` (core.celery_app.TASK_MODULES)."""
