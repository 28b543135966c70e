"""Import target for the worker and beat processes: ``celery -A worker.main worker``.
Configures the database and Celery from the environment at import."""

from __future__ import annotations

from celery import Celery

import core.db
from core.celery_app import configure_celery
from core.fanout import BATCH_THREADS
from core.files import restrict_new_files
from core.settings import load_settings
from core.surveys.rounds import refuse_without_seal_keys


def worker_app() -> Celery:
    """Configure the process-wide Celery app from the environment."""
    restrict_new_files()  # the worker's files (logs, a SQLite database) are not world-readable
    s = load_settings()
    # A batch of notices runs on BATCH_THREADS threads, each marking its rows on a connection
    # of the pool: with SQLAlchemy's default five, the others were opened and closed for every
    # notice (issue 26: a new PostgreSQL backend a notice, a twentieth of the worker's CPU).
    core.db.configure(s.database_url, pool_size=BATCH_THREADS + 2)
    # Refuse to start with a seal key that cannot open the open rounds' answers (issue 11).
    refuse_without_seal_keys(settings=s)
    return configure_celery(s)


celery = worker_app()
