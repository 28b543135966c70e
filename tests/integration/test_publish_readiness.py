"""No wrong result published (issue 22): a term with no closed round is 待测评, ``evaluate``
says which rounds are still open, and ``publish`` (command line and dashboard) refuses while a
round is open or when the stored evaluation is older than a change it counts, unless
``--force --reason`` (audited). On SQLite and PostgreSQL, through the real command and pages."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import core.db
from bot.cli import main
from core.celery_app import configure_celery
from core.outbox import drain
from core.worklog.record import undo_entry
from models import (
    AuditLog,
    Grade,
    Incident,
    IncidentKind,
    LogKind,
    Meeting,
    MeetingKind,
    Survey,
    SurveyRound,
    Term,
    TermEvaluation,
    User,
    UserRole,
    WorkLogEntry,
)
from models.base import utcnow
from tests.conftest import make_settings
from tests.support.dashboard import (
    SURVEY,
    build_world,
    login,
    make_token,
    make_user,
    post_form,
)

BUTTON = ">发布考核结果</button>"


@pytest.fixture
def cli(db_url, fake_wechat_api):
    runner = CliRunner()
    env = {
        "BANZHUREN_DATABASE_URL": db_url,
        "BANZHUREN_SECRET_KEY": "test-secret-key-for-the-publish-tests",
        "BANZHUREN_WECHAT_APPID": fake_wechat_api.appid,
        "BANZHUREN_WECHAT_SECRET": fake_wechat_api.secret,
        "BANZHUREN_WECHAT_API_BASE": fake_wechat_api.url,
    }

    def run(*args):
        try:
            return runner.invoke(main, list(args), env=env)
        finally:
            assert drain()

    yield run
    configure_celery(make_settings(db_url))


@pytest.fixture
def world(session):
    w = build_world(session)
    make_user(session, "xsc", UserRole.AFFAIRS)
    return w


def grades(session, world) -> dict[int, tuple[Grade, list]]:
    session.rollback()
    session.expire_all()
    return {
        ev.teacher_id: (ev.computed_grade, ev.reasons)
        for ev in session.scalars(
            select(TermEvaluation).where(TermEvaluation.term_id == world.term.id)
        )
    }


def published(session, world) -> bool:
    session.rollback()
    session.expire_all()
    return session.get(Term, world.term.id).published_at is not None


def test_open_round_is_pending_and_blocks_publishing(cli, client, session, world):
    code = world.term.code
    # The term's only round still open; 乙老师 has a serious incident and no work log.
    session.get(SurveyRound, world.round.id).closed_at = None
    session.get(SurveyRound, world.round.id).closes_on = dt.date(2027, 1, 10)
    session.add(
        Incident(
            teacher_id=world.teacher_b.id,
            term_id=world.term.id,
            kind=IncidentKind.SERIOUS,
            occurred_on=dt.date(2026, 11, 2),
            description="宿舍安全事故",
            recorded_by="xsc",
        )
    )
    session.commit()

    result = cli("evaluate", "--term", code)
    assert result.exit_code == 0, result.output
    assert "「兼职班主任学生满意度测评」（截止 2027-01-10）仍在进行中" in result.output
    assert "尚未计入本次考核" in result.output and "待测评" in result.output
    by_teacher = grades(session, world)
    # No closed round: 甲老师 has no grade yet (not 不合格 for lack of data); a recorded
    # reason still fails 乙老师, and only that reason (not the empty log, not satisfaction).
    assert by_teacher[world.teacher_a.id] == (Grade.PENDING, [])
    assert by_teacher[world.teacher_b.id] == (Grade.FAIL, ["严重责任事件"])

    result = cli("publish", "--term", code)
    assert result.exit_code == 1
    assert "仍在进行中" in result.output and "不能发布" in result.output
    assert "Traceback" not in result.output
    assert not published(session, world)

    # The overview says so, shows no publish button, and a forged POST is refused.
    login(client, "xsc")
    page = client.get(f"/dashboard/?term={code}").get_data(as_text=True)
    assert "测评进行中" in page and "待测评" in page
    assert BUTTON not in page and "不能发布" in page
    response = post_form(client, "/dashboard/", "/dashboard/publish", {"term": code})
    assert response.status_code == 400
    assert "仍在进行中" in response.get_data(as_text=True)
    assert not published(session, world)
    # The API's overview says the same.
    token = make_token(session, session.scalar(select(User).where(User.username == "xsc")))
    overview = client.get(
        f"/api/v1/terms/{code}/overview", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    assert overview["grades"]["待测评"] == 1
    assert overview["publication"]["publishable"] is False
    assert overview["publication"]["open_rounds"] == [
        {"survey": "兼职班主任学生满意度测评", "closes_on": "2027-01-10"}
    ]

    # --force needs a reason; with one it goes through and the audit row says why.
    result = cli("publish", "--term", code, "--force")
    assert result.exit_code != 0 and "--reason" in result.output
    assert cli("publish", "--term", code, "--reason", "学院批准").exit_code != 0
    assert not published(session, world)
    result = cli("publish", "--term", code, "--force", "--reason", "学院批准提前发布")
    assert result.exit_code == 0, result.output
    assert published(session, world)
    (row,) = session.scalars(select(AuditLog).where(AuditLog.action == "term.publish"))
    assert row.detail["forced"] is True and row.detail["reason"] == "学院批准提前发布"
    assert "仍在进行中" in row.detail["problems"][0]


def test_closed_round_after_an_open_one_allows_publishing(cli, client, session, world):
    """The ordinary way: evaluate once the round is closed, then publish (button shown)."""
    code = world.term.code
    assert cli("evaluate", "--term", code).exit_code == 0
    assert grades(session, world)[world.teacher_a.id][0] == Grade.EXCELLENT
    login(client, "xsc")
    page = client.get(f"/dashboard/?term={code}").get_data(as_text=True)
    assert BUTTON in page and "测评进行中" not in page
    result = cli("publish", "--term", code)
    assert result.exit_code == 0, result.output


def _close_another_round(session, world):
    session.add(Survey(id="second", title="第二次测评", method="mean_score", definition=SURVEY))
    session.flush()
    session.add(
        SurveyRound(
            term_id=world.term.id,
            survey_id="second",
            definition={**SURVEY, "id": "second"},
            closed_at=utcnow(),
        )
    )


def _log_entry(session, world):
    session.add(
        WorkLogEntry(
            teacher_id=world.teacher_b.id,
            kind=LogKind.DORM_VISIT,
            occurred_on=dt.date(2026, 11, 5),
            raw="走访宿舍",
        )
    )


def _undo_entry(session, world):
    entry = session.scalar(
        select(WorkLogEntry).where(WorkLogEntry.teacher_id == world.teacher_a.id)
    )
    undo_entry(session, entry)


def _incident(session, world):
    session.add(
        Incident(
            teacher_id=world.teacher_a.id,
            term_id=world.term.id,
            kind=IncidentKind.OTHER,
            occurred_on=dt.date(2026, 11, 2),
            description="多次缺席例会",
            recorded_by="xsc",
        )
    )


def _meeting(session, world):
    session.add(
        Meeting(
            department_id=world.dep_a.id,
            kind=MeetingKind.STAFF_MEETING,
            held_on=dt.date(2026, 10, 20),
            title="十月例会",
        )
    )


CHANGES = {
    "测评轮次结束": _close_another_round,
    "工作日志": _log_entry,
    "工作日志撤销": _undo_entry,
    "责任事件记录": _incident,
    "会议记录": _meeting,
}


@pytest.mark.parametrize("label", list(CHANGES))
def test_a_change_after_the_evaluation_blocks_publishing(cli, client, session, world, label):
    code = world.term.code
    assert cli("evaluate", "--term", code).exit_code == 0
    session.rollback()
    CHANGES[label](session, world)
    session.commit()

    result = cli("publish", "--term", code)
    assert result.exit_code == 1
    assert f"考核结果早于之后的变动（{label}）" in result.output
    assert f"重新运行 banzhuren evaluate --term {code}" in result.output
    login(client, "xsc")
    page = client.get(f"/dashboard/?term={code}").get_data(as_text=True)
    assert BUTTON not in page and "早于之后的变动" in page
    assert post_form(client, "/dashboard/", "/dashboard/publish", {"term": code}).status_code == 400
    assert not published(session, world)

    # Evaluated again, the change is counted and publishing goes through.
    assert cli("evaluate", "--term", code).exit_code == 0
    assert BUTTON in client.get(f"/dashboard/?term={code}").get_data(as_text=True)
    result = cli("publish", "--term", code)
    assert result.exit_code == 0, result.output
    assert published(session, world)


def test_an_override_after_the_evaluation_blocks_publishing(cli, client, session, world):
    code = world.term.code
    assert cli("evaluate", "--term", code).exit_code == 0
    login(client, "xsc")
    page = f"/dashboard/teachers/{world.teacher_a.id}?term={code}"
    response = post_form(
        client,
        page,
        f"/dashboard/teachers/{world.teacher_a.id}/override",
        {"term": code, "grade": "good", "reason": "复核后调整为良好"},
    )
    assert response.status_code == 302
    result = cli("publish", "--term", code)
    assert result.exit_code == 1 and "考核等级调整" in result.output
    # 待测评 is no grade Student Affairs can set.
    response = post_form(
        client,
        page,
        f"/dashboard/teachers/{world.teacher_a.id}/override",
        {"term": code, "grade": "pending", "reason": "尝试设为待测评"},
    )
    assert response.status_code == 400 and "请选择有效的考核等级" in response.get_data(as_text=True)
    assert cli("evaluate", "--term", code).exit_code == 0
    # The override survives the new evaluation and the term can be published.
    session.rollback()
    session.expire_all()
    ev = session.scalar(
        select(TermEvaluation).where(TermEvaluation.teacher_id == world.teacher_a.id)
    )
    assert ev.override_grade == Grade.GOOD
    assert cli("publish", "--term", code).exit_code == 0


def test_evaluation_time_is_when_its_facts_were_read(cli, session, world):
    """The term's evaluated_at is no later than any row's computed_at: a change committed
    while the evaluation ran counts as after it."""
    assert cli("evaluate", "--term", world.term.code).exit_code == 0
    with core.db.SessionFactory() as s:
        term = s.get(Term, world.term.id)
        stamps = s.scalars(
            select(TermEvaluation.computed_at).where(TermEvaluation.term_id == term.id)
        ).all()
        assert stamps and term.evaluated_at == min(stamps)


def test_which_meetings_count_as_a_change(cli, session, world):
    """A meeting of an earlier term recorded late changes nothing here; a training before the
    term does (it makes a teacher trained, 第十二条)."""
    code = world.term.code
    assert cli("evaluate", "--term", code).exit_code == 0
    session.rollback()
    session.add(
        Meeting(
            department_id=world.dep_a.id,
            kind=MeetingKind.STAFF_MEETING,
            held_on=dt.date(2026, 5, 20),
            title="上学期例会",
        )
    )
    session.commit()
    assert readiness_of(session, world).allowed
    session.add(
        Meeting(
            department_id=None,
            kind=MeetingKind.TRAINING,
            held_on=dt.date(2026, 8, 25),
            title="岗前培训",
        )
    )
    session.commit()
    ready = readiness_of(session, world)
    assert not ready.allowed and [kind for kind, _at in ready.stale] == ["meeting"]


def readiness_of(session, world):
    from core.publication import readiness

    session.rollback()
    session.expire_all()
    return readiness(session, session.get(Term, world.term.id))
