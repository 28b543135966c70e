"""Issue 4's done-criterion: 200 students complete the satisfaction survey through ``/wechat``
in safe mode, WeChat retrying every message once (same MsgId: the same reply is expected), and
the stored ballots and responses are exactly what was sent.

The students bind by chat, the round is opened with the service (its notices go through the
outbox to the fake WeChat API), and the conversations are interleaved: every student sends one
message (and its retry) in turn, as a busy evening would have it. The driver answers what the
bot asks: it reads the teacher and the question from each reply, so the test follows the
dialogue rather than assuming its order.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

import core.db
from core.outbox import drain
from core.surveys.rounds import close_round, open_round, round_progress, teachers_for_student
from models import Ballot, ClassKind, DialogueState, OutboundMessage, Response, Teacher
from surveys import scoring
from surveys.definition import SurveyDefinition
from tests.factories import (
    make_appointment,
    make_class,
    make_department,
    make_student,
    make_teacher,
    make_term,
)
from tests.integration.survey_school import SATISFACTION

pytestmark = pytest.mark.slow

STUDENTS = 200
PER_CLASS = 25
TERM = "2026-2027-1"
HEADER = re.compile(r"关于 (?P<name>\S+?)老师（[^）]*）的测评 (?P<pos>\d+)/(?P<total>\d+)")
INVALID = re.compile(r"^请回复 1-\d 的数字、字母或选项文字，例如 1")


@dataclass
class Student:
    index: int
    id: int
    student_no: str
    code: str
    openid: str
    teachers: set[str] = field(default_factory=set)
    # teacher name -> {question id: choice number | text | None}
    answers: dict[str, dict] = field(default_factory=dict)
    pending: str | None = None  # the answer to send after an invalid one
    done: bool = False


def build_school(session):
    """8 classes of 25 (first-year, final-year and others) with a head teacher each, one of
    them heading two classes; and an ensemble of 20 students from two classes with its own."""
    from core.surveys.rounds import register_survey
    from surveys.definition import load_survey_file

    term = make_term(
        session, code=TERM, start_date=dt.date(2026, 9, 1), end_date=dt.date(2027, 1, 20)
    )
    dep = make_department(session, name="音乐学院党总支")
    entry_years = [2026, 2026, 2023, 2023, 2024, 2024, 2025, 2025]
    names = ["王明", "李华", "赵强", "钱进", "孙丽", "周涛", "吴刚"]
    classes = [
        make_class(session, code=f"E{i}", name=f"班{i}", department=dep, entry_year=y)
        for i, y in enumerate(entry_years)
    ]
    teachers = [make_teacher(session, name=n, department=dep) for n in names]
    for i, c in enumerate(classes):
        make_appointment(session, teacher=teachers[min(i, 6)], school_class=c)
    ensemble = make_class(
        session,
        code="ENS",
        name="室内乐团",
        department=dep,
        entry_year=2024,
        kind=ClassKind.ENSEMBLE,
    )
    ens_teacher = make_teacher(session, name="郑乐", department=dep)
    make_appointment(session, teacher=ens_teacher, school_class=ensemble)
    students = []
    for i in range(STUDENTS):
        c = classes[i // PER_CLASS]
        member_of = [c, ensemble] if i % PER_CLASS < 10 and i // PER_CLASS in (0, 2) else [c]
        s = make_student(session, classes=member_of, binding_code=f"{i:06d}")
        students.append(Student(i, s.id, s.student_no, s.binding_code, f"o-e2e-{i:03d}"))
    definition = load_survey_file(SATISFACTION)
    register_survey(session, definition)
    session.commit()
    return term, definition, students


class Conversation:
    """Sends each message twice (WeChat's retry, same MsgId) and checks both replies match."""

    def __init__(self, wechat) -> None:
        self.wechat = wechat
        self.requests = 0

    def say(self, openid: str, text: str) -> str:
        sim = self.wechat.sim
        msg_id = random.getrandbits(62)
        created = int(dt.datetime.now(dt.UTC).timestamp())
        first = self.wechat.reply_of(self.wechat.post(*sim.text(openid, text, msg_id, created)))
        retry = self.wechat.reply_of(self.wechat.post(*sim.text(openid, text, msg_id, created)))
        self.requests += 2
        assert retry == first, (openid, text, first, retry)
        return first


def choose(rng: random.Random, definition: SurveyDefinition, qid: str) -> tuple[object, str]:
    """An answer (what should be stored) and how to say it: number, letter or label."""
    q = definition.question(qid)
    if not q.is_choice:
        if rng.random() < 0.3:
            return None, "跳过"
        text = (
            f"希望{rng.choice(['多开班会', '多来寝室', '多谈心', '继续保持'])}{rng.randint(1, 99)}"
        )
        return text, text
    n = rng.randint(1, len(q.options))
    how = rng.choice(["number", "letter", "label", "fullwidth"])
    said = {
        "number": str(n),
        "letter": "ABCDEFGH"[n - 1],
        "label": q.options[n - 1].label,
        "fullwidth": chr(ord("０") + n),
    }[how]
    return n, said


def step(conv: Conversation, st: Student, reply: str | None, definition, rng) -> str | None:
    """Send the student's next message given the last reply; returns the new reply."""
    if reply is None:
        return conv.say(st.openid, "测评")
    if "你已完成本轮全部测评" in reply:
        st.done = True
        return None
    if INVALID.match(reply):
        assert st.pending is not None
        said, st.pending = st.pending, None
        return conv.say(st.openid, said)
    m = HEADER.search(reply)
    if "请核对关于" in reply:
        return conv.say(st.openid, "确认")
    assert m, reply
    name = m.group("name")
    question_line = reply[m.end() :].split("\n")[1]
    qid = next(q.id for q in definition.questions if q.text == question_line)
    value, said = choose(rng, definition, qid)
    st.teachers.add(name)
    st.answers.setdefault(name, {})[qid] = value
    if definition.question(qid).is_choice and rng.random() < 0.05:
        st.pending = said  # a wrong answer first: the question is asked again
        return conv.say(st.openid, "9")
    return conv.say(st.openid, said)


def test_two_hundred_students_complete_the_survey_through_wechat(
    wechat, fake_wechat_api, wechat_settings
):
    # A session on the engine the app configured (the ``session`` fixture's engine was
    # replaced when the app was created).
    with core.db.SessionFactory() as session:
        run_and_check(session, wechat, fake_wechat_api, wechat_settings)


def run_and_check(session, wechat, fake_wechat_api, wechat_settings) -> None:
    term, definition, students = build_school(session)
    conv = Conversation(wechat)
    for st in students:
        assert "绑定成功" in conv.say(st.openid, f"绑定 {st.student_no} {st.code}")

    rnd = open_round(session, TERM, "satisfaction", closes_on=dt.date(2099, 1, 1))
    session.commit()
    assert drain(60)
    for st in students:
        (notice,) = fake_wechat_api.texts_to(st.openid)
        assert (
            "兼职班主任学生满意度测评（2026-2027-1）已开始" in notice and "回复「测评」" in notice
        )

    rng = random.Random(20261120)
    replies: dict[int, str | None] = {st.index: None for st in students}
    active = list(students)
    rounds = 0
    while active:
        rounds += 1
        assert rounds < 100, "conversations do not end"
        for st in active:
            replies[st.index] = step(conv, st, replies[st.index], definition, rng)
        active = [st for st in active if not st.done]

    # Every student rated exactly their head teachers.
    session.expire_all()
    for st in students:
        expected = {t.name for t in teachers_for_student(session, term, st.id)}
        assert st.teachers == expected, st.index
    pairs = sum(len(st.teachers) for st in students)
    assert pairs == STUDENTS + 20

    # Ballots: one per student and teacher, none twice.
    ballots = session.execute(select(Ballot.student_id, Ballot.teacher_id)).all()
    assert len(ballots) == len(set(ballots)) == pairs
    names = {t.name: t.id for t in session.scalars(select(Teacher))}
    expected_ballots = Counter(names[n] for st in students for n in st.teachers)
    assert Counter(t for _, t in ballots) == expected_ballots

    # A second 测评 says the answers are final.
    assert "答案已提交，不能再修改" in conv.say(students[0].openid, "测评")
    # Sealed until the round closes; closing opens exactly what was confirmed.
    assert session.scalar(select(func.count()).select_from(Response)) == 0
    session.commit()  # end the read: SQLite cannot turn an old read into a write
    close_round(session, TERM, "satisfaction", settings=wechat_settings)
    session.commit()

    # Responses: per teacher, exactly the answer sets that were sent, scored as sent.
    stored: dict[int, Counter] = {}
    stored_scores: dict[int, list] = {}
    for r in session.scalars(select(Response).where(Response.round_id == rnd.id)):
        got = frozenset(
            (a.question_id, a.choice if a.choice is not None else a.text) for a in r.answers
        )
        stored.setdefault(r.teacher_id, Counter())[got] += 1
        stored_scores.setdefault(r.teacher_id, []).append(r.score)
    sent: dict[int, Counter] = {}
    sent_scores: dict[int, list] = {}
    for st in students:
        for name, answers in st.answers.items():
            tid = names[name]
            sent.setdefault(tid, Counter())[frozenset(answers.items())] += 1
            sent_scores.setdefault(tid, []).append(scoring.respondent_score(definition, answers))
    assert stored == sent
    for tid in sent_scores:
        assert sorted(stored_scores[tid]) == pytest.approx(sorted(sent_scores[tid]))

    # Per-question tallies, the way a report reads them, equal what was sent.
    per_question = Counter()
    for st in students:
        for name, answers in st.answers.items():
            for qid, value in answers.items():
                per_question[(names[name], qid, value)] += 1
    stored_per_question = Counter(
        (tid, qid, value)
        for tid, counter in stored.items()
        for answer_set, n in counter.items()
        for qid, value in answer_set
        for _ in range(n)
    )
    assert stored_per_question == per_question

    assert all(row["rate"] == 1.0 for row in round_progress(session, rnd.id))
    assert session.scalar(select(func.count()).select_from(DialogueState)) == 0
    assert session.scalar(select(func.count()).select_from(OutboundMessage)) == STUDENTS
    print(f"\n{conv.requests} webhook requests")
