"""Who must rate whom in a term: every student of a class with a head teacher appointed (or
ended early) during the term rates that head teacher. Used by the rounds (progress, the
dialogue's list of teachers to rate) and by the notices that reach the students."""

from __future__ import annotations

from sqlalchemy import Select, func, or_, select

from models import Appointment, AppointmentStatus, Term, class_members
from models.appointment import ENDED_EARLY


def eligibility(term: Term) -> Select:
    """Rows (student_id, teacher_id, class_id): which student must rate which head teacher in
    ``term``, through which class. A student in two classes of one teacher appears twice."""
    return eligibility_between(term.start_date, term.end_date)


def eligibility_between(term_start, term_end) -> Select:
    # The term's days as values, or as bind parameters in a statement built once. Table
    # columns rather than ORM attributes, so that selects built on it stay Core (no ORM result
    # processing on the webhook's hot path).
    a = Appointment.__table__.c
    last_day = func.coalesce(a.ended_on, a.end_date)
    return (
        select(
            class_members.c.student_id.label("student_id"),
            a.teacher_id.label("teacher_id"),
            a.class_id.label("class_id"),
        )
        .select_from(Appointment.__table__)
        .join(class_members, class_members.c.class_id == a.class_id)
        .where(
            or_(a.status == AppointmentStatus.APPOINTED, a.status.in_(ENDED_EARLY)),
            a.start_date <= term_end,
            last_day >= term_start,
        )
        .distinct()
    )
