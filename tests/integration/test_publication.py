"""Publishing a term's results (core/publication.py): ``banzhuren publish``, the dashboard's
发布考核结果 / 撤回发布, the announcement to bound head teachers, and ``考核结果`` in the chat
(core/worklog/result.py) before and after publication, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import core.db
from bot.cli import main
from core.celery_app import configure_celery
from core.outbox import drain
from core.worklog.result import NO_RESULT, NOT_PUBLISHED
from models import AuditLog, Grade, Reminder, Term, TermEvaluation, UserRole, WeChatBinding
from models.base import utcnow
from tests.conftest import make_settings
from tests.support.dashboard import build_world, csrf_from, login, make_user, post_form
from tests.support.wechat import WeChatDriver, grant_allowance


def evaluated(session, world) -> None:
    session.get(Term, world.term.id).evaluated_at = utcnow()
    session.commit()


def fresh(session) -> None:
    """Read what the app committed since (expire_on_commit is off, and a rollback without a
    transaction expires nothing)."""
    session.rollback()
    session.expire_all()


def audit_actions(session) -> list[tuple[str, str, str]]:
    return [
        (a.actor, a.action, a.target)
        for a in session.scalars(select(AuditLog).order_by(AuditLog.id))
        if a.action.startswith("term.")
    ]


# --- command line ----------------------------------------------------------------------------


@pytest.fixture
def cli(db_url, fake_wechat_api):
    """``banzhuren`` in embedded mode, its outbox sending to the fake WeChat API."""
    runner = CliRunner()
    env = {
        "BANZHUREN_DATABASE_URL": db_url,
        "BANZHUREN_SECRET_KEY": "test-secret" * 32,
        "BANZHUREN_WECHAT_APPID": fake_wechat_api.appid,
        "BANZHUREN_WECHAT_SECRET": fake_wechat_api.secret,
        "BANZHUREN_WECHAT_API_BASE": fake_wechat_api.url,
    }

    def run(*args, **extra_env):
        try:
            return runner.invoke(main, list(args), env={**env, **extra_env})
        finally:
            assert drain()

    yield run
    # The command configured Celery (read by the outbox) for the fake API, stopped after this.
    configure_celery(make_settings(db_url))


def test_cli_refuses_unknown_and_unevaluated_terms(cli, session):
    world = build_world(session)
    code = world.term.code
    result = cli("publish", "--term", "2030-2031-1")
    assert result.exit_code == 1
    assert result.output.strip() == "错误：没有学期 2030-2031-1（用 banzhuren term add 添加）"
    result = cli("publish", "--term", code)
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert f"学期 {code} 尚未考核，不能发布：先运行 banzhuren evaluate --term {code}" in (
        result.output
    )
    result = cli("publish", "--term", code, "--unpublish")
    assert result.exit_code == 1 and "尚未发布，无需撤回" in result.output
    with core.db.SessionFactory() as s:
        assert s.scalar(select(Term.published_at)) is None
        assert audit_actions(s) == []


def test_cli_publish_announces_once_then_unpublish(cli, session, fake_wechat_api):
    world = build_world(session)
    code = world.term.code
    evaluated(session, world)
    session.add(WeChatBinding(openid="o-jia", teacher_id=world.teacher_a.id))
    session.commit()
    grant_allowance("o-jia")  # issue 23: 甲老师 wrote to the account lately

    result = cli("publish", "--term", code)
    assert result.exit_code == 0, result.output
    assert f"已发布学期 {code} 的考核结果" in result.output
    assert "已通知 1 名绑定微信的班主任" in result.output
    (text,) = fake_wechat_api.texts_to("o-jia")
    assert code in text and "优秀" in text and "100.0%" in text

    # Publishing again is refused and tells nobody twice.
    again = cli("publish", "--term", code)
    assert again.exit_code == 1 and "考核结果已于" in again.output and "发布" in again.output
    # Withdrawn and published again: the teacher told before is not told a second time.
    assert cli("publish", "--term", code, "--unpublish").exit_code == 0
    with core.db.SessionFactory() as s:
        assert s.scalar(select(Term.published_at)) is None
    result = cli("publish", "--term", code)
    assert result.exit_code == 0 and "已通知 0 名" in result.output
    assert len(fake_wechat_api.texts_to("o-jia")) == 1
    with core.db.SessionFactory() as s:
        assert s.scalar(select(Term.published_at)) is not None
        assert s.scalar(select(func.count()).select_from(Reminder)) == 1
        assert audit_actions(s) == [
            ("cli", "term.publish", code),
            ("cli", "term.unpublish", code),
            ("cli", "term.publish", code),
        ]


def test_cli_publish_with_redis_leaves_the_announcement_to_the_beat(
    cli, session, redis_url, fake_wechat_api
):
    world = build_world(session)
    evaluated(session, world)
    session.add(WeChatBinding(openid="o-jia", teacher_id=world.teacher_a.id))
    session.commit()
    result = cli("publish", "--term", world.term.code, BANZHUREN_REDIS_URL=redis_url)
    assert result.exit_code == 0, result.output
    assert "worker 将在一小时内通知" in result.output
    assert fake_wechat_api.texts_to("o-jia") == []
    with core.db.SessionFactory() as s:
        assert s.scalar(select(Term.published_at)) is not None
        assert s.scalar(select(func.count()).select_from(Reminder)) == 0


# --- dashboard ---------------------------------------------------------------------------------


@pytest.fixture
def world(session):
    w = build_world(session)
    make_user(session, "xsc", UserRole.AFFAIRS)
    make_user(session, "gqx", UserRole.BRANCH, w.dep_a)
    return w


def test_dashboard_publish_and_withdraw(client, world, session):
    code = world.term.code
    login(client, "xsc")
    page = client.get(f"/dashboard/?term={code}").get_data(as_text=True)
    # Not evaluated yet: no button, the reason instead.
    assert "考核结果未发布" in page and "发布考核结果" not in page
    assert "尚未考核，不能发布" in page

    # Posted all the same: refused, with the reason, nothing changed.
    response = post_form(client, "/dashboard/", "/dashboard/publish", {"term": code})
    assert response.status_code == 400
    assert "尚未考核，不能发布" in response.get_data(as_text=True)
    fresh(session)
    assert session.get(Term, world.term.id).published_at is None

    evaluated(session, world)
    assert "发布考核结果" in client.get(f"/dashboard/?term={code}").get_data(as_text=True)
    response = post_form(client, "/dashboard/", "/dashboard/publish", {"term": code})
    assert response.status_code == 302
    page = client.get(f"/dashboard/?term={code}").get_data(as_text=True)
    assert "考核结果已发布" in page and "撤回发布" in page
    assert f"已发布 {code} 的考核结果" in page
    fresh(session)
    assert session.get(Term, world.term.id).published_at is not None

    response = post_form(
        client, "/dashboard/", "/dashboard/publish", {"term": code, "unpublish": "1"}
    )
    assert response.status_code == 302
    fresh(session)
    assert session.get(Term, world.term.id).published_at is None
    assert audit_actions(session) == [
        ("xsc", "term.publish", code),
        ("xsc", "term.unpublish", code),
    ]
    assert "发布考核结果" in client.get("/dashboard/audit").get_data(as_text=True)


def test_dashboard_publish_needs_affairs_and_csrf(client, world, session):
    evaluated(session, world)
    code = world.term.code
    login(client, "gqx")
    page = client.get(f"/dashboard/?term={code}").get_data(as_text=True)
    assert "考核结果未发布" in page and "发布考核结果" not in page
    token = csrf_from(page)  # the logout form's token: valid, but the role is not
    response = client.post("/dashboard/publish", data={"term": code, "csrf_token": token})
    assert response.status_code == 403
    client.post("/dashboard/logout", data={"csrf_token": token})

    login(client, "xsc")
    assert client.post("/dashboard/publish", data={"term": code}).status_code == 400
    forged = {"term": code, "csrf_token": "forged"}
    assert client.post("/dashboard/publish", data=forged).status_code == 400
    fresh(session)
    assert session.get(Term, world.term.id).published_at is None
    assert audit_actions(session) == []


# --- chat --------------------------------------------------------------------------------------


@pytest.fixture
def teacher_chat(wechat: WeChatDriver, world):
    """甲老师 (6 respondents, 优秀) bound on o-test-user."""
    wechat.bind(world.teacher_a)
    return wechat


def publish(session, world) -> None:
    term = session.get(Term, world.term.id)
    term.evaluated_at = term.published_at = utcnow()
    session.commit()


def test_chat_before_publication(teacher_chat, session, world):
    evaluated(session, world)
    assert teacher_chat("考核结果") == NOT_PUBLISHED
    assert teacher_chat("我的考核") == NOT_PUBLISHED


def test_chat_after_publication_shows_own_result(teacher_chat, session, world):
    publish(session, world)
    reply = teacher_chat("考核结果")
    assert reply.splitlines() == [
        f"【学期考核结果】{world.term.code} 学期",
        "考核等级：优秀",
        "学生满意度：100.0%",
        "参评学生：6/6 人",
        "如有疑问请联系所在党总支。",
    ]
    assert "乙老师" not in reply and "65.0" not in reply


def test_chat_shows_override_as_final_grade_with_reasons(teacher_chat, session, world):
    ev = session.scalar(
        select(TermEvaluation).where(TermEvaluation.teacher_id == world.teacher_a.id)
    )
    ev.satisfaction = 72.26
    ev.computed_grade = Grade.GOOD
    ev.override_grade = Grade.FAIL
    ev.override_reason = "学期内发生重大安全责任事故"
    ev.flags = ["未参加岗前培训"]
    publish(session, world)
    lines = teacher_chat("我的考核").splitlines()
    assert "考核等级：不合格（经学生处复核）" in lines
    assert "学生满意度：72.3%" in lines
    assert "不合格原因：学期内发生重大安全责任事故" in lines
    assert "提示：未参加岗前培训" in lines


def test_chat_below_min_respondents_shows_percentage_and_grade_only(
    wechat: WeChatDriver, session, world
):
    wechat.bind(world.teacher_b)  # 3 respondents, fewer than the default 5
    ev = session.scalar(
        select(TermEvaluation).where(TermEvaluation.teacher_id == world.teacher_b.id)
    )
    ev.computed_grade = Grade.FAIL
    ev.satisfaction = 55.0
    ev.reasons = ["满意度低于60%"]
    publish(session, world)
    reply = wechat("考核结果")
    assert reply.splitlines() == [
        f"【学期考核结果】{world.term.code} 学期",
        "考核等级：不合格",
        "学生满意度：55.0%",
        "（答卷少于5份，只显示满意度和等级）",
        "如有疑问请联系所在党总支。",
    ]
    assert "3/3" not in reply and "原因" not in reply and "提示" not in reply


def test_chat_published_term_without_this_teacher(wechat: WeChatDriver, session, world):
    from tests.factories import make_teacher

    newcomer = make_teacher(session, name="丙老师")
    session.commit()
    wechat.bind(newcomer)
    publish(session, world)
    assert wechat("考核结果") == NO_RESULT
    # Withdrawn again: back to "not published".
    session.get(Term, world.term.id).published_at = None
    session.commit()
    assert wechat("考核结果") == NOT_PUBLISHED


def test_dashboard_publish_in_embedded_mode_tells_bound_teachers(
    wechat_app, wechat: WeChatDriver, world, session, fake_wechat_api
):
    evaluated(session, world)
    wechat.bind(world.teacher_a, openid="o-jia")
    wechat.bind(world.teacher_b, openid="o-yi")
    browser = wechat_app.test_client()
    login(browser, "xsc")
    data = {"term": world.term.code}
    response = post_form(browser, "/dashboard/", "/dashboard/publish", data)
    assert response.status_code == 302
    assert "已通知 2 名绑定微信的班主任" in browser.get(response.location).get_data(as_text=True)
    assert drain()
    (jia,) = fake_wechat_api.texts_to("o-jia")
    assert "优秀" in jia and "100.0%" in jia
    (yi,) = fake_wechat_api.texts_to("o-yi")
    assert "学期：合格" in yi and "65.0%" in yi
    # The hourly task, run afterwards, finds everybody told already.
    from worker.tasks.evaluation import announce_published_results

    assert announce_published_results.apply().get() == 0


def test_chat_shows_the_latest_published_term(teacher_chat, session, world):
    from tests.factories import make_term

    later = make_term(
        session, code="2026-2027-2", start_date=world.term.end_date, end_date=dt.date(2027, 7, 10)
    )
    session.add(
        TermEvaluation(
            term_id=later.id,
            teacher_id=world.teacher_a.id,
            department_id=world.dep_a.id,
            respondents=7,
            eligible=9,
            satisfaction=68.0,
            computed_grade=Grade.PASS,
        )
    )
    publish(session, world)
    # The later term is evaluated but not published: the earlier one is shown.
    later.evaluated_at = utcnow()
    session.commit()
    assert "【学期考核结果】2026-2027-1 学期" in teacher_chat("考核结果")
    later.published_at = utcnow()
    session.commit()
    reply = teacher_chat("考核结果")
    assert "【学期考核结果】2026-2027-2 学期" in reply
    assert "考核等级：合格" in reply and "学生满意度：68.0%" in reply and "7/9" in reply
