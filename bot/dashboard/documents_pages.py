"""Dashboard downloads of the policy's Word documents: a 业务审批表 or 聘书 for one appointment, a
荣誉证书 for one award, or all of a term's documents of a kind in one merged file. Scoped like
every page: a branch gets its own classes' appointments and its own teachers' awards."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, abort, url_for
from flask_login import current_user
from sqlalchemy import select

from bot.dashboard import queries
from bot.dashboard.access import teacher_condition, visible_appointment
from bot.dashboard.views import bp, term_or_404, today
from bot.request_session import db, settings
from core.documents.records import (
    KINDS,
    Letterhead,
    application_spec,
    appointment_spec,
    award_spec,
    merged,
    term_documents,
)
from models import AppointmentStatus, Award, Teacher
from models.appointment import ENDED_EARLY

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _docx(body: bytes, name: str, ascii_name: str) -> Response:
    response = Response(body, mimetype=DOCX)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    )
    return response


def _letterhead() -> Letterhead:
    return Letterhead.of(settings())


@bp.route("/documents/<kind>/<int:record_id>.docx")
def document(kind: str, record_id: int):
    """One document: ``application`` or ``appointment`` (an appointment id), ``award`` (an
    award id)."""
    session = db()
    scope = current_user.scope
    if kind in ("application", "appointment"):
        a = visible_appointment(session, scope, record_id)
        if kind == "appointment" and a.status not in (AppointmentStatus.APPOINTED, *ENDED_EARLY):
            abort(404)  # no 聘书 before the appointment is made
        spec = (
            application_spec(a, today(), _letterhead())
            if kind == "application"
            else appointment_spec(a, _letterhead())
        )
    elif kind == "award":
        row = session.execute(
            select(Award, Teacher)
            .join(Teacher, Teacher.id == Award.teacher_id)
            .where(Award.id == record_id, Award.status == "awarded", teacher_condition(scope))
        ).first()
        if row is None:
            abort(404)
        spec = award_spec(session, row[0], row[1], today(), _letterhead())
    else:
        abort(404)
    return _docx(spec.render(), spec.filename, f"{kind}-{record_id}.docx")


@bp.route("/documents/<kind>.docx")
def term_documents_merged(kind: str):
    """All of the term's documents of a kind (the caller's scope) in one file."""
    if kind not in KINDS:
        abort(404)
    term = term_or_404()
    if term is None:
        abort(404)
    specs = [
        d
        for d in term_documents(db(), term, today(), _letterhead(), current_user.scope)
        if d.kind == kind
    ]
    if not specs:
        abort(404)
    name = f"{KINDS[kind]}-{term.code}.docx"
    return _docx(merged(specs), name, f"{kind}-{term.code}.docx")


@bp.app_template_global()
def document_links(teacher_id: int) -> list[tuple[str, str]]:
    """(label, url) of the documents of one teacher the caller may download (teacher page)."""
    session = db()
    links = []
    for a in queries.appointments_of(session, teacher_id):
        if a.status == AppointmentStatus.REJECTED:
            continue
        cls = a.school_class.code
        links.append(
            (
                f"业务审批表（{cls}）",
                url_for("dashboard.document", kind="application", record_id=a.id),
            )
        )
        if a.status in (AppointmentStatus.APPOINTED, *ENDED_EARLY):
            links.append(
                (
                    f"聘书（{cls}）",
                    url_for("dashboard.document", kind="appointment", record_id=a.id),
                )
            )
    for award in session.scalars(
        select(Award).where(Award.teacher_id == teacher_id, Award.status == "awarded")
    ):
        links.append(
            (
                f"荣誉证书（{award.academic_year}）",
                url_for("dashboard.document", kind="award", record_id=award.id),
            )
        )
    return links
