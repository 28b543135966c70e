"""Helpers for dashboard and API tests: users, logging in through the real form, CSRF tokens."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.accounts import create_user, issue_token
from models import (
    Answer,
    Appointment,
    Department,
    Grade,
    LogKind,
    Response,
    SchoolClass,
    Survey,
    SurveyRound,
    Teacher,
    Term,
    TermEvaluation,
    User,
    UserRole,
    WorkLogEntry,
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

PASSWORD = "correct-horse-9"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_user(
    session: Session,
    username: str,
    role: UserRole = UserRole.AFFAIRS,
    department: Department | None = None,
    password: str = PASSWORD,
) -> User:
    user = create_user(session, username, password, role, department.id if department else None)
    session.commit()
    return user


def make_token(session: Session, user: User) -> str:
    token, _row = issue_token(session, user)
    session.commit()
    return token


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no csrf_token field on the page"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD):
    """Log in through the form (with its CSRF token); returns the POST's response."""
    token = csrf_from(client.get("/dashboard/login").get_data(as_text=True))
    return client.post(
        "/dashboard/login",
        data={"username": username, "password": password, "csrf_token": token},
    )


def post_form(client, page: str, action: str, data: dict, **kw):
    """Submit a form the way a browser does: read the CSRF token from ``page`` first."""
    token = csrf_from(client.get(page).get_data(as_text=True))
    return client.post(action, data={**data, "csrf_token": token}, **kw)


# --- a small two-department school --------------------------------------------------------

SURVEY = {
    "id": "satisfaction",
    "title": "兼职班主任学生满意度测评",
    "method": "mean_score",
    "questions": [
        {
            "id": "care",
            "text": "班主任关心我们的学习和生活",
            "type": "choice",
            "options": [
                {"label": "非常满意", "score": 100},
                {"label": "满意", "score": 80},
                {"label": "不满意", "score": 0},
            ],
        },
        {"id": "comment", "text": "意见和建议", "type": "text", "required": False},
    ],
}


@dataclass
class World:
    term: Term
    dep_a: Department
    dep_b: Department
    teacher_a: Teacher
    teacher_b: Teacher
    class_a: SchoolClass
    class_b: SchoolClass
    appointment_a: Appointment
    appointment_b: Appointment
    round: SurveyRound


def _responses(session: Session, rnd: SurveyRound, teacher: Teacher, scores, comment: str):
    for i, score in enumerate(scores):
        r = Response(round_id=rnd.id, teacher_id=teacher.id, score=score)
        r.answers.append(Answer(question_id="care", choice=1, score=score))
        r.answers.append(Answer(question_id="comment", text=f"{comment}{i}"))
        session.add(r)


def show_all_comments(session: Session, term: Term) -> None:
    """Student Affairs shows every pending comment of the term (any teacher); committed."""
    from core.comments.review import SHOWN, _comment_rows
    from models import CommentReview

    for answer_id, _text, _teacher, status in session.execute(_comment_rows(term.id)):
        if status is None:
            session.add(CommentReview(answer_id=answer_id, status=SHOWN))
    session.commit()


def build_world(
    session: Session, *, a_respondents: int = 6, b_respondents: int = 3, reviewed: bool = True
) -> World:
    """Two departments (钢琴系 = A, 管弦系 = B), one head teacher and class each, a survey round
    with responses (comments "A意见n" / "B意见n"), and stored evaluations; committed.
    ``reviewed``: Student Affairs has shown every comment (else they are all pending)."""
    term = make_term(session)
    dep_a = make_department(session, name="钢琴系党总支")
    dep_b = make_department(session, name="管弦系党总支")
    class_a = make_class(session, department=dep_a, code="GQ2025", name="钢琴2025级1班")
    class_b = make_class(session, department=dep_b, code="GX2025", name="管弦2025级1班")
    teacher_a = make_teacher(session, department_id=dep_a.id, staff_no="TA001", name="甲老师")
    teacher_b = make_teacher(session, department_id=dep_b.id, staff_no="TB001", name="乙老师")
    for i in range(a_respondents):
        make_student(session, classes=[class_a], student_no=f"A{i:04d}")
    for i in range(b_respondents):
        make_student(session, classes=[class_b], student_no=f"B{i:04d}")
    appointment_a = make_appointment(session, teacher=teacher_a, school_class=class_a)
    appointment_b = make_appointment(session, teacher=teacher_b, school_class=class_b)
    session.add(
        Survey(id="satisfaction", title=SURVEY["title"], method="mean_score", definition=SURVEY)
    )
    session.flush()
    # Closed: responses exist only for closed rounds (their envelopes opened at close).
    rnd = SurveyRound(
        term_id=term.id,
        survey_id="satisfaction",
        definition=SURVEY,
        # In the past: a round closed after the evaluation would make it stale (publishing).
        closed_at=utcnow() - dt.timedelta(hours=1),
    )
    session.add(rnd)
    session.flush()
    _responses(session, rnd, teacher_a, [100.0] * a_respondents, "A意见")
    _responses(session, rnd, teacher_b, [80.0] * b_respondents, "B意见")
    for teacher, dep, n, grade, cls in (
        (teacher_a, dep_a, a_respondents, Grade.EXCELLENT, class_a),
        (teacher_b, dep_b, b_respondents, Grade.PASS, class_b),
    ):
        session.add(
            TermEvaluation(
                term_id=term.id,
                teacher_id=teacher.id,
                department_id=dep.id,
                classes=cls.name,
                respondents=n,
                eligible=n,
                response_rate=1.0,
                satisfaction=100.0 if grade == Grade.EXCELLENT else 65.0,
                computed_grade=grade,
                logs={"talk": 2},
                flags=[] if n >= 5 else ["答卷少于5份"],
                months_in_office=5,
                allowance=1500,
            )
        )
    session.add(
        WorkLogEntry(
            teacher_id=teacher_a.id,
            kind=LogKind.TALK,
            occurred_on=dt.date(2026, 10, 8),
            text="与学生谈心",
            raw="谈心 与学生谈心",
        )
    )
    session.commit()
    if reviewed:
        show_all_comments(session, term)
    return World(
        term,
        dep_a,
        dep_b,
        teacher_a,
        teacher_b,
        class_a,
        class_b,
        appointment_a,
        appointment_b,
        rnd,
    )
