"""Storing, undoing and listing work-log entries (the database side of the chat)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload

from core.worklog.dates import format_day
from core.worklog.kinds import EMPLOYMENT_OUTCOME_WORD, match_kind
from core.worklog.parser import ParsedEntry, to_halfwidth
from core.worklog.teachers import TeacherInfo
from models import (
    EmploymentOutcome,
    LogKind,
    SchoolClass,
    Student,
    StudentFeedback,
    Term,
    WeChatBinding,
    WorkLogAttachment,
    WorkLogEntry,
)
from models.base import utcnow

UNDO_WINDOW = dt.timedelta(hours=24)
ATTACH_WINDOW = dt.timedelta(minutes=10)


@dataclass
class Saved:
    entry: WorkLogEntry
    # Extra lines for the reply (outcome recorded, feedback forwarded, emphasis notes).
    notes: list[str] = field(default_factory=list)
    feedback_ids: list[int] = field(default_factory=list)


def entry_parts(entry: WorkLogEntry, today: dt.date) -> list[str]:
    """``11月20日 谈心谈话``, ``学生：张三、李四``, ``地点：6号楼302``: an entry's day and kind,
    and its students and place when it has them (the content is left to the caller)."""
    parts = [f"{format_day(entry.occurred_on, today)} {entry.kind.label}"]
    if entry.students:
        parts.append("学生：" + "、".join(s.name for s in entry.students))
    if entry.place:
        parts.append(f"地点：{entry.place}")
    return parts


def describe(entry: WorkLogEntry, today: dt.date) -> str:
    """``11月20日 谈心谈话｜学生：张三、李四｜地点：6号楼302｜内容：…`` — what is stored."""
    parts = entry_parts(entry, today)
    if entry.text:
        parts.append(f"内容：{entry.text}")
    return "｜".join(parts)


def _counsellor_note(session: Session, school_class: SchoolClass | None) -> str | None:
    if school_class is None or school_class.counsellor_id is None:
        return "该班级没有登记辅导员，未能转发"
    bound = session.scalar(
        select(WeChatBinding.id).where(WeChatBinding.teacher_id == school_class.counsellor_id)
    )
    if bound is None and not _wecom_configured():
        return "辅导员尚未绑定微信，未能转发"
    return None


def _wecom_configured() -> bool:
    """Issue 25.5: with WeCom, a counsellor is reached there without binding the account."""
    from core.celery_app import settings

    return settings().wecom


def _feedback_class(info: TeacherInfo, student_id: int) -> SchoolClass | None:
    """The student's class among the teacher's: one with a counsellor, 行政班级 first."""
    ids = {s.class_id for s in info.roster.students if s.id == student_id}
    classes = [c for c in info.classes if c.id in ids]
    classes.sort(key=lambda c: (c.counsellor_id is None, c.kind.value != "admin", c.id))
    return classes[0] if classes else None


def save_entry(
    session: Session,
    info: TeacherInfo,
    parsed: ParsedEntry,
    student_ids: list[int],
    *,
    raw: str,
    source: str,
    today: dt.date,
) -> Saved:
    """Store one entry with what follows from it: an employment outcome for 就业 <姓名> <结果>,
    a StudentFeedback per student for 反馈 (forwarded by a task after the commit)."""
    students = [session.get(Student, sid) for sid in student_ids]
    entry = WorkLogEntry(
        teacher_id=info.teacher.id,
        class_id=info.class_of(student_ids),
        kind=parsed.kind,
        occurred_on=parsed.date,
        place=parsed.place,
        text=parsed.text,
        raw=raw,
        source=source,
        students=[s for s in students if s is not None],
    )
    session.add(entry)
    session.flush()
    saved = Saved(entry)
    day = parsed.date
    classes = {c.id: c for c in info.classes}

    if parsed.kind == LogKind.FRESHMEN and not any(c.is_first_year(day) for c in info.classes):
        saved.notes.append(
            "提示：新生入学指导是一年级（教育引领）班主任的工作重点，您所带班级不是一年级；"
            "本条已照常记录，如类型写错可发送“撤销”"
        )
    if parsed.kind == LogKind.EMPLOYMENT and not any(c.is_final_year(day) for c in info.classes):
        saved.notes.append(
            "提示：就业指导是毕业年级（就业引领）班主任的工作重点，您所带班级不是毕业年级；"
            "本条已照常记录"
        )

    if parsed.is_employment_outcome:
        recorded, skipped = [], []
        for student in entry.students:
            final = [
                classes[s.class_id]
                for s in info.roster.students
                if s.id == student.id and classes[s.class_id].is_final_year(day)
            ]
            if not final:
                skipped.append(student.name)
                continue
            outcome = session.scalar(
                select(EmploymentOutcome).where(EmploymentOutcome.student_id == student.id)
            )
            if outcome is None:
                outcome = EmploymentOutcome(student_id=student.id)
                session.add(outcome)
            outcome.teacher_id = info.teacher.id
            outcome.entry_id = entry.id
            outcome.outcome = parsed.text
            outcome.recorded_on = day
            recorded.append(student.name)
        if recorded:
            saved.notes.append(f"就业去向已登记：{'、'.join(recorded)}（{parsed.text}）")
        if skipped:
            saved.notes.append(
                f"{'、'.join(skipped)}不在毕业年级，未登记就业去向，本条作为就业指导记录"
            )

    if parsed.kind == LogKind.FEEDBACK:
        for student in entry.students:
            school_class = _feedback_class(info, student.id)
            note = _counsellor_note(session, school_class)
            fb = StudentFeedback(
                entry_id=entry.id,
                student_id=student.id,
                counsellor_id=school_class.counsellor_id if school_class else None,
                class_id=school_class.id if school_class else None,
                text=parsed.text,
                note=note,
            )
            session.add(fb)
            session.flush()
            if note is None:
                saved.feedback_ids.append(fb.id)
                who = (
                    school_class.counsellor.name if school_class and school_class.counsellor else ""
                )
                saved.notes.append(f"关于{student.name}的反馈将转给辅导员{who}")
            else:
                saved.notes.append(f"关于{student.name}的反馈已记录，但{note}")
    return saved


def last_entry(session: Session, teacher_id: int) -> WorkLogEntry | None:
    """The teacher's most recently recorded entry."""
    return session.scalar(
        select(WorkLogEntry)
        .where(WorkLogEntry.teacher_id == teacher_id)
        .order_by(WorkLogEntry.created_at.desc(), WorkLogEntry.id.desc())
        .limit(1)
    )


def _is_outcome_entry(entry: WorkLogEntry) -> bool:
    """Whether an entry was written as ``[date] 就业 <姓名> <结果>`` (it set an outcome)."""
    if entry.kind != LogKind.EMPLOYMENT or not entry.students or not entry.text:
        return False
    from core.worklog.dates import match_date

    norm = to_halfwidth(entry.raw.strip())
    found = match_date(norm, entry.occurred_on)
    pos = found.length if found is not None else 0
    norm = norm[pos:].lstrip(" ,，、:：")
    kind = match_kind(norm)
    return kind is not None and kind.word == EMPLOYMENT_OUTCOME_WORD


def undo_entry(session: Session, entry: WorkLogEntry) -> list[str]:
    """Delete ``entry``; an employment outcome it set goes back to the one before (if any).
    Returns notes for the reply."""
    notes: list[str] = []
    outcomes = list(
        session.scalars(select(EmploymentOutcome).where(EmploymentOutcome.entry_id == entry.id))
    )
    for outcome in outcomes:
        previous = session.scalars(
            select(WorkLogEntry)
            .join(WorkLogEntry.students)
            .where(
                Student.id == outcome.student_id,
                WorkLogEntry.kind == LogKind.EMPLOYMENT,
                WorkLogEntry.id != entry.id,
            )
            .order_by(WorkLogEntry.created_at.desc(), WorkLogEntry.id.desc())
            .options(selectinload(WorkLogEntry.students))
        )
        before = next((e for e in previous if _is_outcome_entry(e)), None)
        name = outcome.student.name
        if before is None:
            session.delete(outcome)
            notes.append(f"{name}的就业去向登记也已撤销")
        else:
            outcome.entry_id = before.id
            outcome.teacher_id = before.teacher_id
            outcome.outcome = before.text
            outcome.recorded_on = before.occurred_on
            notes.append(f"{name}的就业去向恢复为：{before.text}")
    session.execute(delete(StudentFeedback).where(StudentFeedback.entry_id == entry.id))
    # A deleted entry leaves no row to date the change by: the terms it fell in are marked, so
    # that an evaluation computed before the undo is not published (core.publication).
    session.execute(
        update(Term)
        .where(Term.start_date <= entry.occurred_on, Term.end_date >= entry.occurred_on)
        .values(inputs_changed_at=utcnow())
    )
    session.delete(entry)
    session.flush()
    return notes


def attach_image(
    session: Session, teacher_id: int, media_id: str, pic_url: str | None, now: dt.datetime
) -> WorkLogEntry | None:
    """Attach a photo to the teacher's last entry if it was recorded within the ten minutes
    before ``now`` (the school's clock; an entry "from the future" is not a match either)."""
    entry = last_entry(session, teacher_id)
    if entry is None or not dt.timedelta(0) <= now - entry.created_at <= ATTACH_WINDOW:
        return None
    entry.attachments.append(WorkLogAttachment(media_id=media_id, pic_url=pic_url))
    session.flush()
    return entry


def recent_entries(session: Session, teacher_id: int, limit: int = 10) -> list[WorkLogEntry]:
    """The teacher's latest entries by date (newest first)."""
    return list(
        session.scalars(
            select(WorkLogEntry)
            .where(WorkLogEntry.teacher_id == teacher_id)
            .order_by(WorkLogEntry.occurred_on.desc(), WorkLogEntry.id.desc())
            .limit(limit)
            .options(selectinload(WorkLogEntry.students))
        )
    )


def now_utc() -> dt.datetime:
    return utcnow()
