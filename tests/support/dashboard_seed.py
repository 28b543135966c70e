"""A whole term of a made-up school, inserted in bulk (a few seconds for 3,000 students), for
the dashboard's browser test and ``bench/dashboard.py``.

Evaluation rows are inserted directly with the policy's thresholds (第十五条), so the dashboard
can be exercised without running the evaluation; they are test data, not the evaluation's
output.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.orm import Session

from models import (
    Answer,
    Appointment,
    AppointmentStatus,
    Ballot,
    Department,
    Grade,
    LogKind,
    Meeting,
    MeetingKind,
    Response,
    SchoolClass,
    Student,
    Survey,
    SurveyRound,
    Teacher,
    TeacherRole,
    Term,
    TermEvaluation,
    WorkLogEntry,
    class_members,
    meeting_attendance,
)

DEPARTMENTS = (
    "管弦系党总支",
    "声乐歌剧系党总支",
    "钢琴系党总支",
    "作曲与指挥系党总支",
    "音乐学系党总支",
    "现代音乐系党总支",
)
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕"
OPTIONS = [
    {"label": "非常满意", "score": 100},
    {"label": "满意", "score": 80},
    {"label": "基本满意", "score": 60},
    {"label": "不满意", "score": 0},
]
QUESTIONS = [
    ("care", "班主任经常深入学生中，关心了解我们的学习和生活"),
    ("guidance", "班主任对我们的专业学习和艺术实践给予指导"),
    ("meetings", "班主任定期召开班会，班级凝聚力强"),
    ("dorm", "班主任经常走访寝室"),
    ("overall", "总体而言，我对班主任的工作"),
]
COMMENTS = [
    "希望多组织专业交流",
    "老师很负责",
    "班会可以再多一些",
    "感谢老师的关心",
    "希望多来寝室看看",
]
SURVEY_DEFINITION = {
    "id": "satisfaction",
    "title": "兼职班主任学生满意度测评",
    "method": "mean_score",
    "questions": [
        {"id": qid, "text": text, "type": "choice", "options": OPTIONS} for qid, text in QUESTIONS
    ]
    + [{"id": "comment", "text": "对班主任的意见和建议", "type": "text", "required": False}],
}


@dataclass
class SeededSchool:
    term_code: str
    department_ids: dict[str, int]
    teacher_ids: list[int]
    students: int


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _grade(satisfaction: float | None) -> Grade:
    if satisfaction is None or satisfaction < 60:
        return Grade.FAIL
    if satisfaction >= 80:
        return Grade.EXCELLENT
    return Grade.GOOD if satisfaction >= 70 else Grade.PASS


def seed_school(
    session: Session,
    *,
    students: int = 3000,
    class_size: int = 25,
    term_code: str = "2026-2027-1",
    seed: int = 7,
) -> SeededSchool:
    """Insert departments, classes, students, head teachers, appointments, a closed survey
    round with responses, work logs, meetings and evaluations for one term; commits."""
    rng = random.Random(seed)
    start = dt.date(int(term_code[:4]), 9, 1)
    end = dt.date(int(term_code[:4]) + 1, 1, 20)
    term = Term(code=term_code, start_date=start, end_date=end, evaluated_at=None)
    session.add(term)
    deps = [Department(name=n) for n in DEPARTMENTS]
    session.add_all(deps)
    survey = Survey(
        id="satisfaction",
        title=SURVEY_DEFINITION["title"],
        method="mean_score",
        definition=SURVEY_DEFINITION,
    )
    session.add(survey)
    session.flush()
    rnd = SurveyRound(
        term_id=term.id,
        survey_id=survey.id,
        definition=SURVEY_DEFINITION,
        closes_on=end - dt.timedelta(days=10),
        # Closed: responses exist only for closed rounds (their envelopes opened at close).
        closed_at=dt.datetime.combine(end - dt.timedelta(days=9), dt.time(12), dt.UTC),
    )
    session.add(rnd)
    session.flush()

    n_classes = -(-students // class_size)
    teacher_rows, class_rows = [], []
    for i in range(n_classes):
        dep = deps[i % len(deps)]
        teacher_rows.append(
            {
                "staff_no": f"T{i + 1:05d}",
                "name": _name(rng),
                "department_id": dep.id,
                "role": TeacherRole.HEAD_TEACHER,
                "binding_code": f"{rng.randrange(10**6):06d}",
            }
        )
    session.execute(insert(Teacher), teacher_rows)
    teacher_ids = list(
        session.scalars(
            Teacher.__table__.select().with_only_columns(Teacher.id).order_by(Teacher.id)
        )
    )
    for i in range(n_classes):
        dep = deps[i % len(deps)]
        year = 2023 + i % 4
        class_rows.append(
            {
                "code": f"{year}{i + 1:03d}",
                "name": f"{dep.name[:-3]}{year}级{i // len(deps) + 1}班",
                "department_id": dep.id,
                "entry_year": year,
                "years": 4,
            }
        )
    session.execute(insert(SchoolClass), class_rows)
    class_ids = list(
        session.scalars(
            SchoolClass.__table__.select()
            .with_only_columns(SchoolClass.id)
            .order_by(SchoolClass.id)
        )
    )
    session.execute(
        insert(Appointment),
        [
            {
                "teacher_id": t,
                "class_id": c,
                "start_date": start,
                "end_date": start.replace(year=start.year + 1),
                "trained": rng.random() > 0.05,
                "status": AppointmentStatus.APPOINTED,
            }
            for t, c in zip(teacher_ids, class_ids, strict=True)
        ],
    )
    session.execute(
        insert(Student),
        [
            {
                "student_no": f"{2023 + (i // class_size) % 4}{i + 1:06d}",
                "name": _name(rng),
                "binding_code": f"{rng.randrange(10**6):06d}",
            }
            for i in range(students)
        ],
    )
    student_ids = list(
        session.scalars(
            Student.__table__.select().with_only_columns(Student.id).order_by(Student.id)
        )
    )
    session.execute(
        insert(class_members),
        [
            {"class_id": class_ids[i // class_size], "student_id": s}
            for i, s in enumerate(student_ids)
        ],
    )

    # Answers: each teacher has a "quality" and a response rate; a few get almost no answers.
    ballots, responses, answers = [], [], []
    per_teacher: dict[int, list[float]] = {t: [] for t in teacher_ids}
    quality = {t: rng.betavariate(5, 1.6) for t in teacher_ids}
    rate = {t: rng.choice((0.1, 0.6, 0.8, 0.9, 0.95)) for t in teacher_ids}
    for i, student_id in enumerate(student_ids):
        teacher_id = teacher_ids[i // class_size]
        if rng.random() > rate[teacher_id]:
            continue
        day = end - dt.timedelta(days=rng.randrange(10, 30))
        ballots.append(
            {
                "round_id": rnd.id,
                "student_id": student_id,
                "teacher_id": teacher_id,
                "submitted_on": day,
            }
        )
        response_id = uuid.uuid4().hex
        scores = []
        for qid, _ in QUESTIONS:
            choice = 1 if rng.random() < quality[teacher_id] else rng.choice((2, 2, 3, 4))
            score = float(OPTIONS[choice - 1]["score"])
            scores.append(score)
            answers.append(
                {
                    "response_id": response_id,
                    "question_id": qid,
                    "choice": choice,
                    "score": score,
                    "text": None,
                }
            )
        if rng.random() < 0.2:
            answers.append(
                {
                    "response_id": response_id,
                    "question_id": "comment",
                    "choice": None,
                    "score": None,
                    "text": rng.choice(COMMENTS),
                }
            )
        mean = sum(scores) / len(scores)
        per_teacher[teacher_id].append(mean)
        responses.append(
            {
                "id": response_id,
                "round_id": rnd.id,
                "teacher_id": teacher_id,
                "score": mean,
                "top_box": None,
                "straight_lined": len(set(scores)) == 1,
                "too_fast": False,
            }
        )
    session.execute(insert(Ballot), ballots)
    session.execute(insert(Response), responses)
    session.execute(insert(Answer), answers)

    kinds = [
        LogKind.TALK,
        LogKind.CLASS_MEETING,
        LogKind.DORM_VISIT,
        LogKind.HOME_VISIT,
        LogKind.EMPLOYMENT,
    ]
    logs: dict[int, dict[str, int]] = {t: {} for t in teacher_ids}
    entries = []
    for t in teacher_ids:
        for _ in range(0 if rng.random() < 0.04 else rng.randrange(3, 25)):
            kind = rng.choice(kinds)
            logs[t][kind.value] = logs[t].get(kind.value, 0) + 1
            day = start + dt.timedelta(days=rng.randrange((end - start).days))
            text = {
                "talk": "与学生谈心，了解专业学习情况",
                "class_meeting": "学风建设主题班会",
                "dorm_visit": "走访寝室，卫生良好",
                "home_visit": "电话家访",
                "employment": "就业指导",
            }[kind.value]
            entries.append(
                {
                    "teacher_id": t,
                    "kind": kind,
                    "occurred_on": day,
                    "text": text,
                    "raw": text,
                    "source": "text",
                }
            )
    session.execute(insert(WorkLogEntry), entries)

    meetings_attended = {t: 0 for t in teacher_ids}
    for dep in deps:
        dep_teachers = [
            t
            for t, row in zip(teacher_ids, teacher_rows, strict=True)
            if row["department_id"] == dep.id
        ]
        for month in (9, 10, 11, 12):
            meeting = Meeting(
                department_id=dep.id,
                kind=MeetingKind.STAFF_MEETING,
                held_on=dt.date(start.year, month, 15),
                title=f"{month}月兼职班主任工作例会",
            )
            session.add(meeting)
            session.flush()
            present = [t for t in dep_teachers if rng.random() < 0.85]
            for t in present:
                meetings_attended[t] += 1
            if present:
                session.execute(
                    insert(meeting_attendance),
                    [{"meeting_id": meeting.id, "teacher_id": t} for t in present],
                )

    eligible = {t: 0 for t in teacher_ids}
    for i in range(students):
        eligible[teacher_ids[i // class_size]] += 1
    evaluations = []
    for t, row, class_row in zip(teacher_ids, teacher_rows, class_rows, strict=True):
        scores = per_teacher[t]
        satisfaction = sum(scores) / len(scores) if scores else None
        grade = _grade(satisfaction)
        reasons = []
        if satisfaction is None:
            reasons.append("没有学生参加满意度测评")
        elif satisfaction < 60:
            reasons.append("学生满意度低于 60%")
        if not logs[t]:
            grade = Grade.FAIL
            reasons.append("本学期没有工作日志（没有很好履行工作职责）")
        flags = ["答卷少于5份"] if len(scores) < 5 else []
        evaluations.append(
            {
                "term_id": term.id,
                "teacher_id": t,
                "department_id": row["department_id"],
                "classes": class_row["name"],
                "respondents": len(scores),
                "eligible": eligible[t],
                "response_rate": len(scores) / eligible[t] if eligible[t] else None,
                "satisfaction": satisfaction,
                "computed_grade": grade,
                "reasons": reasons,
                "logs": logs[t],
                "meetings_attended": meetings_attended[t],
                "trainings_attended": 1,
                "flags": flags,
                "details": {},
                "months_in_office": 5,
                "allowance": 1500,
            }
        )
    session.execute(insert(TermEvaluation), evaluations)
    session.commit()
    return SeededSchool(
        term_code=term_code,
        department_ids={d.name: d.id for d in deps},
        teacher_ids=teacher_ids,
        students=students,
    )
