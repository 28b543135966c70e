"""第十四条 as pure functions: each 党总支 holds a head teachers' meeting (工作例会) every month, the
school a training (培训会) every term; a head teacher's attendance of their branch's meetings.

Months are ``YYYY-MM`` strings of the school's calendar. A month that has not ended yet on the
day the rule is checked is *pending*, never *missed*: the branch may still meet before it ends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

HELD = "held"
MISSED = "missed"
PENDING = "pending"
STATUS_LABELS = {HELD: "已召开", MISSED: "未召开", PENDING: "尚未结束"}


def month_of(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_label(month: str) -> str:
    """``2026-10`` → ``2026年10月``."""
    year, m = month.split("-")
    return f"{year}年{int(m)}月"


def _month_end(year: int, month: int) -> dt.date:
    nxt = dt.date(year + 1, 1, 1) if month == 12 else dt.date(year, month + 1, 1)
    return nxt - dt.timedelta(days=1)


def term_months(start: dt.date, end: dt.date) -> list[str]:
    """Every calendar month that has at least one day of ``[start, end]``."""
    months = []
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


@dataclass(frozen=True)
class MeetingFact:
    """One meeting of a branch (or the school) and who attended it (teacher ids)."""

    id: int
    day: dt.date
    title: str = ""
    attendees: frozenset[int] = frozenset()


@dataclass(frozen=True)
class MonthStatus:
    month: str
    status: str  # HELD / MISSED / PENDING
    meetings: tuple[MeetingFact, ...] = ()

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]


def branch_months(
    meetings: Iterable[MeetingFact], term_start: dt.date, term_end: dt.date, as_of: dt.date
) -> list[MonthStatus]:
    """For each month of the term: the branch's meetings held in the term in that month, and
    whether the month is held, missed (ended with no meeting) or pending (not ended on
    ``as_of``, no meeting yet)."""
    by_month: dict[str, list[MeetingFact]] = {}
    for m in meetings:
        if term_start <= m.day <= term_end:
            by_month.setdefault(month_of(m.day), []).append(m)
    out = []
    for month in term_months(term_start, term_end):
        held = tuple(sorted(by_month.get(month, []), key=lambda m: (m.day, m.id)))
        y, mo = (int(p) for p in month.split("-"))
        # The term's last month ends with the term (a meeting after it is outside the term).
        last_day = min(_month_end(y, mo), term_end)
        if held:
            status = HELD
        elif last_day < as_of:
            status = MISSED
        else:
            status = PENDING
        out.append(MonthStatus(month, status, held))
    return out


def missed_months(months: Sequence[MonthStatus]) -> list[str]:
    return [m.month for m in months if m.status == MISSED]


@dataclass(frozen=True)
class Attendance:
    """A teacher's attendance of their branch's meetings held while they were in office."""

    held: int = 0
    attended: int = 0
    missed: tuple[MeetingFact, ...] = field(default_factory=tuple)

    @property
    def rate(self) -> float | None:
        """Share of those meetings attended (0-1); None when the branch held none."""
        return self.attended / self.held if self.held else None


def attendance(
    teacher_id: int,
    branch_meetings: Iterable[MeetingFact],
    periods: Iterable[tuple[dt.date, dt.date]],
    term_start: dt.date,
    term_end: dt.date,
) -> Attendance:
    """The meetings of the teacher's branch held in the term on a day the teacher was in office
    (an appointment's ``[start, last day]``), and which of them they attended."""
    spans = list(periods)
    held = [
        m
        for m in branch_meetings
        if term_start <= m.day <= term_end and any(lo <= m.day <= hi for lo, hi in spans)
    ]
    missed = tuple(sorted((m for m in held if teacher_id not in m.attendees), key=lambda m: m.day))
    return Attendance(len(held), len(held) - len(missed), missed)


def trainings_in_term(
    trainings: Iterable[MeetingFact], term_start: dt.date, term_end: dt.date
) -> list[MeetingFact]:
    """第十四条 学院每学期至少举办一次培训会: the school's trainings held in the term."""
    return sorted((t for t in trainings if term_start <= t.day <= term_end), key=lambda t: t.day)
