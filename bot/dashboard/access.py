"""Who may see what. A branch (党总支) user sees its own department only, and that limit is
applied inside every query (these conditions), not by hiding menu entries."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user
from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session

from models import Appointment, Meeting, SchoolClass, Teacher, TermEvaluation


def teacher_condition(department_id: int | None) -> ColumnElement[bool]:
    """Teachers a department may see: its own staff, and anyone appointed to one of its
    classes (第三条: the branch manages the head teachers of its classes)."""
    if department_id is None:
        return true()
    return or_(
        Teacher.department_id == department_id,
        Teacher.id.in_(
            select(Appointment.teacher_id)
            .join(SchoolClass, SchoolClass.id == Appointment.class_id)
            .where(SchoolClass.department_id == department_id)
        ),
    )


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


def visible_teacher(session: Session, department_id: int | None, teacher_id: int) -> Teacher:
    """The teacher, or 404 when it does not exist or lies outside the department."""
    teacher = session.scalar(
        select(Teacher).where(Teacher.id == teacher_id, teacher_condition(department_id))
    )
    if teacher is None:
        abort(404)
    return teacher


def visible_appointment(
    session: Session, department_id: int | None, appointment_id: int
) -> Appointment:
    appointment = session.scalar(
        select(Appointment).where(
            Appointment.id == appointment_id, appointment_condition(department_id)
        )
    )
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
