"""Dashboard parts for the policy rules (第十二条 training, 第十四条 meetings, 第八条（三）
employment), the class page, the favicon and the audit sentences: template helpers computed
live from the database (scoped like every other page) and the routes that need them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, render_template
from flask_login import current_user
from sqlalchemy import select

from bot.dashboard import audit_text, documents_pages  # noqa: F401 - its routes register on bp
from bot.dashboard.views import bp, term_or_404
from bot.request_session import db
from core.evaluation import employment, meetings, policy
from models import Appointment, EmploymentOutcome, SchoolClass, Student, Teacher, Term

STATIC = Path(__file__).parent / "static"


def _scope() -> int | None:
    return current_user.scope


@bp.app_template_global()
def audit_sentence(row: Any) -> str:
    """An AuditLog row as a Chinese sentence (bot.dashboard.audit_text)."""
    return audit_text.describe(row.actor, row.action, row.target, row.detail)


@bp.app_template_global()
def audit_action(action: str) -> str:
    return audit_text.action_label(action)


@bp.app_template_global()
def month_label(month: str) -> str:
    return meetings.month_label(month)


@bp.app_template_global()
def school_rules(term: Term) -> policy.SchoolRules:
    """第十四条 for the overview: each visible branch's months, and the school's trainings."""
    return policy.school_rules(db(), term, _scope())


@bp.app_template_global()
def teacher_meetings(term: Term, teacher_id: int) -> dict[str, Any]:
    """第十四条 for a teacher page: their branch's meetings held while they were in office, the
    ones they missed, and the branch's months."""
    attendance, months = policy.teacher_meetings(db(), term, teacher_id)
    return {"attendance": attendance, "months": months, "missed": meetings.missed_months(months)}


@bp.app_template_global()
def teacher_employment(term: Term, teacher_id: int) -> list[employment.ClassEmployment]:
    """第八条（三） for a teacher page: the final-year classes they head in the term."""
    session = db()
    finals = policy.final_year_classes(session, term, [teacher_id]).get(teacher_id, [])
    stats = policy.class_employment(session, finals)
    return [stats[c.id] for c in finals]


@bp.app_template_global()
def percent(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.1f}%"


def _visible_class(code: str) -> SchoolClass:
    query = select(SchoolClass).where(SchoolClass.code == code)
    if _scope() is not None:
        query = query.where(SchoolClass.department_id == _scope())
    cls = db().scalar(query)
    if cls is None:
        abort(404)
    return cls


@bp.route("/classes/<code>")
def school_class(code: str):
    """A class: its head teachers and, for a final-year class, its students' employment
    outcomes (第八条（三）)."""
    session = db()
    cls = _visible_class(code)
    term = term_or_404()
    on = term.start_date if term else None
    final = bool(on and cls.is_final_year(on))
    heads = session.execute(
        select(Appointment, Teacher)
        .join(Teacher, Teacher.id == Appointment.teacher_id)
        .where(Appointment.class_id == cls.id)
        .order_by(Appointment.start_date.desc())
    ).all()
    outcomes = session.execute(
        select(
            Student.name,
            Student.student_no,
            EmploymentOutcome.outcome,
            EmploymentOutcome.recorded_on,
        )
        .join(EmploymentOutcome, EmploymentOutcome.student_id == Student.id)
        .where(Student.classes.any(SchoolClass.id == cls.id))
        .order_by(Student.student_no)
    ).all()
    stats = policy.class_employment(session, [cls])[cls.id]
    return render_template(
        "dashboard/class.html",
        term=term,
        cls=cls,
        final=final,
        year=cls.year_of_study(on) if on else None,
        heads=heads,
        stats=stats,
        kinds=employment.KINDS,
        outcomes=[
            (name, no, text, day, employment.classify(text)) for name, no, text, day in outcomes
        ],
    )


def favicon() -> Response:
    """``/favicon.ico`` for browsers that ask for it at the root (176 bytes, read each time
    rather than streamed, so no file handle outlives the request)."""
    response = Response((STATIC / "favicon.ico").read_bytes(), mimetype="image/vnd.microsoft.icon")
    response.cache_control.max_age = 86400
    response.cache_control.public = True
    return response


def init_app(app: Flask) -> None:
    app.add_url_rule("/favicon.ico", "favicon", favicon)
