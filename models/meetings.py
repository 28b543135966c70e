"""第十四条 meetings and trainings with attendance; incidents and other failing reasons
(第十五条（二）3 and 5) recorded by a branch or Student Affairs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.base import Base, CreatedAt, LabelledEnum, link_table, str_enum
from models.org import Teacher
from models.term import Term


class MeetingKind(LabelledEnum):
    STAFF_MEETING = "staff_meeting", "工作例会"  # 党总支兼职班主任工作例会 (at least monthly)
    TRAINING = "training", "培训会"  # 学院兼职班主任培训会 (at least once a term), 岗前培训
    SEMINAR = "seminar", "研讨交流会"  # 工作研讨会 / 交流会 (第十三条)


meeting_attendance = link_table(
    "meeting_attendance", ("meeting_id", "meetings.id"), ("teacher_id", "teachers.id")
)


class Meeting(CreatedAt, Base):
    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None: a school-level meeting or training held by Student Affairs.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    kind: Mapped[MeetingKind] = mapped_column(str_enum(MeetingKind))
    held_on: Mapped[dt.date] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(String(200))

    attendees: Mapped[list[Teacher]] = relationship(secondary=meeting_attendance)


class IncidentKind(LabelledEnum):
    SERIOUS = "serious", "严重责任事件或事故"  # 第十五条（二）3
    OTHER = "other", "其他不称职行为"  # 学院或党总支认为其他不称职行为 (第十五条（二）5)


class Incident(CreatedAt, Base):
    """A failing reason recorded against a head teacher for a term."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id"), index=True)
    term_id: Mapped[int] = mapped_column(ForeignKey("terms.id"), index=True)
    kind: Mapped[IncidentKind] = mapped_column(str_enum(IncidentKind))
    occurred_on: Mapped[dt.date]
    description: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(100))


def meetings_attended(session: Session, teacher_id: int, term: Term, *where) -> list[Meeting]:
    """The meetings of ``term`` the teacher attended (and that meet ``where``, if given): the
    dashboard's and the API's teacher page."""
    return list(
        session.scalars(
            select(Meeting)
            .join(meeting_attendance, meeting_attendance.c.meeting_id == Meeting.id)
            .where(
                meeting_attendance.c.teacher_id == teacher_id,
                Meeting.held_on >= term.start_date,
                Meeting.held_on <= term.end_date,
                *where,
            )
            .order_by(Meeting.held_on)
        )
    )
