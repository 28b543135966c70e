"""The stored evaluations the trends are built from, limited in SQL to what the caller may see.

Scope is the reports' (``core.reports.rows``): a branch sees the evaluations made under its own
department; another department's teacher, even one heading the branch's classes, shows no
grade or satisfaction to it (README, "Dashboard security"). Terms: a branch sees published terms
only; Student Affairs every evaluated term (each marked published or not). Evaluations count
closed rounds only, so no figure here comes from an open round.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.trends.aggregate import TermPoint, Trends, build, trend_sheet
from models import Department, Teacher, Term, TermEvaluation


def load_points(
    session: Session,
    department_id: int | None,
    *,
    published_only: bool,
    teacher_id: int | None = None,
    up_to: Term | None = None,
) -> list[TermPoint]:
    """One point per evaluation the caller may see, oldest term first; ``up_to``: terms that
    started no later than it (the report of a term shows its past, not its future)."""
    query = (
        select(TermEvaluation, Term, Teacher.staff_no, Teacher.name, Department.name)
        .join(Term, Term.id == TermEvaluation.term_id)
        .join(Teacher, Teacher.id == TermEvaluation.teacher_id)
        .outerjoin(Department, Department.id == TermEvaluation.department_id)
        .order_by(Term.start_date, Department.name, Teacher.staff_no)
    )
    if department_id is not None:
        query = query.where(TermEvaluation.department_id == department_id)
    if published_only:
        query = query.where(Term.published_at.is_not(None))
    if teacher_id is not None:
        query = query.where(TermEvaluation.teacher_id == teacher_id)
    if up_to is not None:
        query = query.where(Term.start_date <= up_to.start_date)
    return [
        TermPoint(
            term=term.code,
            term_start=term.start_date,
            published=term.published_at is not None,
            teacher_id=ev.teacher_id,
            staff_no=staff_no,
            teacher=name,
            department=dep or "",
            respondents=ev.respondents,
            eligible=ev.eligible,
            satisfaction=ev.satisfaction,
            ci_low=ev.ci_low,
            ci_high=ev.ci_high,
            grade=ev.grade,
            logs={str(k): int(v) for k, v in (ev.logs or {}).items()},
        )
        for ev, term, staff_no, name, dep in session.execute(query)
    ]


def trends_for(
    session: Session,
    scope: int | None,
    min_respondents: int,
    *,
    department_id: int | None = None,
    teacher_id: int | None = None,
    up_to: Term | None = None,
) -> Trends:
    """The trends a caller of ``scope`` (a department; None: Student Affairs) may see, narrowed
    to ``department_id`` (Student Affairs only: a branch is always narrowed to its own) and
    ``teacher_id``. The school series for Student Affairs only, always the whole school's."""
    affairs = scope is None

    def points(department: int | None, teacher: int | None) -> list[TermPoint]:
        return load_points(
            session, department, published_only=not affairs, teacher_id=teacher, up_to=up_to
        )

    narrowed = department_id if affairs else scope
    trends = build(points(narrowed, teacher_id), min_respondents, school=affairs)
    if affairs and (narrowed is not None or teacher_id is not None):
        trends.school = build(points(None, None), min_respondents).school
    return trends


TREND_SHEET = "历年趋势"


def report_sheets(
    session: Session, term: Term, department_id: int | None, min_respondents: int
) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """The xlsx report's 历年趋势 sheet: the terms up to ``term`` the caller may see."""
    data = trends_for(session, department_id, min_respondents, up_to=term)
    return {TREND_SHEET: trend_sheet(data)}
