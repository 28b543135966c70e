"""WeChat accounts bound to roster people, and failed binding attempts (for slowing guessers)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, CreatedAt, utcnow
from models.org import Student, Teacher


class WeChatBinding(CreatedAt, Base):
    """One openid ↔ one roster person (a student or a teacher), each at most once."""

    __tablename__ = "wechat_bindings"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), unique=True)
    student_id: Mapped[int | None] = mapped_column(
        ForeignKey("students.id", ondelete="CASCADE"), unique=True
    )
    teacher_id: Mapped[int | None] = mapped_column(
        ForeignKey("teachers.id", ondelete="CASCADE"), unique=True
    )

    student: Mapped[Student | None] = relationship()
    teacher: Mapped[Teacher | None] = relationship()

    __table_args__ = (
        CheckConstraint("(student_id IS NULL) <> (teacher_id IS NULL)", name="exactly_one_person"),
    )


class BindingFailure(Base):
    """A wrong binding code; counted per openid and per person number to slow guessing."""

    __tablename__ = "binding_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    person_no: Mapped[str] = mapped_column(String(32), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
