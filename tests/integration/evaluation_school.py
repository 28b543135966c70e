"""Building terms with answered surveys, logs, meetings and incidents for the evaluation tests
(shared by test_evaluation, test_evaluation_worker and test_reports)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from models import (
    Answer,
    AppointmentStatus,
    ClassKind,
    Incident,
    IncidentKind,
    LogKind,
    Meeting,
    MeetingKind,
    Response,
    Survey,
    SurveyRound,
    Teacher,
    Term,
    WorkLogEntry,
)
from surveys.definition import SurveyDefinition, load_survey_file, parse_survey
from tests.factories import (
    make_appointment,
    make_class,
    make_department,
    make_student,
    make_teacher,
    make_term,
)

SATISFACTION_YAML = Path(__file__).resolve().parents[2] / "surveys" / "satisfaction.yaml"


def satisfaction_definition() -> SurveyDefinition:
    return load_survey_file(SATISFACTION_YAML)


def top_box_definition() -> SurveyDefinition:
    data = satisfaction_definition().to_dict()
    data["id"] = "satisfaction_tb"
    data["method"] = "top_box"
    data["top_box"] = {"question": "overall", "labels": ["非常满意", "满意"]}
    return parse_survey(data)


def open_round(session: Session, term: Term, definition: SurveyDefinition) -> SurveyRound:
    if session.get(Survey, definition.id) is None:
        session.add(
            Survey(
                id=definition.id,
                title=definition.title,
                method=definition.method,
                definition=definition.to_dict(),
            )
        )
        session.flush()
    r = SurveyRound(term_id=term.id, survey_id=definition.id, definition=definition.to_dict())
    session.add(r)
    session.flush()
    return r


def add_response(
    session: Session,
    round_: SurveyRound,
    teacher: Teacher,
    score: float | None,
    *,
    top_box: bool | None = None,
    answers: dict[str, int] | None = None,
    straight_lined: bool = False,
    too_fast: bool = False,
    day: dt.date = dt.date(2026, 12, 20),
) -> Response:
    # Responses exist only once their round has closed (its envelopes opened).
    if round_.closed_at is None:
        round_.closed_at = dt.datetime.combine(day, dt.time(12), dt.UTC)
    r = Response(
        round_id=round_.id,
        teacher_id=teacher.id,
        score=score,
        top_box=top_box,
        straight_lined=straight_lined,
        too_fast=too_fast,
    )
    r.answers = [Answer(question_id=q, choice=c) for q, c in (answers or {}).items()]
    session.add(r)
    return r


def add_logs(
    session: Session, teacher: Teacher, kind: LogKind, n: int, day: dt.date = dt.date(2026, 10, 8)
) -> None:
    for _ in range(n):
        session.add(WorkLogEntry(teacher_id=teacher.id, kind=kind, occurred_on=day, raw=kind.label))


@dataclass
class Scenario:
    """A small term whose expected results are worked out by hand in the tests."""

    term: Term
    round: SurveyRound
    teachers: dict[str, Teacher] = field(default_factory=dict)


def build_scenario(session: Session) -> Scenario:
    """Four cases on one term (2026-09-01 to 2027-01-20):

    - ``good``: 6 students, 5 answered (100, 80, 80, 100, 60 → 84.0 优秀); logged 2 talks and a
      dorm visit that no student confirms; 1 staff meeting + 1 training in the term, one
      meeting before it; trained.
    - ``weak``: 4 students, 2 answered (40, 60 → 50.0); no logs; not trained.
    - ``short``: resigned on 2026-11-01 after starting on 2026-09-01, a serious incident, no
      survey round answers; logged one class meeting. Months Sep–Nov.
    - ``two``: two classes (3 + 2 students, one student in both), answers 80 ×4 → 80.0 优秀, an
      "other" incident.
    Also a rejected appointment and one from the previous year, neither evaluated.
    """
    term = make_term(session)
    rnd = open_round(session, term, satisfaction_definition())
    dep_a = make_department(session, name="管弦系党总支")
    dep_b = make_department(session, name="声乐歌剧系党总支")
    s = Scenario(term=term, round=rnd)

    good = s.teachers["good"] = make_teacher(session, name="张老师", department=dep_a)
    c = make_class(session, department=dep_a, code="GX2025-1")
    for _ in range(6):
        make_student(session, classes=[c])
    make_appointment(session, teacher=good, school_class=c)
    for score in (100, 80, 80, 100, 60):
        add_response(session, rnd, good, score, answers={"dorm_visited": 2, "talked": 1})
    add_logs(session, good, LogKind.TALK, 2)
    add_logs(session, good, LogKind.DORM_VISIT, 1)
    add_logs(session, good, LogKind.TALK, 1, day=dt.date(2026, 8, 20))  # before the term
    staff = Meeting(kind=MeetingKind.STAFF_MEETING, held_on=dt.date(2026, 10, 9), title="例会")
    training = Meeting(kind=MeetingKind.TRAINING, held_on=dt.date(2026, 9, 10), title="培训")
    old = Meeting(kind=MeetingKind.STAFF_MEETING, held_on=dt.date(2026, 6, 1), title="旧例会")
    for m in (staff, training, old):
        m.attendees = [good]
        session.add(m)

    weak = s.teachers["weak"] = make_teacher(session, name="李老师", department=dep_a)
    c = make_class(session, department=dep_a, code="GX2025-2")
    for _ in range(4):
        make_student(session, classes=[c])
    make_appointment(session, teacher=weak, school_class=c, trained=False)
    for score in (40, 60):
        add_response(session, rnd, weak, score)

    short = s.teachers["short"] = make_teacher(session, name="王老师", department=dep_b)
    c = make_class(session, department=dep_b, code="SY2025-1")
    make_student(session, classes=[c])
    make_appointment(
        session,
        teacher=short,
        school_class=c,
        status=AppointmentStatus.RESIGNED,
        ended_on=dt.date(2026, 11, 1),
    )
    add_logs(session, short, LogKind.CLASS_MEETING, 1)
    session.add(
        Incident(
            teacher_id=short.id,
            term_id=term.id,
            kind=IncidentKind.SERIOUS,
            occurred_on=dt.date(2026, 10, 20),
            description="学生安全事故处置失当",
            recorded_by="声乐歌剧系党总支",
        )
    )

    two = s.teachers["two"] = make_teacher(session, name="赵老师", department=dep_b)
    c1 = make_class(session, department=dep_b, code="SY2025-2")
    c2 = make_class(session, department=dep_b, code="SY2025-3", kind=ClassKind.ENSEMBLE)
    shared = make_student(session, classes=[c1, c2])
    make_student(session, classes=[c1])
    make_student(session, classes=[c1])
    make_student(session, classes=[c2])
    assert shared.id
    make_appointment(session, teacher=two, school_class=c1)
    make_appointment(session, teacher=two, school_class=c2, start_date=dt.date(2026, 10, 15))
    for _ in range(4):
        add_response(session, rnd, two, 80)
    add_logs(session, two, LogKind.HOME_VISIT, 1)
    session.add(
        Incident(
            teacher_id=two.id,
            term_id=term.id,
            kind=IncidentKind.OTHER,
            occurred_on=dt.date(2026, 12, 1),
            description="多次无故缺席例会",
            recorded_by="学生处",
        )
    )

    rejected = s.teachers["rejected"] = make_teacher(session, name="钱老师", department=dep_a)
    make_appointment(session, teacher=rejected, status=AppointmentStatus.REJECTED)
    past = s.teachers["past"] = make_teacher(session, name="孙老师", department=dep_a)
    make_appointment(session, teacher=past, start_date=dt.date(2025, 8, 1))
    session.commit()
    return s


@dataclass
class RandomTerm:
    term: Term
    round: SurveyRound
    # (teacher id, score, top_box) per response, as stored
    responses: list[tuple[int, float | None, bool | None]]
    eligible: dict[int, int]


def build_random_term(
    session: Session,
    rng: random.Random,
    method: str = "mean_score",
    teachers: int = 12,
    departments: int = 3,
    code: str = "2026-2027-1",
) -> RandomTerm:
    """Teachers with random class sizes, random answer rates and random scores."""
    term = make_term(session, code=code)
    definition = satisfaction_definition() if method == "mean_score" else top_box_definition()
    rnd = open_round(session, term, definition)
    deps = [make_department(session) for _ in range(departments)]
    responses = []
    eligible = {}
    for i in range(teachers):
        dep = deps[i % departments]
        teacher = make_teacher(session, department=dep)
        c = make_class(session, department=dep)
        size = rng.randint(1, 25)
        for _ in range(size):
            make_student(session, classes=[c])
        eligible[teacher.id] = size
        make_appointment(session, teacher=teacher, school_class=c)
        add_logs(session, teacher, LogKind.TALK, rng.randint(0, 2))
        for _ in range(rng.randint(0, size)):
            score = rng.choice([None, *[rng.choice([0, 60, 80, 100]) for _ in range(8)]])
            if score is not None and rng.random() < 0.5:
                score = rng.choice([0, 60, 80, 100]) * 0.5 + score * 0.5 + rng.random()
            top = rng.random() < 0.7 if method == "top_box" else None
            add_response(session, rnd, teacher, score, top_box=top)
            responses.append((teacher.id, score, top))
    session.commit()
    return RandomTerm(term, rnd, responses, eligible)
