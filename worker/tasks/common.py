"""What every task shares: retry with backoff on a database or broker hiccup, time limits."""

from __future__ import annotations

import kombu.exceptions
import redis.exceptions
import sqlalchemy.exc

# Transient failures worth retrying: the database restarting or refusing connections
# (OperationalError covers both backends, SQLite's "database is locked" too) and the broker
# being briefly unreachable. Anything else is a bug or bad data and fails at once.
RETRY_ON: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)

# Options for ``@celery.task(**RETRYING)``: up to 5 retries at 2, 4, 8, 16, 32 s (jittered).
RETRYING = dict(
    bind=True,
    autoretry_for=RETRY_ON,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)
