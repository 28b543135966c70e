"""After a round, the stored answers cannot be tied to a student (DESIGN: Privacy and access).

The checks look at what is actually stored: the tables' columns and every value in them, the
order of ids, the dates, and the dialogue state left behind."""

from __future__ import annotations

import pytest
from sqlalchemy import Date, DateTime, inspect, select, text

import core.db
from models import Answer, Ballot, DialogueState, Response, SurveyDraft
from tests.conftest import make_settings
from tests.factories import make_student
from tests.integration.survey_chat import Chat, close, start_round
from tests.integration.survey_school import bind, make_school

STUDENTS = 10


def run_round(session, settings, school) -> list[tuple[str, str]]:
    """Ten students of the first-year class complete the survey, each with other answers."""
    people = []
    for i in range(STUDENTS):
        s = make_student(session, name=f"同学{i}", classes=[school.first_year])
        openid = f"oid-private-{i:02d}"
        bind(session, s, openid)
        people.append((s, openid))
    session.commit()
    rnd = start_round(session, school.term, school.definition)
    qids = [q.id for q in school.definition.questions_for(first_year=True, final_year=False)]
    for i, (s, openid) in enumerate(people):
        chat = Chat(session, settings, openid, student_id=s.id)
        chat.say("测评")
        for n, qid in enumerate(qids):
            q = school.definition.question(qid)
            chat.say(str((i + n) % len(q.options) + 1) if q.is_choice else f"建议{i}")
        assert chat.say("确认").startswith("已提交")
    close(session, settings, rnd)
    return [(s.student_no, openid) for s, openid in people]


def test_responses_hold_nothing_that_leads_to_a_student(session, settings):
    school = make_school(session)
    people = run_round(session, settings, school)
    engine = core.db.get_engine()
    insp = inspect(engine)

    response_cols = {c["name"] for c in insp.get_columns("responses")}
    answer_cols = {c["name"] for c in insp.get_columns("answers")}
    assert response_cols == {
        "id", "round_id", "teacher_id", "score", "top_box", "straight_lined", "too_fast",
    }  # fmt: skip
    assert answer_cols == {"id", "response_id", "question_id", "choice", "score", "text"}
    for cols in (response_cols, answer_cols):
        assert not any("student" in c or "openid" in c or c.endswith("_at") for c in cols)
    # No date or time at all (the round says when).
    for table in ("responses", "answers"):
        for c in insp.get_columns(table):
            assert not isinstance(c["type"], DateTime | Date), (table, c["name"])
    assert session.scalar(text("SELECT count(*) FROM responses")) == STUDENTS

    # No value anywhere in responses or answers holds a student number or an openid.
    dump = " ".join(
        str(v)
        for table in ("responses", "answers")
        for row in session.execute(text(f"SELECT * FROM {table}")).all()
        for v in row
    )
    for student_no, openid in people:
        assert student_no not in dump and openid not in dump


def test_ids_do_not_follow_the_ballots_order(session, settings):
    school = make_school(session)
    run_round(session, settings, school)
    ballots = session.scalars(select(Ballot).order_by(Ballot.id)).all()
    responses = session.scalars(select(Response).order_by(Response.id)).all()
    assert len(ballots) == len(responses) == STUDENTS
    # Ids are random strings, not a sequence.
    for r in responses:
        assert len(r.id) == 32 and not r.id.isdigit()
    answers = session.scalars(select(Answer)).all()
    assert all(len(a.id) == 32 and not a.id.isdigit() for a in answers)

    # Each respondent's comment says which of them it was (建议<i>, i = ballot order); sorting
    # responses or answers by id must not give back that order.
    def comment_order(rows):
        return [
            int(next(a.text for a in r.answers if a.question_id == "comment")[2:]) for r in rows
        ]

    assert comment_order(responses) != list(range(STUDENTS))
    by_answer_id = sorted((a for a in answers if a.question_id == "comment"), key=lambda a: a.id)
    assert [int(a.text[2:]) for a in by_answer_id] != list(range(STUDENTS))


def test_submitted_drafts_are_gone(session, settings):
    school = make_school(session)
    people = run_round(session, settings, school)
    keys = session.scalars(select(DialogueState.key)).all()
    for _, openid in people:
        assert f"survey:{openid}" not in keys
    assert keys == []
    assert session.scalars(select(SurveyDraft.openid)).all() == []


def test_submitted_drafts_are_gone_from_redis(session, db_url, redis_url, redis_prefix):
    import redis

    settings = make_settings(db_url, redis_url=redis_url, redis_prefix=redis_prefix)
    school = make_school(session)
    run_round(session, settings, school)
    client = redis.Redis.from_url(redis_url)
    try:
        assert list(client.scan_iter(f"{redis_prefix}:dialogue:*")) == []
    finally:
        client.close()
    assert session.scalars(select(DialogueState.key)).all() == []


@pytest.mark.parametrize("field", ["student_id", "openid", "student_no"])
def test_models_have_no_student_attribute(field):
    assert not hasattr(Response, field) and not hasattr(Answer, field)
