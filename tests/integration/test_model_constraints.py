"""Rules the database itself enforces, on both backends, whatever the code above it does."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.exc import IntegrityError

from models import (
    AppointmentStatus,
    Ballot,
    Grade,
    Survey,
    SurveyRound,
    TermEvaluation,
    WeChatBinding,
)
from tests.factories import (
    make_appointment,
    make_class,
    make_student,
    make_teacher,
    make_term,
)


def assert_rejected(session, *rows) -> None:
    session.add_all(rows)
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def make_round(session) -> SurveyRound:
    term = make_term(session)
    survey = Survey(id="satisfaction", title="满意度测评", method="mean_score", definition={})
    session.add(survey)
    session.flush()
    r = SurveyRound(term_id=term.id, survey_id=survey.id, definition={})
    session.add(r)
    session.flush()
    return r


def test_one_ballot_per_student_per_teacher_per_round(session):
    r = make_round(session)
    student, teacher, other = make_student(session), make_teacher(session), make_teacher(session)
    day = dt.date(2026, 10, 1)
    session.add(
        Ballot(round_id=r.id, student_id=student.id, teacher_id=teacher.id, submitted_on=day)
    )
    # The same student may rate another teacher in the same round.
    session.add(Ballot(round_id=r.id, student_id=student.id, teacher_id=other.id, submitted_on=day))
    session.commit()
    assert_rejected(
        session,
        Ballot(round_id=r.id, student_id=student.id, teacher_id=teacher.id, submitted_on=day),
    )


def test_one_evaluation_per_teacher_per_term(session):
    term, teacher = make_term(session), make_teacher(session)
    session.add(TermEvaluation(term_id=term.id, teacher_id=teacher.id, computed_grade=Grade.GOOD))
    session.commit()
    assert_rejected(
        session,
        TermEvaluation(term_id=term.id, teacher_id=teacher.id, computed_grade=Grade.PASS),
    )


def test_student_numbers_are_unique(session):
    make_student(session, student_no="2026010101")
    session.commit()
    with pytest.raises(IntegrityError):
        make_student(session, student_no="2026010101")
    session.rollback()


def test_staff_numbers_are_unique(session):
    make_teacher(session, staff_no="T1101")
    session.commit()
    with pytest.raises(IntegrityError):
        make_teacher(session, staff_no="T1101")
    session.rollback()


def test_a_binding_names_exactly_one_person(session):
    student, teacher = make_student(session), make_teacher(session)
    session.commit()
    assert_rejected(
        session, WeChatBinding(openid="o-both", student_id=student.id, teacher_id=teacher.id)
    )
    assert_rejected(session, WeChatBinding(openid="o-neither"))
    session.add(WeChatBinding(openid="o-student", student_id=student.id))
    session.commit()
    # One openid per person, one person per openid.
    assert_rejected(session, WeChatBinding(openid="o-again", student_id=student.id))
    assert_rejected(session, WeChatBinding(openid="o-student", teacher_id=teacher.id))


@pytest.mark.parametrize(
    ("status", "ended_on", "allowed"),
    [
        (AppointmentStatus.APPOINTED, None, True),
        (AppointmentStatus.APPOINTED, dt.date(2026, 12, 1), False),
        (AppointmentStatus.DISMISSED, dt.date(2026, 12, 1), True),
        (AppointmentStatus.DISMISSED, None, False),
        (AppointmentStatus.RESIGNED, dt.date(2026, 12, 1), True),
        (AppointmentStatus.RESIGNED, None, False),
        (AppointmentStatus.APPLIED, dt.date(2026, 12, 1), False),
    ],
)
def test_appointment_has_ended_on_iff_dismissed_or_resigned(session, status, ended_on, allowed):
    teacher, school_class = make_teacher(session), make_class(session)
    session.commit()
    if allowed:
        make_appointment(
            session, teacher=teacher, school_class=school_class, status=status, ended_on=ended_on
        )
        session.commit()
        return
    with pytest.raises(IntegrityError):
        make_appointment(
            session, teacher=teacher, school_class=school_class, status=status, ended_on=ended_on
        )
    session.rollback()


def test_appointment_ends_after_it_starts(session):
    teacher, school_class = make_teacher(session), make_class(session)
    session.commit()
    with pytest.raises(IntegrityError):
        make_appointment(
            session,
            teacher=teacher,
            school_class=school_class,
            start_date=dt.date(2026, 9, 1),
            end_date=dt.date(2026, 9, 1),
        )
    session.rollback()
