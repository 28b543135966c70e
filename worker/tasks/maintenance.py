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
# rows nobody is retrying any more (a worker was lost) are sent again; deliver() skips a row
# already sent, so an overlap costs a lookup, not a duplicate.
UNSENT_AFTER_SECONDS = 1800
# Rows never tried this long after their commit, while the queue is empty: their hand-off was
# lost (Redis down at commit time), so they go out within a minute of Redis being back.
UNTRIED_AFTER_SECONDS = 60


@celery.task(
    name=jobs.RETRY_UNSENT,
    time_limit=120,
    soft_time_limit=90,
    **RETRYING,
)
def retry_unsent_outbound(self) -> int:
    """Every minute (core.beat): settle as 可能已送达 the sends cut off by a dead worker, and
    enqueue again outbound WeChat messages neither sent nor settled (core.outbox)."""
    from core.celery_app import settings
    from core.outbox import enqueue_unsent, queue_backlog, settle_cut_off

    settle_cut_off()
    # A backlog in the queue means the untried rows' tasks are waiting there, not lost.
    untried = UNTRIED_AFTER_SECONDS if queue_backlog(settings()) == 0 else None
    with core.db.session_scope() as session:
        n = enqueue_unsent(
            session, older_than_seconds=UNSENT_AFTER_SECONDS, untried_after_seconds=untried
        )
    if n:
        log.info("task %s: re-enqueued %d outbound messages", self.request.id, n)
    return n
