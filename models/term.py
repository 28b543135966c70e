"""Semesters (学期)."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import CheckConstraint, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base

TERM_CODE = re.compile(r"^(\d{4})-(\d{4})-([12])$")


class Term(Base):
    """A semester, coded ``YYYY-YYYY-N`` (e.g. ``2026-2027-1``)."""

    __tablename__ = "terms"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    start_date: Mapped[dt.date]
    end_date: Mapped[dt.date]
    evaluated_at: Mapped[dt.datetime | None]
    # Set when Student Affairs publishes the results; teachers see their own from then on.
    published_at: Mapped[dt.datetime | None]
    # The last change to what the evaluation counts that leaves no row of its own to date it
    # (a work-log entry undone); see core.evaluation.readiness.
    inputs_changed_at: Mapped[dt.datetime | None]

    __table_args__ = (CheckConstraint("end_date > start_date", name="ends_after_start"),)

    def contains(self, day: dt.date) -> bool:
        return self.start_date <= day <= self.end_date


class UnknownTerm(LookupError):
    """No term has the given code."""

    def __init__(self, code: str) -> None:
        super().__init__(f"没有学期 {code}（用 banzhuren term add 添加）")
        self.code = code


def find_term(session: Session, code: str) -> Term | None:
    """The term coded ``code``, or None. The one lookup of a term by its code; each caller
    says what a missing term means to it."""
    return session.scalar(select(Term).where(Term.code == code))


def require_term(session: Session, code: str) -> Term:
    """The term coded ``code``; raises :class:`UnknownTerm` when there is none."""
    term = find_term(session, code)
    if term is None:
        raise UnknownTerm(code)
    return term


def validate_term_code(code: str) -> str | None:
    """Return why ``code`` is not a valid term id, or None when it is."""
    m = TERM_CODE.match(code)
    if not m:
        return "学期编号应为 YYYY-YYYY-N，例如 2026-2027-1"
    if int(m.group(2)) != int(m.group(1)) + 1:
        return "学期编号的两个年份应相邻，例如 2026-2027-1"
    return None
