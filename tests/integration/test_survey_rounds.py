"""Survey rounds through the service and the ``banzhuren`` command line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import core.db
from bot.cli import main
from core.outbox import drain
from core.surveys.rounds import (
    RoundError,
    close_round,
    open_round,
    register_survey,
    round_progress,
    teachers_for_student,
)
from models import AuditLog, Ballot, OutboundMessage, Survey, SurveyRound
from surveys.definition import parse_survey
from tests.conftest import TEST_SEAL_KEY
from tests.integration.survey_school import SATISFACTION, TERM, make_school

TODAY = dt.date(2026, 11, 20)


def test_eligibility_follows_appointments_in_force_during_the_term(session):
    school = make_school(session)
    xm = teachers_for_student(session, school.term, school.students["小明"].id)
    assert [t.name for t in xm] == sorted(["王明", "李华"])
    wang = next(t for t in xm if t.name == "王明")
    assert wang.first_year and not wang.final_year
    assert wang.label == "王明老师（钢琴2601班）"
    li = next(t for t in xm if t.name == "李华")
    assert not li.first_year and not li.final_year
    # Resigned in the term: still rated; final-year class.
    (zhao,) = teachers_for_student(session, school.term, school.students["小红"].id)
    assert zhao.name == "赵强" and zhao.final_year
    # Dismissed before the term: nobody rates him.
    assert teachers_for_student(session, school.term, school.students["小丽"].id) == []


def test_register_survey_created_updated_unchanged(session):
    school = make_school(session)  # registers it once
    survey = session.get(Survey, "satisfaction")
    assert survey.version == 1 and survey.method == "mean_score"
    _, status = register_survey(session, school.definition)
    assert status == "unchanged"
    data = school.definition.to_dict()
    data["title"] = "新标题"
    _, status = register_survey(session, parse_survey(data))
    assert status == "updated"
    assert session.get(Survey, "satisfaction").version == 2


def test_open_round_snapshots_definition_and_notifies_bound_eligible_students(session):
    school = make_school(session)
    rnd = open_round(session, TERM, "satisfaction", closes_on=dt.date(2026, 12, 31), today=TODAY)
    assert rnd.definition == school.definition.to_dict()
    assert rnd.closes_on == dt.date(2026, 12, 31) and rnd.closed_at is None
    notified = session.scalars(
        select(OutboundMessage.openid).order_by(OutboundMessage.openid)
    ).all()
    # 小刚 is not bound; 小丽 has no head teacher to rate.
    assert notified == sorted([school.openids["小明"], school.openids["小红"]])
    msg = session.scalars(select(OutboundMessage)).first()
    assert "测评" in str(msg.payload) and "12月31日" in str(msg.payload)
    # A later edit of the survey does not change the open round.
    data = school.definition.to_dict()
    data["questions"] = data["questions"][:3]
    register_survey(session, parse_survey(data))
    assert len(session.get(SurveyRound, rnd.id).definition["questions"]) == len(
        school.definition.questions
    )
    assert (
        session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "round.open")
        )
        == 1
    )


def test_open_round_refusals(session):
    make_school(session)
    with pytest.raises(RoundError, match="学期 2030-2031-1 不存在"):
        open_round(session, "2030-2031-1", "satisfaction", today=TODAY)
    with pytest.raises(RoundError, match="问卷 nope 未注册"):
        open_round(session, TERM, "nope", today=TODAY)
    with pytest.raises(RoundError, match="截止日期 2026-11-01 已过"):
        open_round(session, TERM, "satisfaction", closes_on=dt.date(2026, 11, 1), today=TODAY)
    open_round(session, TERM, "satisfaction", today=TODAY)
    with pytest.raises(RoundError, match="已在进行中"):
        open_round(session, TERM, "satisfaction", today=TODAY)


def test_close_once_and_never_reopen(session, settings):
    school = make_school(session)
    with pytest.raises(RoundError, match="没有问卷 satisfaction 的测评轮次"):
        close_round(session, TERM, "satisfaction", settings=settings)
    rnd = open_round(session, TERM, "satisfaction", today=TODAY)
    close_round(session, TERM, "satisfaction", settings=settings)
    assert rnd.closed_at is not None
    with pytest.raises(RoundError, match=r"已于 .* 关闭"):
        close_round(session, TERM, "satisfaction", settings=settings)
    # A closed round's answers have been opened into anonymous responses: it cannot take more.
    before = session.scalar(select(func.count()).select_from(OutboundMessage))
    with pytest.raises(RoundError, match="不能重新开放"):
        open_round(session, TERM, "satisfaction", today=TODAY)
    assert rnd.closed_at is not None
    assert session.scalar(select(func.count()).select_from(OutboundMessage)) == before
    assert school.term


def test_students_with_every_teacher_rated_are_not_notified(session):
    school = make_school(session)
    # Ballots of an earlier round do not count; this one is of the round being opened,
    # written between an open that lapsed and its extension.
    rnd = open_round(session, TERM, "satisfaction", closes_on=dt.date(2026, 11, 21), today=TODAY)
    before = session.scalar(select(func.count()).select_from(OutboundMessage))
    session.add(
        Ballot(
            round_id=rnd.id,
            student_id=school.students["小红"].id,
            teacher_id=school.zhao.id,
            submitted_on=TODAY,
        )
    )
    session.flush()
    open_round(
        session,
        TERM,
        "satisfaction",
        closes_on=dt.date(2026, 12, 30),
        today=TODAY + dt.timedelta(days=5),
    )
    # 小明 is told again; 小红 has rated her only teacher.
    assert session.scalar(select(func.count()).select_from(OutboundMessage)) == before + 1


def test_round_past_its_closing_day_may_be_extended(session):
    make_school(session)
    open_round(session, TERM, "satisfaction", closes_on=dt.date(2026, 11, 25), today=TODAY)
    later = dt.date(2026, 11, 30)
    rnd = open_round(session, TERM, "satisfaction", closes_on=dt.date(2026, 12, 15), today=later)
    assert rnd.closes_on == dt.date(2026, 12, 15)


def test_round_progress_counts_eligible_and_answered_per_teacher(session):
    school = make_school(session)
    rnd = open_round(session, TERM, "satisfaction", today=TODAY)
    session.add(
        Ballot(
            round_id=rnd.id,
            student_id=school.students["小明"].id,
            teacher_id=school.wang.id,
            submitted_on=TODAY,
        )
    )
    session.flush()
    rows = {r["teacher"]: r for r in round_progress(session, rnd.id)}
    assert set(rows) == {"王明", "李华", "赵强"}
    assert (rows["王明"]["eligible"], rows["王明"]["answered"], rows["王明"]["rate"]) == (2, 1, 0.5)
    assert (rows["李华"]["eligible"], rows["李华"]["answered"]) == (1, 0)
    assert rows["赵强"]["eligible"] == 1
    with pytest.raises(RoundError):
        round_progress(session, 999999)


# --- command line ----------------------------------------------------------------------------


def fresh_session():
    """A session on the engine the command configured. The test's ``session`` must not be used
    after a command: it is bound to the engine the command replaced."""
    return core.db.SessionFactory()


@pytest.fixture
def cli(db_url):
    runner = CliRunner()

    env = {
        "BANZHUREN_DATABASE_URL": db_url,
        "BANZHUREN_SECRET_KEY": "test-secret" * 32,
        "BANZHUREN_SEAL_KEY": TEST_SEAL_KEY,
    }

    def run(*args):
        try:
            return runner.invoke(main, list(args), env=env, catch_exceptions=False)
        finally:
            # Notifications go out on the embedded sender's thread: let it finish.
            assert drain()

    return run


def test_cli_survey_load_ok_and_problems(cli, db_url, tmp_path: Path):
    result = cli("survey", "load", str(SATISFACTION))
    assert result.exit_code == 0, result.output
    assert "问卷 satisfaction（兼职班主任学生满意度测评）已导入" in result.output
    assert "无变化" in cli("survey", "load", str(SATISFACTION)).output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: x\ntitle: t\nmethod: median\nquestions:\n"
        "  - {id: a, text: 关心, type: slider}\n"
        "  - {id: b, text: 总体, options: [{label: 好}]}\n",
        encoding="utf-8",
    )
    result = cli("survey", "load", str(bad))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 3, lines
    assert all(line.startswith(f"{bad}: ") for line in lines)
    assert any("method 'median' 未知" in line for line in lines)
    assert any("第 1 题（a）：题型 'slider' 未知" in line for line in lines)
    assert any("第 2 题（b）：计分题的选项 '好' 缺少 score" in line for line in lines)
    with fresh_session() as s:
        assert s.get(Survey, "x") is None
        assert s.get(Survey, "satisfaction") is not None
    syntax = tmp_path / "syntax.yaml"
    syntax.write_text("id: x\nquestions: [\n", encoding="utf-8")
    result = cli("survey", "load", str(syntax))
    assert result.exit_code == 1 and "YAML 语法错误，第 " in result.output


def test_cli_round_open_close(cli, session, db_url, tmp_path, monkeypatch):
    make_school(session)
    session.commit()
    session.close()
    # No key at all (no variable, no key file in the working directory): refused up front.
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main,
        ["round", "open", "--term", TERM, "--survey", "satisfaction"],
        env={
            "BANZHUREN_DATABASE_URL": db_url,
            "BANZHUREN_SECRET_KEY": "x" * 32,
            "BANZHUREN_SEAL_KEY": "",
        },
    )
    assert result.exit_code == 1 and "没有测评密封密钥" in result.output
    result = cli(
        "round", "open", "--term", TERM, "--survey", "satisfaction", "--closes", "2099-01-10"
    )
    assert result.exit_code == 0, result.output
    assert "已开放 2026-2027-1 的问卷 satisfaction，2099-01-10 截止" in result.output
    with fresh_session() as s:
        notified = s.scalars(select(OutboundMessage.openid)).all()
    assert sorted(notified) == ["oid-xiaohong", "oid-xiaoming"]
    result = cli("round", "open", "--term", TERM, "--survey", "satisfaction")
    assert result.exit_code == 1 and "已在进行中" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = cli("round", "status", "--term", TERM, "--survey", "satisfaction")
    assert "T001\t王明\t0/2\t0.0%" in result.output
    assert "密封答卷和草稿 0 份，当前密钥可打开 0 份" in result.output
    result = cli("round", "close", "--term", TERM, "--survey", "satisfaction")
    assert result.exit_code == 0 and "已评 0/4 人次" in result.output
    result = cli("round", "close", "--term", TERM, "--survey", "satisfaction")
    assert result.exit_code == 1 and "已于" in result.output and "关闭" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--term", "2099-2100-1", "--survey", "satisfaction"), "学期 2099-2100-1 不存在"),
        (("--term", TERM, "--survey", "nope"), "问卷 nope 未注册"),
        (
            ("--term", TERM, "--survey", "satisfaction", "--closes", "next week"),
            "--closes：无法识别的日期",
        ),
        (
            ("--term", TERM, "--survey", "satisfaction", "--closes", "2020-01-01"),
            "截止日期 2020-01-01 已过",
        ),
    ],
)
def test_cli_round_open_errors(cli, session, args, message):
    make_school(session)
    session.commit()
    session.close()
    result = cli("round", "open", *args)
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    with fresh_session() as s:
        assert s.scalar(select(func.count()).select_from(SurveyRound)) == 0
