"""工作日志本 (第十六条): every work-log entry of one 聘期 of a head teacher, by date, with the
counts against the branch's requirements (core/worklog/requirements.py) and room for the
branch's signature and seal.

A 聘期 here is a stretch of office: the teacher's appointments in office (聘任, or ended by 解聘
/ 辞职) that overlap or follow each other without a gap are one 聘期 (a teacher heading two
classes at once keeps one 日志本); it runs from the first start to the last day in office.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.documents.records import (
    DocumentSpec,
    Letterhead,
    class_name,
    cn_date,
    safe_filename,
)
from core.worklog.counts import months_between
from core.worklog.names import Roster
from core.worklog.requirements import requirements_for
from core.worklog.teachers import TeacherInfo
from models import Appointment, AppointmentStatus, Department, Teacher, WorkLogEntry
from models.appointment import ENDED_EARLY

IN_OFFICE = (AppointmentStatus.APPOINTED, *ENDED_EARLY)


class NoPeriod(LookupError):
    """The teacher has no 聘期 (never in office), or none that starts on the day asked."""


@dataclass(frozen=True)
class Period:
    """A 聘期: from ``start`` to ``end`` (the last day in office), and its appointments."""

    start: dt.date
    end: dt.date
    appointments: tuple[Appointment, ...]

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def label(self) -> str:
        return f"{cn_date(self.start)} 至 {cn_date(self.end)}"


def last_day(a: Appointment) -> dt.date:
    """The last day in office: the day it ended early, else the day it runs to."""
    return a.ended_on or a.end_date


def merge_periods(appointments: list[Appointment]) -> list[Period]:
    """Appointments in office grouped into 聘期 (pure): overlapping or back-to-back ones
    (the next starting at most a day after the last ends) are one."""
    periods: list[Period] = []
    for a in sorted(appointments, key=lambda a: (a.start_date, last_day(a))):
        if periods and a.start_date <= periods[-1].end + dt.timedelta(days=1):
            p = periods[-1]
            periods[-1] = Period(p.start, max(p.end, last_day(a)), (*p.appointments, a))
        else:
            periods.append(Period(a.start_date, last_day(a), (a,)))
    return periods


def service_periods(session: Session, teacher_id: int) -> list[Period]:
    """The teacher's 聘期, earliest first."""
    appointments = session.scalars(
        select(Appointment)
        .options(selectinload(Appointment.school_class))
        .where(Appointment.teacher_id == teacher_id, Appointment.status.in_(IN_OFFICE))
    ).all()
    return merge_periods(list(appointments))


def current_period(periods: list[Period], today: dt.date) -> Period | None:
    """The 聘期 of ``today``; else the latest one already begun (just ended); None when the
    teacher has not yet been in office."""
    begun = [p for p in periods if p.start <= today]
    for p in begun:
        if p.contains(today):
            return p
    return begun[-1] if begun else None


def period_starting(session: Session, teacher_id: int, start: dt.date | None, today: dt.date):
    """The 聘期 beginning on ``start`` (None: the current one); raises NoPeriod."""
    periods = service_periods(session, teacher_id)
    if start is None:
        found = current_period(periods, today)
    else:
        found = next((p for p in periods if p.start == start), None)
    if found is None:
        raise NoPeriod(start)
    return found


def _content(entry: WorkLogEntry) -> str:
    parts = []
    if entry.students:
        parts.append("学生：" + "、".join(s.name for s in entry.students))
    if entry.place:
        parts.append(f"地点：{entry.place}")
    if entry.text:
        parts.append(entry.text)
    return "；".join(parts) or "—"


def _times(n: int) -> str:
    return f"{n}次"


def logbook_spec(
    session: Session,
    teacher: Teacher,
    period: Period,
    today: dt.date,
    letterhead: Letterhead,
    class_ids: Collection[int] | None = None,
) -> DocumentSpec:
    """The 日志本 of ``period``. ``class_ids``: only entries about these classes (a branch
    looking at another department's teacher sees their work in its own classes only)."""
    query = (
        select(WorkLogEntry)
        .options(selectinload(WorkLogEntry.students), selectinload(WorkLogEntry.school_class))
        .where(
            WorkLogEntry.teacher_id == teacher.id,
            WorkLogEntry.occurred_on.between(period.start, period.end),
        )
        .order_by(WorkLogEntry.occurred_on, WorkLogEntry.created_at, WorkLogEntry.id)
    )
    appointments = list(period.appointments)
    if class_ids is not None:
        query = query.where(WorkLogEntry.class_id.in_(list(class_ids)))
        appointments = [a for a in appointments if a.class_id in class_ids]
    entries = list(session.scalars(query))
    records = [
        {
            "序号": str(i),
            "日期": e.occurred_on.isoformat(),
            "类型": e.kind.label,
            "班级": class_name(e.school_class) if e.school_class else "—",
            "内容": _content(e),
        }
        for i, e in enumerate(entries, 1)
    ]
    if not records:
        records = [
            {"序号": "—", "日期": "—", "类型": "—", "班级": "—", "内容": "本聘期尚无工作日志"}
        ]

    # The branch's requirements as they stand on the last day counted, over the months of
    # the 聘期 so far (a month begun counts whole, as 统计 does).
    counted_to = min(today, period.end)
    months = months_between(period.start, counted_to)
    classes = list(dict.fromkeys(a.school_class for a in appointments))
    info = TeacherInfo(teacher, appointments, classes, Roster([]))
    required = requirements_for(session, info.scope(counted_to)) if classes else {}
    done = Counter(e.kind for e in entries)
    requirement_rows = []
    for kind, per_month in required.items():
        due = per_month * months
        missing = max(due - done[kind], 0)
        requirement_rows.append(
            {
                "类型": kind.label,
                "每月": _times(per_month),
                "应完成": _times(due),
                "已记录": _times(done[kind]),
                "情况": f"还差{missing}次" if missing else "已完成",
            }
        )
    if not requirement_rows:
        requirement_rows = [{"类型": "—", "每月": "—", "应完成": "—", "已记录": "—", "情况": "—"}]
    others = [f"{k.label} {n}次" for k, n in done.items() if k not in required]
    if months:
        note = f"统计截至{cn_date(counted_to)}，在任{months}个月（当月按整月计）。"
    else:
        note = f"聘期自{cn_date(period.start)}开始，尚无应完成次数。"
    if others:
        note += "其他工作：" + "、".join(others) + "。"
    dep = session.get(Department, teacher.department_id) if teacher.department_id else None
    values = {
        "学校": letterhead.school,
        "生成日期": cn_date(today),
        "姓名": teacher.name,
        "工号": teacher.staff_no,
        "党总支": dep.name if dep else "—",
        "条数": str(len(entries)),
        "班级": "、".join(class_name(c) for c in classes) or "—",
        "聘期": period.label(),
        "统计说明": note,
    }
    return DocumentSpec(
        "logbook",
        teacher.id,
        teacher.staff_no,
        teacher.name,
        safe_filename(
            f"工作日志本-{teacher.staff_no}-{teacher.name}-{period.start.isoformat()}.docx"
        ),
        values,
        0,
        {"记录": records, "要求": requirement_rows},
    )
