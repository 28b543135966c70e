"""反馈 (第七条): a head teacher's note on a student, forwarded to the class's counsellor.

The chat stores a ``StudentFeedback`` row with the entry; once that commits,
:func:`forward_after_commit` asks for the ``banzhuren.feedback.forward`` task
(worker/tasks/feedback.py), which runs :func:`forward_one`: the text is queued through the
outbox (``core.outbox.queue_text_for``). A row that could not be forwarded (counsellor not bound
yet, enqueue lost) keeps ``outbound_id`` NULL and a note; the beat sweep retries those of the
last 30 days, so a counsellor who binds later still receives them. Forwarding is idempotent:
``outbound_id`` is set in the same commit as the outbox row. ``forwarded_at`` is set by the
outbox once WeChat accepted the message, or with the note ``core.outbox.MAYBE_NOTE`` once its
send timed out (可能已送达: never sent again); when it is given up (45015: the counsellor has not
written to the account for 48 hours...), ``failed_at`` and the note say so, and the teacher sees
it in 我的日志 (:func:`undelivered_feedback`) and on the dashboard's teacher page.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

import core.db
from core import jobs
from core.celery_app import dispatch
from core.outbox import MAYBE_NOTE, queue_text_for
from core.worklog.feedback_replies import forwarded_text_header
from models import Student, StudentFeedback, Teacher, WorkLogEntry


def feedback_text(
    teacher: Teacher,
    student: Student,
    class_name: str | None,
    text: str,
    number: int | None = None,
) -> str:
    """The message the counsellor receives; ``number`` (the row id) heads it with ``反馈 #N``
    and how to answer (core.worklog.feedback_replies)."""
    where = f"（{class_name}）" if class_name else ""
    head = forwarded_text_header(number) + "\n" if number is not None else ""
    return (
        f"{head}兼职班主任{teacher.name}反馈学生{student.name}{where}"
        f"（学号{student.student_no}）的情况：\n{text}"
    )


def forward_after_commit(session: Session, feedback_ids: Iterable[int]) -> None:
    """Have these feedback rows forwarded once ``session`` commits (never before: the task
    reads them in its own session). Not queued (broker down): the sweep forwards them."""
    for feedback_id in feedback_ids:
        core.db.after_commit(
            session,
            functools.partial(dispatch, jobs.FORWARD_FEEDBACK, feedback_id, ignore_result=True),
        )


def forward_one(session: Session, feedback: StudentFeedback, now: dt.datetime) -> bool:
    """Queue one feedback to its counsellor; True when queued (or already queued)."""
    if feedback.forwarded_at is not None or feedback.outbound_id is not None:
        return True
    if feedback.counsellor_id is None:
        feedback.note = "该班级没有登记辅导员，未能转发"
        return False
    entry = session.get(WorkLogEntry, feedback.entry_id)
    student = session.get(Student, feedback.student_id)
    if entry is None or student is None:
        return False
    school_class = feedback.school_class or entry.school_class
    class_name = school_class.name if school_class else None
    message = queue_text_for(
        session,
        teacher_id=feedback.counsellor_id,
        text=feedback_text(entry.teacher, student, class_name, feedback.text, feedback.id),
    )
    if message is None:
        feedback.note = "辅导员尚未绑定微信，未能转发"
        return False
    # Forwarded (forwarded_at) only when WeChat accepted it: core.outbox records that.
    feedback.outbound_id = message.id
    feedback.note = None
    return True


def undelivered_feedback(session, entry_ids: list[int]) -> dict[int, str]:
    """Entry id -> why its 反馈 did not surely reach the counsellor: forwarding given up
    (core.outbox: 45015 and the like; "未送达：…"), or a send whose outcome WeChat never
    confirmed (a timeout; "可能已送达：…", issue 22 item 7); shown in 我的日志 and on the
    dashboard's teacher page."""
    if not entry_ids:
        return {}
    rows = session.execute(
        select(StudentFeedback.entry_id, StudentFeedback.note).where(
            StudentFeedback.entry_id.in_(entry_ids),
            or_(StudentFeedback.failed_at.is_not(None), StudentFeedback.note == MAYBE_NOTE),
        )
    )
    return {entry_id: note or "未送达" for entry_id, note in rows}
