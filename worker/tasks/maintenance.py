"""Housekeeping tasks run by beat."""

from __future__ import annotations

import datetime as dt

from celery.utils.log import get_task_logger
from sqlalchemy import delete

import core.db
from core import jobs
from core.celery_app import celery
from models import ReceivedMessage
from models.base import utcnow
from worker.tasks.common import RETRYING

log = get_task_logger(__name__)

# WeChat retries a message within about 15 seconds; two days of dedup keys is ample.
KEEP_RECEIVED = dt.timedelta(days=2)


@celery.task(
    name=jobs.CLEANUP_RECEIVED,
    time_limit=120,
    soft_time_limit=90,
    **RETRYING,
)
def cleanup_received_messages(self) -> int:
    """Delete dedup rows of received messages older than two days."""
    with core.db.session_scope() as session:
        result = session.execute(
            delete(ReceivedMessage).where(ReceivedMessage.received_at < utcnow() - KEEP_RECEIVED)
        )
        n = result.rowcount or 0
    log.info("task %s: removed %d received messages", self.request.id, n)
    return n


# Longer than the send task's own retries take (2 + 8 + 32 + 128 + 512 + 600 s), so that only
# rows nobody is retrying any more (the broker was down at commit, a worker was lost) are sent
# again; deliver() skips a row already sent, so an overlap costs a lookup, not a duplicate.
UNSENT_AFTER_SECONDS = 1800


@celery.task(
    name=jobs.RETRY_UNSENT,
    time_limit=120,
    soft_time_limit=90,
    **RETRYING,
)
def retry_unsent_outbound(self) -> int:
    """Enqueue again outbound WeChat messages neither sent nor given up (core.outbox)."""
    from core.outbox import enqueue_unsent

    with core.db.session_scope() as session:
        n = enqueue_unsent(session, older_than_seconds=UNSENT_AFTER_SECONDS)
    log.info("task %s: re-enqueued %d outbound messages", self.request.id, n)
    return n
