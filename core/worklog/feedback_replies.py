"""The counsellor's answer to a 反馈 (issue 25, 第七条): the loop that core.worklog.feedback
opens when it forwards a head teacher's note to the class's counsellor.

Each 反馈 is numbered by its row id (``反馈 #12`` in the forwarded message). The counsellor of
that class answers by chat: ``收到`` acknowledges the latest unacknowledged one, ``收到 12 备注``
one by number with a note, ``跟进 12 内容`` adds a follow-up; each tells the head teacher through
the outbox. The head teacher's ``我的反馈`` lists the term's 反馈 with their status (未读 / 已收到 /
已跟进) and the counsellor's note. One left unacknowledged for three days is reminded to the
counsellor once (the beat, worker/tasks/feedback.py) and shown to the branch on the dashboard.

Only the counsellor it was forwarded to, or the class's counsellor now, may answer one; anyone
else is told there is no such 反馈 (the number alone says nothing of another class).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, joinedload

from core.outbox import queue_text_for
from models import SchoolClass, StudentFeedback, Teacher, Term, WorkLogEntry

UNREAD, ACKNOWLEDGED, FOLLOWED_UP = "未读", "已收到", "已跟进"
REMIND_AFTER = dt.timedelta(days=3)
# Older unanswered rows (e.g. from before the loop existed) are not reminded any more.
REMIND_WITHIN = dt.timedelta(days=14)
NOTE_MAX = 500
MAX_NUMBER = 2**31 - 1
EXAMPLE_ACK = "收到 12 已约谈学生"
EXAMPLE_FOLLOW = "跟进 12 已联系家长，下周复查"


class FeedbackReplyError(ValueError):
    """A counsellor's command that cannot be carried out; the message is the chat reply."""


def status(feedback: StudentFeedback) -> str:
    if feedback.followed_up_at is not None:
        return FOLLOWED_UP
    if feedback.acknowledged_at is not None:
        return ACKNOWLEDGED
    return UNREAD


def class_id_of(feedback: StudentFeedback) -> int | None:
    """The class the 反馈 is about (rows from before issue 25: the entry's class)."""
    return feedback.class_id if feedback.class_id is not None else feedback.entry.class_id


def feedback_class_column() -> ColumnElement[int]:
    """The same in SQL; needs ``WorkLogEntry`` joined."""
    return func.coalesce(StudentFeedback.class_id, WorkLogEntry.class_id)


def forwarded_text_header(number: int) -> str:
    """The first line of the forwarded message: its number and how to answer."""
    return f"反馈 #{number} · 回复「收到」确认，或「收到 {number} 备注」「跟进 {number} 内容」"


def _answerable(session: Session, counsellor_id: int, number: int) -> StudentFeedback:
    # A number no row can have (beyond a 32-bit id) is "not found", never a database error.
    feedback = None
    if number <= MAX_NUMBER:
        feedback = session.scalar(
            select(StudentFeedback)
            .join(WorkLogEntry, WorkLogEntry.id == StudentFeedback.entry_id)
            .outerjoin(SchoolClass, SchoolClass.id == feedback_class_column())
            .where(
                StudentFeedback.id == number,
                or_(
                    StudentFeedback.counsellor_id == counsellor_id,
                    SchoolClass.counsellor_id == counsellor_id,
                ),
            )
            .with_for_update(of=StudentFeedback)
        )
    if feedback is None:
        raise FeedbackReplyError(
            f"没有找到反馈 #{number}，或它不是您所带班级的反馈。发送「反馈」查看待确认的反馈。"
        )
    return feedback


def _note(text: str | None) -> str | None:
    text = (text or "").strip()
    if len(text) > NOTE_MAX:
        raise FeedbackReplyError(f"备注太长了（{len(text)} 字），请不超过 {NOTE_MAX} 字。")
    return text or None


def _tell_teacher(session: Session, feedback: StudentFeedback, counsellor: Teacher, what: str):
    entry = feedback.entry
    queue_text_for(
        session,
        teacher_id=entry.teacher_id,
        text=f"辅导员{counsellor.name}{what}您关于{feedback.student.name}的反馈 #{feedback.id}"
        + (f"：{feedback.counsellor_note}" if feedback.counsellor_note else "。"),
    )


@dataclass
class Answer:
    feedback: StudentFeedback
    first: bool  # the first acknowledgement (not a repeated 收到)


def acknowledge(
    session: Session, counsellor_id: int, number: int | None, note: str | None, now: dt.datetime
) -> Answer:
    """收到 [N] [备注]: without N, the latest unacknowledged 反馈 forwarded to this counsellor."""
    note = _note(note)
    if number is None:
        feedback = session.scalar(
            select(StudentFeedback)
            .where(
                StudentFeedback.counsellor_id == counsellor_id,
                StudentFeedback.acknowledged_at.is_(None),
                StudentFeedback.outbound_id.is_not(None),
            )
            .order_by(StudentFeedback.id.desc())
            .limit(1)
            .with_for_update()
        )
        if feedback is None:
            raise FeedbackReplyError("没有待确认的反馈。回复某一条请写编号，例如：" + EXAMPLE_ACK)
    else:
        feedback = _answerable(session, counsellor_id, number)
    first = feedback.acknowledged_at is None
    if first:
        feedback.acknowledged_at = now
    if note:
        feedback.counsellor_note = note
    if first or note:
        _tell_teacher(session, feedback, session.get(Teacher, counsellor_id), "已收到")
    return Answer(feedback, first)


def follow_up(
    session: Session, counsellor_id: int, number: int, content: str | None, now: dt.datetime
) -> Answer:
    """跟进 N 内容: records what was done (acknowledging it too) and tells the teacher."""
    content = _note(content)
    if not content:
        raise FeedbackReplyError(f"请写上跟进的内容，例如：{EXAMPLE_FOLLOW}")
    feedback = _answerable(session, counsellor_id, number)
    first = feedback.acknowledged_at is None
    feedback.acknowledged_at = feedback.acknowledged_at or now
    feedback.followed_up_at = now
    feedback.counsellor_note = content
    _tell_teacher(session, feedback, session.get(Teacher, counsellor_id), "跟进了")
    return Answer(feedback, first)


def unacknowledged_for(session: Session, counsellor_id: int, limit: int = 10) -> list:
    """The counsellor's 反馈 still waiting for 收到, newest first."""
    return list(
        session.scalars(
            select(StudentFeedback)
            .options(joinedload(StudentFeedback.entry), joinedload(StudentFeedback.student))
            .where(
                StudentFeedback.counsellor_id == counsellor_id,
                StudentFeedback.acknowledged_at.is_(None),
                StudentFeedback.outbound_id.is_not(None),
            )
            .order_by(StudentFeedback.id.desc())
            .limit(limit)
        )
    )


def of_teacher(session: Session, teacher_id: int, term: Term | None) -> list[StudentFeedback]:
    """The head teacher's 反馈 of the term (by the entry's day), oldest first."""
    query = (
        select(StudentFeedback)
        .join(WorkLogEntry, WorkLogEntry.id == StudentFeedback.entry_id)
        .options(joinedload(StudentFeedback.student), joinedload(StudentFeedback.counsellor))
        .where(WorkLogEntry.teacher_id == teacher_id)
        .order_by(StudentFeedback.id)
    )
    if term is not None:
        query = query.where(
            WorkLogEntry.occurred_on >= term.start_date, WorkLogEntry.occurred_on <= term.end_date
        )
    return list(session.scalars(query))


def remind_unacknowledged(session: Session, now: dt.datetime) -> int:
    """Queue the one reminder for each 反馈 forwarded three days ago or more and still not
    acknowledged; returns how many were queued. ``reminded_at`` is set even when the counsellor
    cannot be reached, so it is never tried twice."""
    rows = session.scalars(
        select(StudentFeedback)
        .where(
            StudentFeedback.acknowledged_at.is_(None),
            StudentFeedback.reminded_at.is_(None),
            StudentFeedback.counsellor_id.is_not(None),
            StudentFeedback.outbound_id.is_not(None),
            StudentFeedback.created_at <= now - REMIND_AFTER,
            StudentFeedback.created_at >= now - REMIND_WITHIN,
        )
        .order_by(StudentFeedback.id)
        .with_for_update(skip_locked=True)
    ).all()
    queued = 0
    for feedback in rows:
        feedback.reminded_at = now
        entry = feedback.entry
        days = (now - feedback.created_at).days
        cls = session.get(SchoolClass, class_id_of(feedback)) if class_id_of(feedback) else None
        where = f"（{cls.name}）" if cls else ""
        message = queue_text_for(
            session,
            teacher_id=feedback.counsellor_id,
            text=f"提醒：兼职班主任{entry.teacher.name}关于学生{feedback.student.name}{where}的"
            f"反馈 #{feedback.id} 已 {days} 天未确认。请回复「收到 {feedback.id}」，"
            f"或「跟进 {feedback.id} 内容」。",
        )
        queued += message is not None
    return queued


@dataclass
class OpenFeedback:
    """One unacknowledged 反馈 as the dashboard lists it."""

    number: int
    teacher: str
    class_name: str | None
    counsellor: str | None
    created_at: dt.datetime
    age: dt.timedelta
    reminded: bool
    # The student and the text: None for a reader who is not the branch of that class.
    student: str | None
    text: str | None


def open_feedback(
    session: Session,
    department_id: int | None,
    now: dt.datetime,
    limit: int = 300,
) -> list[OpenFeedback]:
    """Unacknowledged 反馈, oldest first. ``department_id`` None: the whole school (Student
    Affairs), never with the student or the text; a department: those about its classes or by
    its own teachers, with the student and the text only for its own classes."""
    cls_id = feedback_class_column()
    query = (
        select(StudentFeedback, WorkLogEntry, SchoolClass)
        .join(WorkLogEntry, WorkLogEntry.id == StudentFeedback.entry_id)
        .join(Teacher, Teacher.id == WorkLogEntry.teacher_id)
        .outerjoin(SchoolClass, SchoolClass.id == cls_id)
        .options(joinedload(StudentFeedback.student), joinedload(StudentFeedback.counsellor))
        .where(StudentFeedback.acknowledged_at.is_(None))
        .order_by(StudentFeedback.created_at, StudentFeedback.id)
        .limit(limit)
    )
    if department_id is not None:
        query = query.where(
            or_(SchoolClass.department_id == department_id, Teacher.department_id == department_id)
        )
    out = []
    for feedback, entry, cls in session.execute(query).all():
        shown = department_id is not None and cls is not None and cls.department_id == department_id
        out.append(
            OpenFeedback(
                number=feedback.id,
                teacher=entry.teacher.name,
                class_name=cls.name if cls else None,
                counsellor=feedback.counsellor.name if feedback.counsellor else None,
                created_at=feedback.created_at,
                age=now - feedback.created_at,
                reminded=feedback.reminded_at is not None,
                student=feedback.student.name if shown else None,
                text=feedback.text if shown else None,
            )
        )
    return out
