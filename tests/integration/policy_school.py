"""A past term (2025-09-01 to 2026-01-20, so every month rule is settled whatever today is) for
the policy-rule tests: training (第十二条), monthly branch meetings (第十四条), employment of a
final-year class (第八条（三）)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from models import (
    EmploymentOutcome,
    LogKind,
    Meeting,
    MeetingKind,
    SchoolClass,
    Teacher,
    Term,
)
from models.base import utcnow
from tests.factories import (
    make_appointment,
    make_class,
    make_department,
    make_student,
    make_teacher,
    make_term,
)
from tests.integration.evaluation_school import (
    add_logs,
    add_response,
    open_round,
    satisfaction_definition,
)

CODE = "2025-2026-1"
D = dt.date


@dataclass
class PolicySchool:
    term: Term
    teachers: dict[str, Teacher] = field(default_factory=dict)
    classes: dict[str, SchoolClass] = field(default_factory=dict)


def build_policy_school(session: Session) -> PolicySchool:
    """- 管弦系党总支 met on 9-10 (赵, 钱), 10-12 (赵), 12-05 (赵): November and January missed.
    - 声乐系党总支 met on 10-20 (孙) only: September, November, December, January missed.
    - The school's training on 2025-09-20 (孙 attended); 赵 attended a training on 2025-08-20,
      before the term.
    - 赵老师: final-year class G2022 (5 students: 签约, 研究生, 准备考研, two without outcome);
      not trained on the roster but attended the August training → 未参加本学期培训会 only.
    - 钱老师: not trained, attended no training → both training flags.
    - 孙老师: trained, attended the term's training; 6 of 8 students answered (an interval).
    """
    term = make_term(session, code=CODE, start_date=D(2025, 9, 1), end_date=D(2026, 1, 20))
    school = PolicySchool(term)
    dep_a = make_department(session, name="管弦系党总支")
    dep_b = make_department(session, name="声乐系党总支")
    final = school.classes["final"] = make_class(
        session, code="G2022", name="管弦2022级", department=dep_a, entry_year=2022
    )
    young = school.classes["young"] = make_class(
        session, code="G2024", name="管弦2024级", department=dep_a, entry_year=2024
    )
    vocal = school.classes["vocal"] = make_class(
        session, code="S2024", name="声乐2024级", department=dep_b, entry_year=2024
    )
    finals = [make_student(session, name=f"毕业生{i}", classes=[final]) for i in range(5)]
    for i in range(3):
        make_student(session, name=f"新生{i}", classes=[young])
    for i in range(8):
        make_student(session, name=f"声乐{i}", classes=[vocal])

    zhao = school.teachers["zhao"] = make_teacher(session, name="赵老师", department=dep_a)
    qian = school.teachers["qian"] = make_teacher(session, name="钱老师", department=dep_a)
    sun = school.teachers["sun"] = make_teacher(session, name="孙老师", department=dep_b)
    start = D(2025, 9, 1)
    make_appointment(session, teacher=zhao, school_class=final, start_date=start, trained=False)
    make_appointment(session, teacher=qian, school_class=young, start_date=start, trained=False)
    make_appointment(session, teacher=sun, school_class=vocal, start_date=start, trained=True)
    for t in (zhao, qian, sun):
        add_logs(session, t, LogKind.TALK, 2, day=D(2025, 10, 8))

    def meeting(dep, kind, day, title, who):
        m = Meeting(department_id=dep.id if dep else None, kind=kind, held_on=day, title=title)
        m.attendees = list(who)
        session.add(m)

    staff = MeetingKind.STAFF_MEETING
    meeting(dep_a, staff, D(2025, 9, 10), "九月例会", [zhao, qian])
    meeting(dep_a, staff, D(2025, 10, 12), "十月例会", [zhao])
    meeting(dep_a, staff, D(2025, 12, 5), "十二月例会", [zhao])
    meeting(dep_b, staff, D(2025, 10, 20), "声乐十月例会", [sun])
    meeting(None, MeetingKind.TRAINING, D(2025, 8, 20), "暑期岗前培训", [zhao])
    meeting(None, MeetingKind.TRAINING, D(2025, 9, 20), "秋季学期培训会", [sun])

    for student, outcome in zip(
        finals, ("已签约哈尔滨交响乐团", "考取中央音乐学院研究生", "准备考研"), strict=False
    ):
        session.add(
            EmploymentOutcome(
                student_id=student.id,
                teacher_id=zhao.id,
                outcome=outcome,
                recorded_on=D(2025, 12, 1),
            )
        )

    rnd = open_round(session, term, satisfaction_definition())
    for score in (90, 85, 80, 95, 70, 88):
        add_response(session, rnd, sun, score, day=D(2025, 12, 20))
    rnd.closed_at = utcnow()
    session.commit()
    return school
