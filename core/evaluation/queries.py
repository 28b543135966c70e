"""The grouped SQL the evaluation is built from. Every aggregate (counts, sums, sums of squares,
distinct students) is computed by the database; Python receives one row per teacher (and
kind or round), never the responses or log entries themselves. Portable between SQLite and
PostgreSQL (no string_agg, no stddev: the sum of squares gives the variance)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from sqlalchemy import and_, case, distinct, func, or_, select, true
from sqlalchemy.orm import Session

from models import (
    Answer,
    Appointment,
    AppointmentStatus,
    Ballot,
    Incident,
    Meeting,
    Response,
    SchoolClass,
    SurveyRound,
    Teacher,
    Term,
    WorkLogEntry,
    class_members,
    meeting_attendance,
)
from models.appointment import ENDED_EARLY

IN_OFFICE_STATUSES = (AppointmentStatus.APPOINTED, *ENDED_EARLY)


def of_teachers(column, teacher_ids: Collection[int] | None):
    """SQL condition: ``column`` is one of ``teacher_ids``; None means every teacher (the whole
    school at once: no IN list of thousands of parameters to bind and plan, and the caller
    ignores the teachers it did not ask about)."""
    return true() if teacher_ids is None else column.in_(list(teacher_ids))


def active_in_term(term: Term):
    """SQL condition: the appointment was in office on some day of the term (appointed, or
    dismissed/resigned after the term started)."""
    last_day = func.coalesce(Appointment.ended_on, Appointment.end_date)
    return and_(
        Appointment.status.in_(IN_OFFICE_STATUSES),
        Appointment.start_date <= term.end_date,
        last_day >= term.start_date,
    )


def teacher_departments(session: Session, term: Term) -> dict[int, int]:
    """teacher id → the department they are evaluated under: their own, else (a teacher with no
    department on the roster) the lowest department among their classes in the term."""
    rows = session.execute(
        select(
            Appointment.teacher_id,
            func.coalesce(Teacher.department_id, func.min(SchoolClass.department_id)),
        )
        .join(Teacher, Teacher.id == Appointment.teacher_id)
        .join(SchoolClass, SchoolClass.id == Appointment.class_id)
        .where(active_in_term(term))
        .group_by(Appointment.teacher_id, Teacher.department_id)
    )
    return {teacher_id: dep for teacher_id, dep in rows}


@dataclass
class AppointmentFacts:
    class_codes: list[str] = field(default_factory=list)
    periods: list[tuple[dt.date, dt.date]] = field(default_factory=list)
    ended_within_first_year: bool = False
    trained: bool = True


def appointments(
    session: Session, term: Term, teacher_ids: Collection[int] | None
) -> dict[int, AppointmentFacts]:
    """The term's appointments of these teachers (one row per appointment: a few per teacher).
    Plain rows, no ORM objects: thousands of teachers are read at once."""
    rows = session.execute(
        select(
            Appointment.teacher_id,
            SchoolClass.code,
            Appointment.start_date,
            Appointment.end_date,
            Appointment.ended_on,
            Appointment.status,
            Appointment.trained,
        )
        .join(SchoolClass, SchoolClass.id == Appointment.class_id)
        .where(active_in_term(term), of_teachers(Appointment.teacher_id, teacher_ids))
        .order_by(Appointment.teacher_id, SchoolClass.code)
    )
    out: dict[int, AppointmentFacts] = defaultdict(AppointmentFacts)
    for a in rows:
        f = out[a.teacher_id]
        if a.code not in f.class_codes:
            f.class_codes.append(a.code)
        f.periods.append((a.start_date, a.ended_on or a.end_date))
        # The model's own rule, applied to the row (it reads status, ended_on, start_date).
        f.ended_within_first_year |= Appointment.ended_within_first_year(a)  # type: ignore[arg-type]
        f.trained &= a.trained
    return dict(out)


def eligible_students(
    session: Session, term: Term, teacher_ids: Collection[int] | None
) -> dict[int, int]:
    """teacher id → distinct students in the classes they headed in the term."""
    rows = session.execute(
        select(Appointment.teacher_id, func.count(distinct(class_members.c.student_id)))
        .join(class_members, class_members.c.class_id == Appointment.class_id)
        .where(active_in_term(term), of_teachers(Appointment.teacher_id, teacher_ids))
        .group_by(Appointment.teacher_id)
    )
    return dict(rows.all())


def open_round_ballots(
    session: Session, term: Term, teacher_ids: Collection[int]
) -> dict[int, list[tuple[int, str, int]]]:
    """teacher id → (round id, survey title, ballots so far) for each round of the term still
    open; every teacher of the term gets every open round, with 0 when nobody answered yet."""
    rounds = session.execute(
        select(SurveyRound.id, SurveyRound.definition)
        .where(SurveyRound.term_id == term.id, SurveyRound.closed_at.is_(None))
        .order_by(SurveyRound.id)
    ).all()
    if not rounds:
        return {}
    counts = {
        (round_id, teacher_id): n
        for round_id, teacher_id, n in session.execute(
            select(Ballot.round_id, Ballot.teacher_id, func.count())
            .where(Ballot.round_id.in_([r.id for r in rounds]), Ballot.teacher_id.in_(teacher_ids))
            .group_by(Ballot.round_id, Ballot.teacher_id)
        )
    }
    return {
        tid: [
            (r.id, (r.definition or {}).get("title", ""), counts.get((r.id, tid), 0))
            for r in rounds
        ]
        for tid in teacher_ids
    }


@dataclass
class ResponseSums:
    """Sums over one teacher's responses in the counted rounds."""

    responses: int = 0
    scored: int = 0
    score_sum: float = 0.0
    score_sq_sum: float = 0.0
    top_box_yes: int = 0
    top_box_n: int = 0
    straight_lined: int = 0
    too_fast: int = 0


def _flag_count(column):
    return func.sum(case((column.is_(True), 1), else_=0))


def response_sums(
    session: Session, round_ids: Collection[int], teacher_ids: Collection[int] | None
) -> dict[int, ResponseSums]:
    """teacher id → sums over their responses in ``round_ids`` (one grouped query)."""
    if not round_ids:
        return {}
    rows = session.execute(
        select(
            Response.teacher_id,
            func.count(),
            func.count(Response.score),
            func.sum(Response.score),
            func.sum(Response.score * Response.score),
            _flag_count(Response.top_box),
            func.count(Response.top_box),
            _flag_count(Response.straight_lined),
            _flag_count(Response.too_fast),
        )
        .where(Response.round_id.in_(round_ids), of_teachers(Response.teacher_id, teacher_ids))
        .group_by(Response.teacher_id)
    )
    out = {}
    for tid, n, scored, s, sq, tb_yes, tb_n, straight, fast in rows:
        out[tid] = ResponseSums(
            responses=n,
            scored=scored,
            score_sum=float(s or 0.0),
            score_sq_sum=float(sq or 0.0),
            top_box_yes=int(tb_yes or 0),
            top_box_n=tb_n,
            straight_lined=int(straight or 0),
            too_fast=int(fast or 0),
        )
    return out


def kind_value(kind: object) -> str:
    """A kind column's value as a plain string (an enum member, or the stored text)."""
    return str(getattr(kind, "value", kind))


def _counts_by_kind(
    session: Session, teacher, kind, *conditions, join: tuple = ()
) -> dict[int, dict[str, int]]:
    """teacher id → kind value → rows meeting ``conditions`` (``join``: the table to join to
    ``teacher``'s, and how), counted by the database."""
    query = select(teacher, kind, func.count())
    if join:
        query = query.join(*join)
    rows = session.execute(query.where(*conditions).group_by(teacher, kind))
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for tid, value, n in rows:
        out[tid][kind_value(value)] = n
    return dict(out)


def log_counts(
    session: Session, term: Term, teacher_ids: Collection[int] | None
) -> dict[int, dict[str, int]]:
    """teacher id → LogKind value → entries dated in the term."""
    return _counts_by_kind(
        session,
        WorkLogEntry.teacher_id,
        WorkLogEntry.kind,
        of_teachers(WorkLogEntry.teacher_id, teacher_ids),
        WorkLogEntry.occurred_on.between(term.start_date, term.end_date),
    )


def meeting_counts(
    session: Session, term: Term, teacher_ids: Collection[int] | None
) -> dict[int, dict[str, int]]:
    """teacher id → MeetingKind value → meetings attended, held within the term's dates."""
    return _counts_by_kind(
        session,
        meeting_attendance.c.teacher_id,
        Meeting.kind,
        of_teachers(meeting_attendance.c.teacher_id, teacher_ids),
        Meeting.held_on.between(term.start_date, term.end_date),
        join=(Meeting, Meeting.id == meeting_attendance.c.meeting_id),
    )


def incident_counts(
    session: Session, term: Term, teacher_ids: Collection[int] | None
) -> dict[int, dict[str, int]]:
    """teacher id → IncidentKind value → incidents recorded for the term."""
    return _counts_by_kind(
        session,
        Incident.teacher_id,
        Incident.kind,
        Incident.term_id == term.id,
        of_teachers(Incident.teacher_id, teacher_ids),
    )


def corroboration_counts(
    session: Session,
    round_id: int,
    questions: Sequence[tuple[str, Collection[int]]],
    teacher_ids: Collection[int] | None,
) -> dict[int, list[tuple[int, int]]]:
    """teacher id → per question of ``questions`` ((question id, yes option numbers), in that
    order): (respondents who answered it, those who answered yes). One grouped query for all the
    round's corroborating questions.

    A join of the round's responses with just those questions' answers, grouped by teacher
    only (a few thousand groups, hashed in memory); outer, so every teacher with a response in
    the round has a row, as before. It reads each wanted answer once; a scalar
    subquery per response and question cost an index probe each, 5x slower for a whole school.
    (response_id, question_id) is unique, so a respondent counts at most once per question."""
    if not questions:
        return {}
    aggregates = []
    for question_id, yes in questions:
        asked = Answer.question_id == question_id
        aggregates.append(func.count(case((asked, Answer.choice))))
        confirmed = and_(asked, Answer.choice.in_(list(yes))) if yes else None
        aggregates.append(
            func.sum(case((confirmed, 1), else_=0)) if confirmed is not None else func.sum(0)
        )
    rows = session.execute(
        select(Response.teacher_id, *aggregates)
        # Outer: a teacher whose respondents skipped every such question still gets (0, 0).
        .outerjoin(
            Answer,
            and_(
                Answer.response_id == Response.id,
                Answer.question_id.in_([q for q, _yes in questions]),
            ),
        )
        .where(Response.round_id == round_id, of_teachers(Response.teacher_id, teacher_ids))
        .group_by(Response.teacher_id)
    )
    out = {}
    for tid, *values in rows:
        out[tid] = [
            (int(values[2 * i] or 0), int(values[2 * i + 1] or 0)) for i in range(len(questions))
        ]
    return out


def dismissals_since(
    session: Session, teacher_ids: Collection[int], since: dt.date
) -> dict[int, list[dt.date]]:
    """teacher id → days they were dismissed (解聘, not 辞职) on or after ``since``."""
    rows = session.execute(
        select(Appointment.teacher_id, Appointment.ended_on).where(
            Appointment.teacher_id.in_(teacher_ids),
            Appointment.status == AppointmentStatus.DISMISSED,
            or_(Appointment.ended_on >= since),
        )
    )
    out: dict[int, list[dt.date]] = defaultdict(list)
    for tid, day in rows:
        out[tid].append(day)
    return dict(out)
