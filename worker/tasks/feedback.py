"""反馈 tasks (core.worklog.feedback): forward one feedback row to its counsellor, the beat
sweep that forwards those not forwarded yet (counsellor bound later, enqueue lost), and the
one reminder of a 反馈 unacknowledged for three days (core.worklog.feedback_replies)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import or_, select

import core.db
from core import jobs
from core.celery_app import celery
from core.worklog.feedback import forward_one
from core.worklog.feedback_replies import remind_unacknowledged
from models import StudentFeedback
from models.base import utcnow
from worker.tasks.common import RETRYING

log = logging.getLogger(__name__)

RETRY_DAYS = 30
# The sweep runs every minute (core.beat); a 反馈 committed less than this long ago is left to
# the task its commit queued.
SETTLE_SECONDS = 20


@celery.task(name=jobs.FORWARD_FEEDBACK, time_limit=60, soft_time_limit=50, **RETRYING)
def forward_feedback(self, feedback_id: int) -> bool:
    """Forward one feedback row (safe to run twice)."""
    # SQLite: take the write lock first (a read-then-write transaction fails at once when
    # the embedded outbox sender has written meanwhile); PostgreSQL: lock the row.
    with core.db.session_scope(write=True) as session:
        feedback = session.scalar(
            select(StudentFeedback).where(StudentFeedback.id == feedback_id).with_for_update()
        )
        if feedback is None:  # undone (撤销) before the task ran
            return False
        return forward_one(session, feedback, utcnow())


@celery.task(name=jobs.FORWARD_PENDING_FEEDBACK, time_limit=300, soft_time_limit=270, **RETRYING)
def forward_pending_feedback(self) -> int:
    """Forward every feedback of the last 30 days not forwarded yet; returns how many went."""
    now = utcnow()
    sent = 0
    with core.db.session_scope(write=True) as session:
        rows = session.scalars(
            select(StudentFeedback)
            .where(
                StudentFeedback.forwarded_at.is_(None),
                StudentFeedback.outbound_id.is_(None),
                StudentFeedback.failed_at.is_(None),
                StudentFeedback.created_at >= now - dt.timedelta(days=RETRY_DAYS),
                # Young ones not tried yet are in the hands of their own task.
                or_(
                    StudentFeedback.note.is_not(None),
                    StudentFeedback.created_at < now - dt.timedelta(seconds=SETTLE_SECONDS),
                ),
            )
            .order_by(StudentFeedback.id)
            .with_for_update(skip_locked=True)
        )
        for feedback in rows:
            sent += forward_one(session, feedback, now)
    return sent


@celery.task(name=jobs.REMIND_FEEDBACK, time_limit=300, soft_time_limit=270, **RETRYING)
def remind_unacknowledged_feedback(self) -> int:
    """Remind counsellors, once each, of 反馈 unacknowledged for three days; returns how many
    reminders were queued (a rerun queues none: ``reminded_at`` is set in the same commit)."""
    with core.db.session_scope(write=True) as session:
        return remind_unacknowledged(session, utcnow())
