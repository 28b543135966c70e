"""Import target for the worker and beat processes: ``celery -A worker.main worker``.
Configures the database and Celery from the environment at import."""

from worker.celery_app import worker_app

celery = worker_app()
