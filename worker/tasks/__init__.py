"""Celery tasks, one module per concern. Importing this package registers them all."""

import importlib

# Each module registers its tasks on ``worker.celery_app.celery`` when imported.
for _name in ("outbound", "feedback", "evaluation", "reminders", "maintenance"):
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"{__name__}.{_name}":
            raise
