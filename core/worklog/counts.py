"""Counting work-log entries: per teacher and kind over a term (for the evaluation, DESIGN.md
"work-log counts by kind"), per kind over a month (for 统计), and who has gone quiet."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.evaluation import queries
from models import Appointment, AppointmentStatus, LogKind, Term, WorkLogEntry


def log_counts(session: Session, term_id: int) -> dict[int, dict[str, int]]:
    """teacher_id → LogKind value → number of entries dated within the term (one grouped
    query). Teachers without entries are absent."""
    term = session.get(Term, term_id)
    if term is None:
        raise LookupError(f"no term with id {term_id}")
    return queries.log_counts(session, term, None)


def kind_counts(
    session: Session, teacher_id: int, start: dt.date, end: dt.date
) -> dict[LogKind, int]:
    """One teacher's entries dated in ``[start, end]``, by kind."""
    rows = session.execute(
        select(WorkLogEntry.kind, func.count(WorkLogEntry.id))
        .where(
            WorkLogEntry.teacher_id == teacher_id,
            WorkLogEntry.occurred_on.between(start, end),
        )
        .group_by(WorkLogEntry.kind)
    )
    return {LogKind(kind): count for kind, count in rows}


def month_bounds(day: dt.date) -> tuple[dt.date, dt.date]:
    first = day.replace(day=1)
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    return first, nxt - dt.timedelta(days=1)


def months_between(start: dt.date, end: dt.date) -> int:
    """Calendar months touched by ``[start, end]`` (1 for two days of one month; 0 if empty)."""
    if end < start:
        return 0
    return (end.year - start.year) * 12 + end.month - start.month + 1


@dataclass(frozen=True)
class Progress:
    kind: LogKind
    done: int
    required: int

    @property
    def missing(self) -> int:
        return max(self.required - self.done, 0)

    def line(self) -> str:
        """``走访寝室 1/2，还差1次`` or ``班会 1/1，已完成``."""
        tail = f"还差{self.missing}次" if self.missing else "已完成"
        return f"{self.kind.label} {self.done}/{self.required}，{tail}"


def monthly_progress(
    counts: dict[LogKind, int], required: dict[LogKind, int]
) -> tuple[list[Progress], dict[LogKind, int]]:
    """Required kinds with their progress, and the other kinds logged (pure)."""
    progress = [Progress(k, counts.get(k, 0), n) for k, n in required.items()]
    others = {k: n for k, n in counts.items() if k not in required and n}
    return progress, others


def term_on(session: Session, day: dt.date) -> Term | None:
    """The term containing ``day``."""
    return session.scalar(
        select(Term).where(Term.start_date <= day, Term.end_date >= day).order_by(Term.start_date)
    )


def inactive_teachers(session: Session, today: dt.date, days: int = 14) -> list[int]:
    """Head teachers in office for at least ``days`` days with no entry dated in the last
    ``days`` days (today included)."""
    since = today - dt.timedelta(days=days - 1)
    in_office = (
        select(Appointment.teacher_id)
        .where(
            Appointment.status == AppointmentStatus.APPOINTED,
            Appointment.start_date <= today - dt.timedelta(days=days),
            Appointment.end_date >= today,
        )
        .distinct()
    )
    active = select(WorkLogEntry.teacher_id).where(
        WorkLogEntry.occurred_on >= since, WorkLogEntry.occurred_on <= today
    )
    return sorted(session.scalars(in_office.where(Appointment.teacher_id.not_in(active))).all())
