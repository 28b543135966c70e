"""Term evaluations (第十五条 to 第十七条) and awards (第十九条)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, LabelledEnum, str_enum, utcnow
from models.org import Teacher


class Grade(LabelledEnum):
    EXCELLENT = "excellent", "优秀"
    GOOD = "good", "良好"
    PASS = "pass", "合格"
    FAIL = "fail", "不合格"
    # No satisfaction round of the term has closed yet and no reason that stands on recorded
    # facts fails the teacher: there is no grade to give (issue 22).
    PENDING = "pending", "待测评"


GRADE_LABELS = {grade: grade.label for grade in Grade}


class TermEvaluation(Base):
    """One head teacher in one term, all their appointments together."""

    __tablename__ = "term_evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    term_id: Mapped[int] = mapped_column(ForeignKey("terms.id"), index=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    classes: Mapped[str] = mapped_column(Text, default="")
    respondents: Mapped[int] = mapped_column(default=0)
    eligible: Mapped[int] = mapped_column(default=0)
    response_rate: Mapped[float | None]
    satisfaction: Mapped[float | None]  # percent, unrounded
    ci_low: Mapped[float | None]
    ci_high: Mapped[float | None]
    computed_grade: Mapped[Grade] = mapped_column(str_enum(Grade))
    # A grade set by Student Affairs with a written reason; the report shows it in place of the
    # computed one and says so.
    override_grade: Mapped[Grade | None] = mapped_column(str_enum(Grade, name="override_grade"))
    override_reason: Mapped[str | None] = mapped_column(Text)
    # When the override was last set or cleared: a later one makes the stored evaluation older
    # than what it should show, and publishing waits for a new evaluation (issue 22).
    override_at: Mapped[dt.datetime | None]
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    logs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    meetings_attended: Mapped[int] = mapped_column(default=0)
    trainings_attended: Mapped[int] = mapped_column(default=0)
    flags: Mapped[list[Any]] = mapped_column(default=list)
    # Everything else the report shows (quality counts, corroboration, months in office).
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    months_in_office: Mapped[int] = mapped_column(default=0)
    allowance: Mapped[int] = mapped_column(default=0)  # yuan, 第十八条
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    teacher: Mapped[Teacher] = relationship()

    __table_args__ = (UniqueConstraint("term_id", "teacher_id"),)

    @property
    def grade(self) -> Grade:
        return self.override_grade or self.computed_grade


class Award(Base):
    """先进兼职班主任 (第十九条): a candidate from two consecutive 优秀 terms, then awarded."""

    __tablename__ = "awards"

    id: Mapped[int] = mapped_column(primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id"), index=True)
    academic_year: Mapped[str] = mapped_column(String(9))  # e.g. 2026-2027
    status: Mapped[str] = mapped_column(String(16), default="candidate")  # candidate / awarded
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("teacher_id", "academic_year"),)
