"""Issue 11: anonymity that holds against the database itself.

A round is played through ``/wechat`` (students answering interleaved over several simulated
days, some replies going out late as customer-service messages), then closed. Someone holding
the database and the list of who answered then tries the linking attacks of the issue (rowid /
ctid / xmin / dump order / id order / same day); the true mapping is known to the test only
(each student's comment carries a marker of their own). Each attack must link no more than
chance + 0.15. A second check reads every table and column during the open round and after
close: no answer beside an openid or a student id, and nothing readable before close.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import secrets
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Date, DateTime, inspect, select, text

import core.db
from core.db import begin_write
from core.outbox import drain
from core.surveys.rounds import after_close, close_round, open_round, register_survey
from core.surveys.seal_key import SealError
from core.surveys.submission import store_submission
from models import Answer, Ballot, Response, SealedEnvelope, SurveyDraft, SurveyRound
from surveys.definition import load_survey_file
from tests.conftest import TEST_SEAL_KEY, make_settings
from tests.factories import (
    make_appointment,
    make_class,
    make_department,
    make_student,
    make_teacher,
    make_term,
)
from tests.integration.survey_school import SATISFACTION, bind
from tests.support.celery_worker import settings_env

TERM = "2026-2027-1"
TEACHERS = 3
PER_TEACHER = 16
DAYS = 5
HEADER = re.compile(r"关于 (?P<name>\S+?)老师（[^）]*）的测评 (?P<pos>\d+)/(?P<total>\d+)")
MARGIN = 0.15
CLI = [sys.executable, "-c", "from bot.cli import main; main()"]


@dataclass
class Person:
    index: int
    student_id: int
    student_no: str
    openid: str
    teacher_id: int
    day: int
    # Unique per student: the test's only key to who wrote what.
    marker: str = field(default_factory=lambda: f"意见{secrets.token_hex(6)}")
    reply: str | None = None
    done: bool = False
    choices: dict[str, int] = field(default_factory=dict)


def build(session) -> tuple[list[Person], object]:
    make_term(session, code=TERM, start_date=dt.date(2026, 9, 1), end_date=dt.date(2027, 1, 20))
    dep = make_department(session, name="音乐学院党总支")
    rng = random.Random(11)
    people: list[Person] = []
    for t in range(TEACHERS):
        cls = make_class(session, code=f"A{t}", name=f"班{t}", department=dep, entry_year=2024)
        teacher = make_teacher(session, name=f"老师{t}", department=dep)
        make_appointment(session, teacher=teacher, school_class=cls)
        for _ in range(PER_TEACHER):
            s = make_student(session, classes=[cls])
            openid = f"o-anon-{len(people):03d}-{secrets.token_hex(3)}"
            bind(session, s, openid)
            people.append(
                Person(len(people), s.id, s.student_no, openid, teacher.id, rng.randrange(DAYS))
            )
    definition = load_survey_file(SATISFACTION)
    register_survey(session, definition)
    session.commit()
    return people, definition


def next_text(p: Person, definition, rng: random.Random) -> str:
    if p.reply is None:
        return "测评"
    if "请核对关于" in p.reply:
        return "确认"
    m = HEADER.search(p.reply)
    assert m, p.reply
    question_line = p.reply[m.end() :].split("\n")[1]
    q = next(q for q in definition.questions if q.text == question_line)
    if not q.is_choice:
        return p.marker
    n = rng.randint(1, len(q.options))
    p.choices[q.id] = n
    return str(n)


def play(wechat, people: list[Person], definition, start: dt.datetime, monkeypatch) -> None:
    """Each day, that day's students answer in an interleaved, shuffled order; a few of them
    have their summary shown again late (it moves nothing, so it goes out as a customer-service
    message)."""
    import bot.wechat.webhook as webhook

    rng = random.Random(20261120)
    late = {p.index for p in rng.sample(people, 4)}
    for day in range(DAYS):
        clock = start + dt.timedelta(days=day, hours=rng.randrange(8))
        active = [p for p in people if p.day == day]
        while active:
            for p in rng.sample(active, len(active)):
                said = next_text(p, definition, rng)
                if said == "确认" and p.index in late:
                    late.discard(p.index)
                    clock += dt.timedelta(seconds=30)
                    with monkeypatch.context() as m:
                        m.setattr(webhook, "LATE_SECONDS", -1.0)
                        assert send(wechat, p.openid, "测评", clock) == ""
                clock += dt.timedelta(seconds=rng.randrange(5, 60))
                p.reply = send(wechat, p.openid, said, clock)
                if said == "确认":
                    assert p.reply.startswith("已提交"), p.reply
                    p.done = True
            active = [p for p in active if not p.done]
    assert all(p.done for p in people)


def send(wechat, openid: str, content: str, when: dt.datetime) -> str:
    import bot.wechat.webhook as webhook

    msg_id = random.getrandbits(62)
    created = int(when.timestamp())
    # The school's clock (arrival time, not CreateTime) dates a ballot: set it to the simulated
    # day so that the students really answer on several days.
    real_clock = webhook.utcnow
    webhook.utcnow = lambda: when
    try:
        first = wechat.reply_of(wechat.post(*wechat.sim.text(openid, content, msg_id, created)))
        # WeChat's retry (same MsgId) gets the same reply, even one that quotes answers.
        retry = wechat.reply_of(wechat.post(*wechat.sim.text(openid, content, msg_id, created)))
    finally:
        webhook.utcnow = real_clock
    assert retry == first
    return first


def dump(session) -> dict[str, list[dict]]:
    """Every row of every table, as the database holds it."""
    out = {}
    for table in sorted(inspect(session.get_bind()).get_table_names()):
        if table == "alembic_version":
            continue
        rows = session.execute(text(f'SELECT * FROM "{table}"')).mappings().all()
        out[table] = [dict(r) for r in rows]
    return out


def as_text(value) -> str:
    """A stored value as text to search, JSON text unescaped (SQLite stores JSON columns with
    \\u escapes)."""
    import json

    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.dumps(json.loads(value), ensure_ascii=False)
        except ValueError:
            return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def tables_holding(tables: dict[str, list[dict]], needles: list[str]) -> dict[str, int]:
    found: dict[str, int] = defaultdict(int)
    for table, rows in tables.items():
        for row in rows:
            blob = " ".join(as_text(v) for v in row.values())
            found[table] += sum(1 for n in needles if n in blob)
    return {t: n for t, n in found.items() if n}


PERSONAL = ("student", "openid")


def check_nothing_beside_a_person(tables, people: list[Person]) -> None:
    """No row of a table that names a person (an openid or student id column) holds any answer
    text, and no such table has a column that could hold an answer."""
    markers = [p.marker for p in people]
    for table, rows in tables.items():
        if not rows or not any(any(k in c for k in PERSONAL) for c in rows[0]):
            continue
        for row in rows:
            blob = " ".join(as_text(v) for v in row.values())
            assert not any(m in blob for m in markers), table
            assert "请核对关于" not in blob, table
        assert not {"choice", "score", "answer", "answers", "text"} & set(rows[0]), table


def test_linking_attacks_fail_and_nothing_is_stored_beside_a_person(
    wechat, wechat_settings, fake_wechat_api, monkeypatch
):
    with core.db.SessionFactory() as session:
        people, definition = build(session)
        rnd = open_round(session, TERM, "satisfaction", today=dt.date(2026, 11, 20))
        session.commit()
        round_id = rnd.id
    assert drain(60)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=DAYS + 1)
    play(wechat, people, definition, start, monkeypatch)
    assert drain(60)

    by_marker = {p.marker: p for p in people}
    markers = list(by_marker)
    # The late summaries reached the students, whole.
    late_texts = [t for p in people for t in fake_wechat_api.texts_to(p.openid) if "请核对" in t]
    assert len(late_texts) == 4 and all(any(m in t for m in markers) for t in late_texts)

    # --- while the round is open: nothing readable anywhere --------------------------------
    with core.db.SessionFactory() as session:
        tables = dump(session)
        assert tables_holding(tables, markers) == {}
        assert tables_holding(tables, ["请核对关于"]) == {}
        assert tables["responses"] == [] and tables["answers"] == []
        assert len(tables["sealed_envelopes"]) == len(people)
        assert len(tables["ballots"]) == len(people)
        # The sealed replies (for WeChat's retries) and the blanked customer-service messages.
        assert any((r["reply"] or "").startswith("sealed:") for r in tables["received_messages"])
        sealed_out = [m for m in tables["outbound_messages"] if "blanked" in as_text(m["payload"])]
        assert len(sealed_out) >= 4
        check_nothing_beside_a_person(tables, people)
        # Envelopes are all the same size: a comment's length does not show.
        assert len({len(bytes(e["sealed"])) for e in tables["sealed_envelopes"]}) == 1

    # --- close ----------------------------------------------------------------------------
    with core.db.SessionFactory() as session:
        close_round(session, TERM, "satisfaction", settings=wechat_settings)
        session.commit()
        after_close(session)

    with core.db.SessionFactory() as session:
        tables = dump(session)
        assert tables["sealed_envelopes"] == [] and tables["survey_drafts"] == []
        # Answer texts are in answers only, each once.
        assert tables_holding(tables, markers) == {"answers": len(people)}
        check_nothing_beside_a_person(tables, people)
        # Exactly what was confirmed, per teacher.
        truth = true_mapping(session, by_marker)
        assert len(truth) == len(people)
        for rid, p in truth.items():
            got = {
                a.question_id: a.choice
                for a in session.scalars(select(Answer).where(Answer.response_id == rid))
                if a.choice is not None
            }
            assert got == p.choices
            assert session.get(Response, rid).teacher_id == p.teacher_id
        results = attacks(session, truth, round_id)

    chance = TEACHERS / len(people)
    print(f"\nchance {chance:.3f}; attacks: {results}")
    for name, linked in results.items():
        assert linked <= chance + MARGIN, (name, linked, chance)


def true_mapping(session, by_marker: dict[str, Person]) -> dict[str, Person]:
    rows = session.execute(
        select(Answer.response_id, Answer.text).where(Answer.question_id == "comment")
    ).all()
    return {rid: by_marker[t] for rid, t in rows}


def _pair_by_order(ballot_order, response_order, truth) -> float:
    """Per teacher, the i-th ballot is guessed to be the i-th response."""
    ballots_by_teacher: dict[int, list[int]] = defaultdict(list)
    for student_id, teacher_id in ballot_order:
        ballots_by_teacher[teacher_id].append(student_id)
    responses_by_teacher: dict[int, list[str]] = defaultdict(list)
    for rid, teacher_id in response_order:
        responses_by_teacher[teacher_id].append(rid)
    right = 0
    for teacher_id, students in ballots_by_teacher.items():
        for student_id, rid in zip(students, responses_by_teacher[teacher_id], strict=True):
            right += truth[rid].student_id == student_id
    return right / len(truth)


def attacks(session, truth: dict[str, Person], round_id: int) -> dict[str, float]:
    pg = session.get_bind().dialect.name == "postgresql"
    results: dict[str, float] = {}
    by_ballot_id = session.execute(
        select(Ballot.student_id, Ballot.teacher_id).order_by(Ballot.id)
    ).all()
    # Response ids are random: sorting by them is as good as any order.
    results["id order"] = _pair_by_order(
        by_ballot_id,
        session.execute(select(Response.id, Response.teacher_id).order_by(Response.id)).all(),
        truth,
    )
    comment_of = {
        rid: tid
        for rid, tid in session.execute(
            select(Answer.response_id, Response.teacher_id).join(Response)
        ).all()
    }
    physical = "ctid" if pg else "rowid"
    results[f"{physical} order"] = _pair_by_order(
        session.execute(
            text(f"SELECT student_id, teacher_id FROM ballots ORDER BY {physical}")
        ).all(),
        session.execute(text(f"SELECT id, teacher_id FROM responses ORDER BY {physical}")).all(),
        truth,
    )
    results[f"answers {physical} order"] = _pair_by_order(
        session.execute(
            text(f"SELECT student_id, teacher_id FROM ballots ORDER BY {physical}")
        ).all(),
        [
            (rid, comment_of[rid])
            for (rid,) in session.execute(
                text(
                    "SELECT response_id FROM answers WHERE question_id = 'comment' "
                    f"ORDER BY {physical}"
                )
            ).all()
        ],
        truth,
    )
    # Dump order: what a plain scan (and pg_dump / sqlite .dump) returns, no ORDER BY.
    results["dump order"] = _pair_by_order(
        session.execute(text("SELECT student_id, teacher_id FROM ballots")).all(),
        session.execute(text("SELECT id, teacher_id FROM responses")).all(),
        truth,
    )
    if pg:
        # Rows written in one transaction share an xmin.
        xmin_pairs = session.execute(
            text(
                "SELECT b.student_id, r.id FROM ballots b JOIN responses r "
                "ON r.xmin::text = b.xmin::text AND r.teacher_id = b.teacher_id"
            )
        ).all()
        results["xmin"] = sum(truth[rid].student_id == sid for sid, rid in xmin_pairs) / len(truth)
    # Same day: responses carry no date or time to match against the ballot's day.
    dated = [
        c["name"]
        for c in inspect(session.get_bind()).get_columns("responses")
        if isinstance(c["type"], Date | DateTime)
    ]
    assert dated == []
    days: dict[tuple[int, dt.date], list[int]] = defaultdict(list)
    for sid, tid, day in session.execute(
        select(Ballot.student_id, Ballot.teacher_id, Ballot.submitted_on)
    ):
        days[(tid, day)].append(sid)
    assert len({d for (_t, d) in days}) > 1  # the students did answer on several days
    results["same day"] = 0.0
    assert round_id
    return results


# --- nothing lost ----------------------------------------------------------------------------


def _submit_many(session, settings, round_id: int, people: list[Person], n: int) -> list:
    """``n`` confirmed submissions straight through the dialogue's storage function."""
    sent = []
    for i in range(n):
        p = people[i % len(people)]
        answers = [
            {"question_id": "care", "choice": 1 + i % 4, "score": float(100 - 20 * (i % 4)),
             "text": None},
            {"question_id": "comment", "choice": None, "score": None, "text": f"第{i}份"},
        ]  # fmt: skip
        stored = store_submission(
            session,
            settings,
            round_id=round_id,
            student_id=p.student_id,
            teacher_id=p.teacher_id,
            submitted_on=dt.date(2026, 11, 20),
            response={"score": answers[0]["score"], "top_box": None, "straight_lined": False,
                      "too_fast": False},
            answers=answers,
        )  # fmt: skip
        assert stored or i >= len(people)
        if stored:
            sent.append((p.teacher_id, 1 + i % 4, f"第{i}份"))
    return sent


def test_a_thousand_submissions_open_exactly_as_confirmed(session, settings):
    people, _definition = build(session)
    # More students, so that 1,000 distinct (student, teacher) ballots exist.
    from models import SchoolClass

    cls = session.scalars(select(SchoolClass)).first()
    teacher_id = people[0].teacher_id
    for i in range(1000 - len(people)):
        s = make_student(session, classes=[cls])
        people.append(Person(len(people), s.id, s.student_no, f"o-many-{i}", teacher_id, 0))
    rnd = open_round(session, TERM, "satisfaction", today=dt.date(2026, 11, 20))
    session.commit()
    assert drain(60)  # the round's notices are out (their sessions closed)
    sent = _submit_many(session, settings, rnd.id, people, 1000)
    session.commit()
    assert len(sent) == 1000
    assert session.query(SealedEnvelope).count() == 1000
    session.commit()
    begin_write(session)  # as the command does
    close_round(session, TERM, "satisfaction", settings=settings)
    session.commit()
    after_close(session)
    got = sorted((r.teacher_id, a_choice, a_text) for r, a_choice, a_text in _opened(session))
    assert got == sorted(sent)
    assert session.query(SealedEnvelope).count() == 0


def _opened(session):
    out = []
    for r in session.scalars(select(Response)):
        by_q = {a.question_id: a for a in r.answers}
        out.append((r, by_q["care"].choice, by_q["comment"].text))
    return out


def test_restart_between_submission_and_close_loses_nothing(session, settings, db_url):
    """Submissions through one app; the app (and its engine) goes away; a new process (the
    ``banzhuren`` command) closes the round and opens every envelope."""
    from bot import create_app

    people, _definition = build(session)
    rnd = open_round(session, TERM, "satisfaction", today=dt.date(2026, 11, 20))
    session.commit()
    assert drain(60)  # the round's notices are out (their sessions closed)
    create_app(settings)
    with core.db.SessionFactory() as s:
        sent = _submit_many(s, settings, rnd.id, people, len(people))
        s.commit()
    session.close()
    core.db.get_engine().dispose()  # the app's connections go, as when its process ends

    env = {**settings_env(settings), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [*CLI, "round", "status", "--term", TERM, "--survey",
         "satisfaction"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"密封答卷和草稿 {len(people)} 份，当前密钥可打开 {len(people)} 份" in done.stdout
    done = subprocess.run(
        [*CLI, "round", "close", "--term", TERM, "--survey",
         "satisfaction"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with core.db.SessionFactory() as s:
        got = sorted((r.teacher_id, c, t) for r, c, t in _opened(s))
    assert got == sorted(sent)


# --- the key ---------------------------------------------------------------------------------


def test_a_process_with_the_wrong_key_refuses_to_start(session, settings, db_url):
    from bot import create_app
    from core.surveys.seal_key import generate_key

    people, _definition = build(session)
    rnd = open_round(session, TERM, "satisfaction", today=dt.date(2026, 11, 20))
    session.commit()
    assert drain(60)  # the round's notices are out (their sessions closed)
    _submit_many(session, settings, rnd.id, people, 3)
    session.commit()
    wrong = make_settings(db_url, seal_key=generate_key())
    with pytest.raises(SealError, match="0/3 份可打开"):
        create_app(wrong)
    # After a rotation the old key, given as the previous one, still opens them.
    rotated = make_settings(db_url, seal_key=generate_key(), seal_previous_key=TEST_SEAL_KEY)
    create_app(rotated)
    # Closing with a key that opens nothing changes nothing.
    with pytest.raises(Exception, match="无法打开本轮测评的密封答卷"):
        close_round(session, TERM, "satisfaction", settings=wrong)
    session.rollback()
    assert session.get(SurveyRound, rnd.id).closed_at is None
    close_round(session, TERM, "satisfaction", settings=rotated)
    session.commit()
    assert session.query(Response).count() == 3
    assert session.query(SurveyDraft).count() == 0


def test_init_writes_a_private_key_file(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    # A database of its own: what is tested is the key file beside it, on any backend.
    url = f"sqlite:///{tmp_path / 'school.db'}"
    env = {
        "BANZHUREN_DATABASE_URL": url,
        "BANZHUREN_SECRET_KEY": "x" * 32,
        "BANZHUREN_SEAL_KEY": "",
    }
    result = CliRunner().invoke(main, ["init"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    key = tmp_path / "banzhuren-seal.key"
    assert key.exists() and (key.stat().st_mode & 0o777) == 0o600
    first = key.read_text()
    CliRunner().invoke(main, ["init"], env=env, catch_exceptions=False)
    assert key.read_text() == first  # never replaced
    # The key file is what a process without BANZHUREN_SEAL_KEY seals with.
    from core.settings import load_settings
    from core.surveys.seal import seal, unseal

    loaded = load_settings({"BANZHUREN_DATABASE_URL": url, "BANZHUREN_SECRET_KEY": "x" * 32})
    assert unseal(loaded, seal(loaded, {"a": 1}, "t"), "t") == {"a": 1}


# --- differencing ----------------------------------------------------------------------------


def test_one_more_submission_changes_nothing_per_question_while_open(
    session, settings, client, monkeypatch
):
    """A teacher's page, the API and the exports, before and after one more submission to an
    open round (evaluation re-run in between): no per-question figure, comment, satisfaction,
    rate or grade changes; only the open round's own progress may."""
    from click.testing import CliRunner

    from bot.cli import main
    from core.evaluation.run import evaluate_term
    from models import Student, Survey, UserRole
    from tests.integration.survey_chat import Chat
    from tests.support.dashboard import (
        SURVEY,
        build_world,
        login,
        make_token,
        make_user,
        show_all_comments,
    )

    world = build_world(session)
    make_user(session, "xsc", UserRole.AFFAIRS)
    token = make_token(session, make_user(session, "api", UserRole.AFFAIRS))
    second = dict(SURVEY, id="satisfaction_2")
    session.add(Survey(id="satisfaction_2", title="第二轮", method="mean_score", definition=second))
    session.flush()
    session.add(SurveyRound(term_id=world.term.id, survey_id="satisfaction_2", definition=second))
    students = session.scalars(
        select(Student).where(Student.student_no.like("A%")).order_by(Student.id)
    ).all()
    for i, s in enumerate(students[:2]):
        bind(session, s, f"o-diff-{i}")
    session.commit()
    login(client, "xsc")
    term, staff_no = "2026-2027-1", world.teacher_a.staff_no

    in_progress: list = []
    in_progress_table: list[str] = []

    def report(fmt: str) -> str:
        env = {
            "BANZHUREN_DATABASE_URL": settings.database_url,
            "BANZHUREN_SECRET_KEY": "x" * 32,
            "BANZHUREN_SEAL_KEY": TEST_SEAL_KEY,
        }
        done = CliRunner().invoke(main, ["report", "--term", term, "--format", fmt], env=env)
        assert done.exit_code == 0, done.output
        if fmt == "json":
            # Its open-round progress may move; nothing else may.
            import json

            rows = json.loads(done.output)
            for row in rows:
                in_progress.append([(r["status"], r["answered"]) for r in row.pop("open_rounds")])
            return json.dumps(rows, sort_keys=True, ensure_ascii=False)
        # The terminal table lists the open round's progress in a section of its own, which
        # may move; the rest may not.
        head, _sep, rest = done.output.partition("\n进行中的测评")
        if _sep:
            section, _blank, tail = rest.partition("\n\n")
            in_progress_table.append(section)
            return head + tail
        return done.output

    def snapshot() -> dict:
        evaluate_term(term, settings.min_respondents)
        headers = {"Authorization": f"Bearer {token}"}
        api = client.get(f"/api/v1/terms/{term}/teachers/{staff_no}", headers=headers).get_json()
        rows = client.get(f"/api/v1/terms/{term}/evaluations", headers=headers).get_json()
        for row in [api["evaluation"], *rows]:
            # The open round's own progress (进行中, its live rate) is allowed to move.
            (row.get("details") or {}).pop("open_rounds", None)
            row.pop("open_rounds", None)
        page = client.get(f"/dashboard/teachers/{world.teacher_a.id}?term={term}")
        csv = client.get(f"/dashboard/download/evaluation.csv?term={term}")
        assert page.status_code == csv.status_code == 200
        return {
            "api": api,
            "rows": rows,
            # The logout form's CSRF token is signed with the time: not the page's content.
            "page": re.sub(r'csrf_token" value="[^"]*"', "", page.get_data(as_text=True)),
            "csv": csv.get_data(),
            "table": report("table"),
            "json": report("json"),
        }

    def submit(i: int, comment: str) -> None:
        chat = Chat(session, settings, f"o-diff-{i}", student_id=students[i].id)
        assert "1/2" in chat.say("测评")
        assert "2/2" in chat.say("3")  # 不满意: would pull the mean down
        assert chat.say(comment).startswith("请核对")
        assert chat.say("确认").startswith("已提交")

    submit(0, "第一条新意见")
    before = snapshot()
    assert "A意见0" in before["page"]  # the closed round's comments are shown
    # The open round is listed as 进行中 with its progress (teacher A: 1 answered so far).
    assert [("进行中", 1)] in in_progress
    submit(1, "第二条新意见")
    after = snapshot()
    assert [("进行中", 2)] in in_progress
    assert len(in_progress_table) == 2 and in_progress_table[0] != in_progress_table[1]
    for name in before:
        assert after[name] == before[name], name
    assert "新意见" not in after["page"] and "新意见" not in str(after["api"])
    # Closing the second round makes both submissions count, at once.
    close_round(session, term, "satisfaction_2", settings=settings)
    session.commit()
    # Student Affairs shows the new comments (core.comments: none reach a page unreviewed).
    show_all_comments(session, world.term)
    closed = snapshot()
    assert "第一条新意见" in closed["page"] and "第二条新意见" in closed["page"]
    assert closed["api"]["respondents"] == before["api"]["respondents"] + 2


def test_beat_closes_rounds_past_their_closing_day(session, settings):
    from core.surveys.rounds import close_due_rounds

    people, _definition = build(session)
    rnd = open_round(
        session, TERM, "satisfaction", closes_on=dt.date(2026, 11, 25), today=dt.date(2026, 11, 20)
    )
    session.commit()
    assert drain(60)
    sent = _submit_many(session, settings, rnd.id, people, 5)
    session.commit()
    session.close()
    assert close_due_rounds(settings, today=dt.date(2026, 11, 25)) == []  # its last day
    assert close_due_rounds(settings, today=dt.date(2026, 11, 26)) == [rnd.id]
    with core.db.SessionFactory() as s:
        assert s.get(SurveyRound, rnd.id).closed_at is not None
        assert sorted((r.teacher_id, c, t) for r, c, t in _opened(s)) == sorted(sent)
        assert s.query(SealedEnvelope).count() == 0
    assert close_due_rounds(settings, today=dt.date(2026, 11, 27)) == []


def test_a_quoting_reply_is_kept_sealed_in_redis(session, db_url, redis_url, redis_prefix):
    """With Redis, the reply kept for WeChat's retries is sealed too; the retry unseals it."""
    import redis

    from bot.wechat import dedup
    from core.redis_client import rkey

    s = make_settings(db_url, redis_url=redis_url, redis_prefix=redis_prefix)
    summary = "请核对关于 王明老师的回答：\n1. 关心学生：非常满意"
    dedup.publish_reply(s, "m-quoting", dedup.quoting(summary))
    dedup.publish_reply(s, "m-plain", "已暂停")
    client = redis.Redis.from_url(redis_url)
    try:
        import json

        stored = json.loads(client.get(rkey(s, "wechat", "msg", "m-quoting")))["reply"]
        assert "非常满意" not in stored and stored.startswith("sealed:")
        plain = json.loads(client.get(rkey(s, "wechat", "msg", "m-plain")))["reply"]
        assert plain == "已暂停"
    finally:
        client.close()
    retry = dedup.claim(session, s, "m-quoting", wait_s=0)
    assert not retry.owned and retry.reply == summary
    # Without the key, the retry gets ``success`` rather than anything readable.
    other = make_settings(db_url, redis_url=redis_url, redis_prefix=redis_prefix,
                          seal_key="b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktMzI=")  # fmt: skip
    assert dedup.claim(session, other, "m-quoting", wait_s=0).reply == ""
