"""A small school for the survey tests: one term, classes in their first, third and final year,
head teachers appointed to them, students bound to WeChat, and the default questionnaire."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from core.surveys.rounds import register_survey
from models import AppointmentStatus, SchoolClass, Student, Teacher, Term, WeChatBinding
from surveys.definition import SurveyDefinition, load_survey_file
from tests.factories import (
    make_appointment,
    make_class,
    make_department,
    make_student,
    make_teacher,
    make_term,
)

SATISFACTION = Path(__file__).resolve().parents[2] / "surveys" / "satisfaction.yaml"
TERM = "2026-2027-1"


@dataclass
class School:
    term: Term
    definition: SurveyDefinition
    first_year: SchoolClass  # 钢琴2601班, entry 2026
    third_year: SchoolClass  # 声乐2401班, entry 2024
    final_year: SchoolClass  # 管弦2301班, entry 2023, 4 years
    wang: Teacher  # head teacher of the first-year class
    li: Teacher  # head teacher of the third-year class
    zhao: Teacher  # head teacher of the final-year class
    students: dict[str, Student] = field(default_factory=dict)
    openids: dict[str, str] = field(default_factory=dict)


def bind(session: Session, student: Student, openid: str) -> None:
    session.add(WeChatBinding(openid=openid, student_id=student.id))
    session.flush()


def make_school(session: Session) -> School:
    """Students: 小明 (first-year class and the third-year ensemble: rates 王 and 李), 小红
    (final-year), 小刚 (first-year, not bound), 小丽 (a class with no head teacher).

    Also a head teacher dismissed before the term (nobody rates him) and one who resigned in the
    term (his students still rate him)."""
    term = make_term(
        session, code=TERM, start_date=dt.date(2026, 9, 1), end_date=dt.date(2027, 1, 20)
    )
    dep = make_department(session, name="键盘系党总支")
    first = make_class(session, code="GQ2601", name="钢琴2601班", department=dep, entry_year=2026)
    third = make_class(session, code="SY2401", name="声乐2401班", department=dep, entry_year=2024)
    final = make_class(session, code="GX2301", name="管弦2301班", department=dep, entry_year=2023)
    lonely = make_class(
        session, code="YL2501", name="音乐学2501班", department=dep, entry_year=2025
    )
    wang = make_teacher(session, name="王明", staff_no="T001", department=dep)
    li = make_teacher(session, name="李华", staff_no="T002", department=dep)
    zhao = make_teacher(session, name="赵强", staff_no="T003", department=dep)
    gone = make_teacher(session, name="钱多", staff_no="T004", department=dep)
    make_appointment(session, teacher=wang, school_class=first, start_date=dt.date(2026, 9, 1))
    make_appointment(session, teacher=li, school_class=third, start_date=dt.date(2026, 3, 1))
    # Resigned in the term: still rated by the final-year class.
    make_appointment(
        session,
        teacher=zhao,
        school_class=final,
        start_date=dt.date(2026, 3, 1),
        status=AppointmentStatus.RESIGNED,
        ended_on=dt.date(2026, 10, 15),
    )
    # Dismissed before the term began: not rated.
    make_appointment(
        session,
        teacher=gone,
        school_class=lonely,
        start_date=dt.date(2025, 9, 1),
        status=AppointmentStatus.DISMISSED,
        ended_on=dt.date(2026, 6, 30),
    )
    definition = load_survey_file(SATISFACTION)
    register_survey(session, definition)
    school = School(term, definition, first, third, final, wang, li, zhao)
    for name, classes, openid in (
        ("小明", [first, third], "oid-xiaoming"),
        ("小红", [final], "oid-xiaohong"),
        ("小刚", [first], None),
        ("小丽", [lonely], "oid-xiaoli"),
    ):
        s = make_student(session, name=name, classes=classes)
        school.students[name] = s
        if openid:
            bind(session, s, openid)
            school.openids[name] = openid
    session.flush()
    return school
