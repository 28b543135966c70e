"""Dashboard downloads of the policy's Word documents: a 业务审批表 or 聘书 for one appointment, a
荣誉证书 for one award, or all of a term's documents of a kind in one merged file; a teacher's
工作日志本 of a 聘期 and 任职证明 (issue 25). Scoped like every page: a branch gets its own
classes' appointments and its own teachers' awards (one by id exactly as the merged file: not
a borrowed teacher's); of another department's teacher (seen through an approved appointment
to its class) only the 日志本 entries about its own classes, and no 任职证明 (it carries grades,
which a branch does not see of such a teacher); 人事处 the appointments' documents and the
任职证明, never a 日志本 (bot.dashboard.access.ROUTES)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from flask import Response, abort, request, url_for
from flask_login import current_user
from sqlalchemy import select

from bot.dashboard import queries
from bot.dashboard.access import (
    award_condition,
    class_ids,
    is_foreign,
    visible_appointment,
    visible_teacher,
)
from bot.dashboard.views import bp, term_or_404, today
from bot.request_session import db, settings
from core.documents.logbook import NoPeriod, logbook_spec, period_starting, service_periods
from core.documents.records import (
    KINDS,
    Letterhead,
    application_spec,
    appointment_spec,
    award_spec,
    merged,
    term_documents,
)
from core.documents.service_record import service_spec
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
            .where(Award.id == record_id, Award.status == "awarded", award_condition(scope))
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


def _branch_classes(teacher: Teacher) -> set[int] | None:
    """The classes whose entries the caller may see of ``teacher``: all (None), or only the
    branch's own when the teacher belongs to another department."""
    scope = current_user.scope
    if not is_foreign(scope, teacher):
        return None
    return set(db().scalars(class_ids(scope)))


@bp.route("/teachers/<int:teacher_id>/logbook.docx")
def teacher_logbook(teacher_id: int):
    """The 工作日志本 of the 聘期 starting on ``?start=YYYY-MM-DD`` (default: the current one)."""
    session = db()
    teacher = visible_teacher(session, current_user.scope, teacher_id)
    raw = request.args.get("start")
    try:
        start = dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        abort(400)
    try:
        period = period_starting(session, teacher.id, start, today())
    except NoPeriod:
        abort(404)
    classes = _branch_classes(teacher)
    if classes is not None and not any(a.class_id in classes for a in period.appointments):
        abort(404)
    spec = logbook_spec(session, teacher, period, today(), _letterhead(), classes)
    return _docx(spec.render(), spec.filename, f"logbook-{teacher.staff_no}.docx")


@bp.route("/teachers/<int:teacher_id>/service.docx")
def teacher_service(teacher_id: int):
    """The 任职证明: every 聘期 with its published grades."""
    session = db()
    teacher = visible_teacher(session, current_user.scope, teacher_id)
    if _branch_classes(teacher) is not None:
        abort(404)
    try:
        spec = service_spec(session, teacher, today(), _letterhead())
    except NoPeriod:
        abort(404)
    return _docx(spec.render(), spec.filename, f"service-{teacher.staff_no}.docx")


@bp.app_template_global()
def document_links(teacher_id: int, foreign: bool = False) -> list[tuple[str, str]]:
    """(label, url) of the documents of one teacher the caller may download (teacher page)."""
    session = db()
    links = []
    teacher = session.get(Teacher, teacher_id)
    classes = _branch_classes(teacher) if foreign else None
    for period in service_periods(session, teacher_id):
        if period.start > today():
            continue
        if classes is not None and not any(a.class_id in classes for a in period.appointments):
            continue
        links.append(
            (
                f"工作日志本（{period.start} 起）",
                url_for(
                    "dashboard.teacher_logbook",
                    teacher_id=teacher_id,
                    start=period.start.isoformat(),
                ),
            )
        )
    if foreign:
        return links
    if links:
        links.append(("任职证明", url_for("dashboard.teacher_service", teacher_id=teacher_id)))
    scope = current_user.scope
    for a in queries.appointments_of(session, teacher_id):
        # Only links the download itself would honour (a branch: its own classes).
        if a.status == AppointmentStatus.REJECTED or (
            scope is not None and a.school_class.department_id != scope
        ):
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
        select(Award)
        .join(Teacher, Teacher.id == Award.teacher_id)
        .where(
            Award.teacher_id == teacher_id,
            Award.status == "awarded",
            award_condition(scope),
        )
    ):
        links.append(
            (
                f"荣誉证书（{award.academic_year}）",
                url_for("dashboard.document", kind="award", record_id=award.id),
            )
        )
    return links
