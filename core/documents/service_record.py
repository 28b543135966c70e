"""任职证明 (第十八条: 班主任经历 counts for promotion and 职称): every 聘期 of a head teacher —
the days in office, the class, and the grade of each term of it whose results Student Affairs
has published (an unpublished or unevaluated term shows no grade) — over the school's name."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.documents.logbook import IN_OFFICE, NoPeriod, last_day
from core.documents.records import DocumentSpec, Letterhead, class_name, cn_date, safe_filename
from models import Appointment, AppointmentStatus, Department, Teacher, Term, TermEvaluation

TERM_HALVES = {"1": "第一学期", "2": "第二学期"}


def term_label(code: str) -> str:
    """``2025-2026-1`` → ``2025-2026学年第一学期``."""
    return f"{code[:9]}学年{TERM_HALVES.get(code[10:], code[10:])}"


def _ended(a: Appointment) -> str:
    if a.status == AppointmentStatus.DISMISSED:
        return "（解聘）"
    if a.status == AppointmentStatus.RESIGNED:
        return "（辞职）"
    return ""


def service_spec(
    session: Session, teacher: Teacher, today: dt.date, letterhead: Letterhead
) -> DocumentSpec:
    """The 任职证明 of ``teacher`` as of ``today``; raises NoPeriod when they have never been in
    office (an appointment not yet begun proves no service)."""
    appointments = list(
        session.scalars(
            select(Appointment)
            .where(
                Appointment.teacher_id == teacher.id,
                Appointment.status.in_(IN_OFFICE),
                Appointment.start_date <= today,
            )
            .order_by(Appointment.start_date, Appointment.id)
        )
    )
    if not appointments:
        raise NoPeriod(None)
    grades = {
        term.id: (term, evaluation)
        for term, evaluation in session.execute(
            select(Term, TermEvaluation)
            .join(TermEvaluation, TermEvaluation.term_id == Term.id)
            .where(TermEvaluation.teacher_id == teacher.id, Term.published_at.is_not(None))
        )
    }
    rows = []
    for i, a in enumerate(appointments, 1):
        last = last_day(a)
        shown = [
            f"{term_label(term.code)}：{evaluation.grade.label}"
            for term, evaluation in sorted(grades.values(), key=lambda te: te[0].start_date)
            if term.start_date <= last and term.end_date >= a.start_date
        ]
        rows.append(
            {
                "序号": str(i),
                "起止": f"{cn_date(a.start_date)} 至 {cn_date(last)}{_ended(a)}",
                "班级": class_name(a.school_class),
                "等级": "；".join(shown) or "尚无已公布的考核结果",
            }
        )
    dep = session.get(Department, teacher.department_id) if teacher.department_id else None
    values = {
        "学校": letterhead.school,
        "姓名": teacher.name,
        "工号": teacher.staff_no,
        "党总支": dep.name if dep else "—",
        "开具日期": cn_date(today),
    }
    return DocumentSpec(
        "service",
        teacher.id,
        teacher.staff_no,
        teacher.name,
        safe_filename(f"任职证明-{teacher.staff_no}-{teacher.name}.docx"),
        values,
        0,
        {"聘期": rows},
    )
