"""工作日志 (第十六条): what head teachers log by chat, and what follows from it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, CreatedAt, LabelledEnum, link_table, str_enum, utcnow
from models.org import SchoolClass, Student, Teacher


class LogKind(LabelledEnum):
    """The kinds of work in 第八条, plus meetings and training (第十四条) and 反馈 (第七条)."""

    TALK = "talk", "谈心谈话"
    CLASS_MEETING = "class_meeting", "班会"
    DORM_VISIT = "dorm_visit", "走访寝室"
    HOME_VISIT = "home_visit", "家访"
    PRACTICE = "practice", "社会实践"
    ACADEMIC = "academic", "学术活动指导"
    ASSESSMENT = "assessment", "综合测评"
    AWARDS = "awards", "评奖评优"
    DISCIPLINE = "discipline", "违纪处理"
    CADRES = "cadres", "班干部培养"
    AID = "aid", "资助建议"
    FRESHMEN = "freshmen", "新生入学指导"
    EMPLOYMENT = "employment", "就业指导"
    STAFF_MEETING = "staff_meeting", "参加例会"
    TRAINING = "training", "参加培训"
    FEEDBACK = "feedback", "反馈"


LOG_KIND_LABELS: dict[LogKind, str] = {kind: kind.label for kind in LogKind}


worklog_students = link_table(
    "worklog_students", ("entry_id", "worklog_entries.id"), ("student_id", "students.id")
)


class WorkLogEntry(CreatedAt, Base):
    __tablename__ = "worklog_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id"), index=True)
    # The class the entry concerns, when it can be told (from the students named, or the
    # teacher's only class); None for a teacher with several classes and no one named.
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id"), index=True)
    kind: Mapped[LogKind] = mapped_column(str_enum(LogKind), index=True)
    occurred_on: Mapped[dt.date] = mapped_column(index=True)
    place: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text, default="")
    # The message as the teacher sent it, so that a parse can be checked afterwards.
    raw: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="text")  # text / voice / dashboard

    teacher: Mapped[Teacher] = relationship()
    school_class: Mapped[SchoolClass | None] = relationship()
    students: Mapped[list[Student]] = relationship(secondary=worklog_students)
    attachments: Mapped[list[WorkLogAttachment]] = relationship(
        back_populates="entry", cascade="all, delete-orphan"
    )


class WorkLogAttachment(CreatedAt, Base):
    """A photo sent within minutes of an entry (a class meeting, a dorm visit)."""

    __tablename__ = "worklog_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("worklog_entries.id", ondelete="CASCADE"), index=True
    )
    media_id: Mapped[str] = mapped_column(String(128))
    pic_url: Mapped[str | None] = mapped_column(String(500))

    entry: Mapped[WorkLogEntry] = relationship(back_populates="attachments")


class EmploymentOutcome(CreatedAt, Base):
    """就业引领 (第八条 毕业年级 4-5): a final-year student's latest employment result."""

    __tablename__ = "employment_outcomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id"))
    entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("worklog_entries.id", ondelete="SET NULL")
    )
    outcome: Mapped[str] = mapped_column(Text)
    recorded_on: Mapped[dt.date]

    student: Mapped[Student] = relationship()

    __table_args__ = (UniqueConstraint("student_id"),)


class StudentFeedback(CreatedAt, Base):
    """反馈 (第七条): a head teacher's note on a student, passed on to the class's counsellor."""

    __tablename__ = "student_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("worklog_entries.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    counsellor_id: Mapped[int | None] = mapped_column(ForeignKey("teachers.id"))
    text: Mapped[str] = mapped_column(Text)
    forwarded_at: Mapped[dt.datetime | None]
    # Why it has not reached the counsellor yet (no counsellor set for the class, or the
    # counsellor has not bound WeChat); cleared once forwarded.
    note: Mapped[str | None] = mapped_column(String(200))
    # The customer-service message that carries it; ``forwarded_at`` is set only when that
    # message was accepted by WeChat, ``failed_at`` (with ``note``) when it was given up.
    outbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_messages.id", ondelete="SET NULL")
    )
    failed_at: Mapped[dt.datetime | None]
    # The student's class the 反馈 is about (its counsellor's, its branch's); NULL on rows from
    # before issue 25, which fall back to the entry's class.
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id"))
    # The counsellor's answer (issue 25): 收到 sets ``acknowledged_at``, 跟进 ``followed_up_at``;
    # ``counsellor_note`` is the latest note or follow-up, shown to the head teacher.
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    followed_up_at: Mapped[dt.datetime | None]
    counsellor_note: Mapped[str | None] = mapped_column(String(500))
    # The one reminder to the counsellor after 3 days unacknowledged.
    reminded_at: Mapped[dt.datetime | None]

    entry: Mapped[WorkLogEntry] = relationship()
    student: Mapped[Student] = relationship()
    school_class: Mapped[SchoolClass | None] = relationship()
    counsellor: Mapped[Teacher | None] = relationship()


class LogRequirement(Base):
    """How many entries of a kind the branch expects per month.

    ``department_id`` None applies school-wide; ``year_of_study`` None applies to every year,
    -1 to final-year classes only (就业指导), 1 to first-year ones (新生入学指导). The most specific
    matching row wins.
    """

    __tablename__ = "log_requirements"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    year_of_study: Mapped[int | None]
    kind: Mapped[LogKind] = mapped_column(str_enum(LogKind))
    per_month: Mapped[int]

    __table_args__ = (
        UniqueConstraint("department_id", "year_of_study", "kind"),
        CheckConstraint("per_month >= 0", name="non_negative"),
    )


class Reminder(Base):
    """A reminder sent to a teacher, so the same one is not sent twice."""

    __tablename__ = "reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id"))
    kind: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
