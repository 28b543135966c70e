"""反馈 (第七条): a head teacher's note on a student, forwarded to the class's counsellor.

The chat stores a ``StudentFeedback`` row with the entry; after that commit
:func:`forward_after_commit` enqueues :func:`forward_feedback` for it, which queues the text
through the outbox (``worker.outbox.queue_text_for``). A row that could not be forwarded
(counsellor not bound yet, enqueue lost) keeps ``outbound_id`` NULL and a note;
:func:`forward_pending_feedback` (beat, every 10 minutes) retries those of the last 30 days,
so a counsellor who binds later still receives them, and a task lost with the broker is done
later. Forwarding is idempotent: ``outbound_id`` is set in the same commit as the outbox row.
``forwarded_at`` is set by the outbox once WeChat accepted the message; when it is given up
(45015: the counsellor has not written to the account for 48 hours...), ``failed_at`` and the
note say so, and the teacher sees it in 我的日志 and the dashboard on the teacher's page.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from sqlalchemy import event, select
from sqlalchemy.orm import Session

import models.db
from bot.wechat.locks import begin_write
from models import Student, StudentFeedback, Teacher, WorkLogEntry
from models.base import utcnow
from worker.celery_app import celery
from worker.tasks.common import RETRYING

log = logging.getLogger(__name__)

RETRY_DAYS = 30
_PENDING = "worklog_feedback_to_forward"
_HOOKED = "worklog_feedback_hooked"


def feedback_text(teacher: Teacher, student: Student, class_name: str | None, text: str) -> str:
    """The message the counsellor receives."""
    where = f"（{class_name}）" if class_name else ""
    return f"兼职班主任{teacher.name}反馈学生{student.name}{where}（学号{student.student_no}）的情况：\n{text}"


def _run_pending(session: Session) -> None:
    ids = session.info.get(_PENDING) or []
    session.info[_PENDING] = []
    for feedback_id in ids:
        try:
            forward_feedback.delay(feedback_id)
        except Exception:  # the sweep retries it; the teacher's entry is already stored
            log.exception("could not enqueue forwarding of feedback %s", feedback_id)


def _drop_pending(session: Session) -> None:
    session.info[_PENDING] = []


def forward_after_commit(session: Session, feedback_ids: Iterable[int]) -> None:
    """Enqueue forwarding of these feedback rows once ``session`` commits (never before: the
    task reads them in its own session)."""
    session.info.setdefault(_PENDING, []).extend(feedback_ids)
    if not session.info.get(_HOOKED):
        event.listen(session, "after_commit", _run_pending)
        event.listen(session, "after_rollback", _drop_pending)
        session.info[_HOOKED] = True


def forward_one(session: Session, feedback: StudentFeedback, now: dt.datetime) -> bool:
    """Queue one feedback to its counsellor; True when queued (or already queued)."""
    from worker.outbox import queue_text_for

    if feedback.forwarded_at is not None or feedback.outbound_id is not None:
        return True
    if feedback.counsellor_id is None:
        feedback.note = "该班级没有登记辅导员，未能转发"
        return False
    entry = session.get(WorkLogEntry, feedback.entry_id)
    student = session.get(Student, feedback.student_id)
    if entry is None or student is None:
        return False
    class_name = entry.school_class.name if entry.school_class else None
    message = queue_text_for(
        session,
        teacher_id=feedback.counsellor_id,
        text=feedback_text(entry.teacher, student, class_name, feedback.text),
    )
    if message is None:
        feedback.note = "辅导员尚未绑定微信，未能转发"
        return False
    # Forwarded (forwarded_at) only when WeChat accepted it: worker.outbox records that.
    feedback.outbound_id = message.id
    feedback.note = None
    return True


@celery.task(name="worklog.forward_feedback", time_limit=60, soft_time_limit=50, **RETRYING)
def forward_feedback(self, feedback_id: int) -> bool:
    """Forward one feedback row (safe to run twice)."""
    with models.db.SessionFactory() as session:
        # SQLite: take the write lock first (a read-then-write transaction fails at once when
        # the embedded outbox sender has written meanwhile); PostgreSQL: lock the row.
        begin_write(session)
        feedback = session.scalar(
            select(StudentFeedback).where(StudentFeedback.id == feedback_id).with_for_update()
        )
        if feedback is None:  # undone (撤销) before the task ran
            return False
        forwarded = forward_one(session, feedback, utcnow())
        session.commit()
        return forwarded


@celery.task(
    name="worklog.forward_pending_feedback", time_limit=300, soft_time_limit=270, **RETRYING
)
def forward_pending_feedback(self) -> int:
    """Forward every feedback of the last 30 days not forwarded yet; returns how many went."""
    now = utcnow()
    sent = 0
    with models.db.SessionFactory() as session:
        begin_write(session)
        rows = session.scalars(
            select(StudentFeedback)
            .where(
                StudentFeedback.forwarded_at.is_(None),
                StudentFeedback.outbound_id.is_(None),
                StudentFeedback.failed_at.is_(None),
                StudentFeedback.created_at >= now - dt.timedelta(days=RETRY_DAYS),
            )
            .order_by(StudentFeedback.id)
            .with_for_update(skip_locked=True)
        )
        for feedback in rows:
            sent += forward_one(session, feedback, now)
        session.commit()
    return sent
