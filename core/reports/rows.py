"""Report rows read from stored term evaluations (one small query per report, no aggregation
here: that happened in the evaluation's SQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.evaluation.awards import award_candidates
from core.evaluation.policy import report_fields, resolve_branch_attendees
from models import Award, Department, Teacher, TermEvaluation
from models.evaluation import Grade
from models.term import UnknownTerm, require_term

__all__ = ["UnknownTerm", "allowance_rows", "award_rows", "evaluation_rows"]


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _evaluations(session: Session, term_id: int, department_id: int | None):
    query = (
        select(TermEvaluation, Teacher, Department)
        .join(Teacher, Teacher.id == TermEvaluation.teacher_id)
        .outerjoin(Department, Department.id == TermEvaluation.department_id)
        .where(TermEvaluation.term_id == term_id)
        .order_by(Department.name, Teacher.staff_no)
    )
    if department_id is not None:
        query = query.where(TermEvaluation.department_id == department_id)
    return session.execute(query).all()


def evaluation_rows(
    session: Session, term_code: str, department_id: int | None = None
) -> list[dict[str, Any]]:
    """The JSON report rows of DESIGN.md (staff_no, teacher, department, classes, respondents,
    eligible, response_rate, satisfaction_pct, grade, reasons, logs, flags) plus: teacher_id,
    department_id, term, satisfaction (unrounded), ci_low/ci_high, computed_grade,
    override_reason, meetings/trainings attended, months_in_office, allowance and quality
    details. ``satisfaction_pct`` is rounded to one decimal for display and null with no
    respondents; grades were compared unrounded. Raises UnknownTerm."""
    term = require_term(session, term_code)
    rows = []
    evaluations = _evaluations(session, term.id, department_id)
    # Own copies: the branch months get their attendees' names (stored once, by meeting id).
    all_details = [dict(ev.details or {}) for ev, _teacher, _dep in evaluations]
    resolve_branch_attendees(session, all_details)
    for (ev, teacher, dep), details in zip(evaluations, all_details, strict=True):
        grade = ev.override_grade or ev.computed_grade
        if grade == Grade.FAIL:
            reasons = list(ev.reasons) or ([ev.override_reason] if ev.override_reason else [])
        else:
            reasons = []
        rows.append(
            {
                "staff_no": teacher.staff_no,
                "teacher": teacher.name,
                "department": dep.name if dep else None,
                "classes": [c for c in ev.classes.split("、") if c],
                "respondents": ev.respondents,
                "eligible": ev.eligible,
                "response_rate": _round(ev.response_rate, 4),
                "satisfaction_pct": _round(ev.satisfaction),
                "grade": grade.label,
                "reasons": reasons,
                "logs": dict(ev.logs),
                "flags": list(ev.flags),
                "teacher_id": teacher.id,
                "department_id": ev.department_id,
                "term": term.code,
                "satisfaction": ev.satisfaction,
                "ci_low": _round(ev.ci_low),
                "ci_high": _round(ev.ci_high),
                "computed_grade": ev.computed_grade.label,
                "computed_reasons": list(ev.reasons),
                "override_reason": ev.override_reason if ev.override_grade else None,
                "meetings_attended": ev.meetings_attended,
                "trainings_attended": ev.trainings_attended,
                "months_in_office": ev.months_in_office,
                "allowance": ev.allowance,
                # None below min_respondents (not shown, see core.evaluation.run).
                "straight_lined": details.get("straight_lined"),
                "too_fast": details.get("too_fast"),
                "corroboration": details.get("corroboration", {}),
                # 第十四条 meeting attendance and branch months, 第八条（三） employment.
                **report_fields(details),
                # Rounds of the term still open (进行中, with the response rate so far when
                # evaluated): counted in nothing above until they close.
                "open_rounds": details.get("open_rounds", []),
            }
        )
    return rows


def allowance_rows(
    session: Session, term_code: str, department_id: int | None = None
) -> list[dict[str, Any]]:
    """第十八条: per head teacher, the months of the term in office and the allowance (yuan)."""
    term = require_term(session, term_code)
    return [
        {
            "staff_no": teacher.staff_no,
            "teacher": teacher.name,
            "department": dep.name if dep else None,
            "classes": [c for c in ev.classes.split("、") if c],
            "months": list((ev.details or {}).get("months", [])),
            "months_in_office": ev.months_in_office,
            "allowance": ev.allowance,
            "teacher_id": teacher.id,
            "department_id": ev.department_id,
            "term": term.code,
        }
        for ev, teacher, dep in _evaluations(session, term.id, department_id)
    ]


def award_rows(
    session: Session, term_code: str, department_id: int | None = None
) -> list[dict[str, Any]]:
    """先进兼职班主任 candidates: 优秀 in this and the previous semester, not dismissed in the
    last three years (第十九条, 第二十条)."""
    term = require_term(session, term_code)
    candidates = award_candidates(session, term)
    if not candidates:
        return []
    by_teacher = {
        teacher.id: (ev, teacher, dep)
        for ev, teacher, dep in _evaluations(session, term.id, department_id)
    }
    statuses = dict(
        session.execute(
            select(Award.teacher_id, Award.status).where(Award.academic_year == term.code[:9])
        ).all()
    )
    rows = []
    for c in candidates:
        if c.teacher_id not in by_teacher:
            continue
        ev, teacher, dep = by_teacher[c.teacher_id]
        rows.append(
            {
                "staff_no": teacher.staff_no,
                "teacher": teacher.name,
                "department": dep.name if dep else None,
                "term": c.term_code,
                "previous_term": c.previous_term_code,
                "grade": Grade.EXCELLENT.label,
                "previous_grade": Grade.EXCELLENT.label,
                "satisfaction_pct": _round(ev.satisfaction),
                # The interval as stored (withheld below the minimum respondents), with its n.
                "respondents": ev.respondents,
                "ci_low": _round(ev.ci_low),
                "ci_high": _round(ev.ci_high),
                "status": "已授予" if statuses.get(c.teacher_id) == "awarded" else "候选",
                "teacher_id": teacher.id,
                "department_id": ev.department_id,
            }
        )
    return rows
