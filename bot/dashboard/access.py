"""Who may see what. A branch (党总支) user sees its own department only, and that limit is
applied inside every query (these conditions), not by hiding menu entries.

Scope is derived, never granted by the scoped user: a branch sees a teacher of another
department only through an appointment to one of its classes that Student Affairs has approved
(学生处审核 or a later step); a pending or rejected application grants nothing, whoever filed it.
Writes take the same conditions in their queries as reads."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, or_, select, true
from sqlalchemy.orm import Session

from models import (
    Appointment,
    AppointmentStatus,
    Incident,
    Meeting,
    SchoolClass,
    Teacher,
    Term,
    TermEvaluation,
    User,
    WorkLogEntry,
)
from models.meetings import meetings_attended

# 审核通过 or later: only Student Affairs' approval makes another department's teacher visible.
APPROVED_STATUSES = (
    AppointmentStatus.AFFAIRS_APPROVED,
    AppointmentStatus.HR_FILED,
    AppointmentStatus.APPOINTED,
    AppointmentStatus.DISMISSED,
    AppointmentStatus.RESIGNED,
)


def class_ids(department_id: int) -> Select:
    return select(SchoolClass.id).where(SchoolClass.department_id == department_id)


def teacher_condition(department_id: int | None) -> ColumnElement[bool]:
    """Teachers a department may see: its own staff, and anyone Student Affairs approved as
    head teacher of one of its classes (第三条: the branch manages its classes' head teachers)."""
    if department_id is None:
        return true()
    return or_(
        Teacher.department_id == department_id,
        Teacher.id.in_(
            select(Appointment.teacher_id).where(
                Appointment.class_id.in_(class_ids(department_id)),
                Appointment.status.in_(APPROVED_STATUSES),
            )
        ),
    )


def application_condition(department_id: int | None) -> ColumnElement[bool]:
    """Teachers a department may file appointment applications for: its own (Student Affairs:
    anyone). Filing for another department's teacher would widen its own scope."""
    if department_id is None:
        return true()
    return Teacher.department_id == department_id


def is_foreign(department_id: int | None, teacher: Teacher) -> bool:
    """A teacher of another department, seen by a branch only through its classes: what it
    sees of them is limited to their work in those classes."""
    return department_id is not None and teacher.department_id != department_id


def worklog_condition(department_id: int) -> ColumnElement[bool]:
    """A foreign teacher's work-log entries a department may see: those about its classes."""
    return WorkLogEntry.class_id.in_(class_ids(department_id))


def meetings_in_scope(
    session: Session, department_id: int, teacher_id: int, term: Term
) -> list[Meeting]:
    """A foreign teacher's meetings the department may know of: its own and school-level."""
    return meetings_attended(session, teacher_id, term, meeting_condition(department_id))


def incidents_in_scope(
    session: Session, department_id: int, teacher_id: int, term_id: int
) -> list[Incident]:
    """A foreign teacher's incidents that this department's users recorded."""
    own_users = select(User.username).where(User.department_id == department_id)
    return list(
        session.scalars(
            select(Incident)
            .where(
                Incident.teacher_id == teacher_id,
                Incident.term_id == term_id,
                Incident.recorded_by.in_(own_users),
            )
            .order_by(Incident.occurred_on)
        )
    )


def appointments_in_scope(
    session: Session, department_id: int, teacher_id: int
) -> list[Appointment]:
    return list(
        session.scalars(
            select(Appointment)
            .where(
                Appointment.teacher_id == teacher_id,
                Appointment.class_id.in_(class_ids(department_id)),
            )
            .order_by(Appointment.start_date.desc())
        )
    )


def visible_attendees(department_id: int | None, meeting: Meeting) -> list[Teacher]:
    """Who a department sees at a meeting: everyone at its own meetings; on a school-level
    meeting only its own teachers (not other departments' attendees)."""
    if department_id is None or meeting.department_id == department_id:
        return list(meeting.attendees)
    return [t for t in meeting.attendees if t.department_id == department_id]


def evaluation_condition(department_id: int | None) -> ColumnElement[bool]:
    if department_id is None:
        return true()
    return TermEvaluation.department_id == department_id


def appointment_condition(department_id: int | None) -> ColumnElement[bool]:
    if department_id is None:
        return true()
    return Appointment.class_id.in_(
        select(SchoolClass.id).where(SchoolClass.department_id == department_id)
    )


def meeting_condition(department_id: int | None) -> ColumnElement[bool]:
    """A branch sees its own meetings and the school-level ones (held by Student Affairs)."""
    if department_id is None:
        return true()
    return or_(Meeting.department_id == department_id, Meeting.department_id.is_(None))


def visible_teacher(
    session: Session, department_id: int | None, teacher_id: int, *, for_update: bool = False
) -> Teacher:
    """The teacher, or 404 when it does not exist or lies outside the department. Writes pass
    ``for_update``: the row stays locked (PostgreSQL) until the change commits, so the scope
    it was checked against cannot change in between."""
    query = select(Teacher).where(Teacher.id == teacher_id, teacher_condition(department_id))
    teacher = session.scalar(query.with_for_update(of=Teacher) if for_update else query)
    if teacher is None:
        abort(404)
    return teacher


def visible_appointment(
    session: Session, department_id: int | None, appointment_id: int, *, for_update: bool = False
) -> Appointment:
    query = select(Appointment).where(
        Appointment.id == appointment_id, appointment_condition(department_id)
    )
    appointment = session.scalar(query.with_for_update(of=Appointment) if for_update else query)
    if appointment is None:
        abort(404)
    return appointment


def affairs_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Student Affairs only; a branch user gets 403."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated or not current_user.is_affairs:
            abort(403)
        return view(*args, **kwargs)

    return wrapper
