"""Issue 15: reaching students. The customer-service allowance (issue 23) decides
customer-service vs template message; WeChat's refusals (45015, 43004, 45047, 45009) are
handled by their meaning; round
reminders reach exactly the non-responders, once a day, never at night or on closed days;
``round open`` / ``round remind`` from the command line against the fake WeChat API."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import core.db
from core import outbox
from core.celery_app import configure_celery
from core.outbox import drain
from core.reach import rounds as reach
from core.reach import window
from models import Ballot, OutboundMessage, RoundContact, TermClosedDate, WeChatContact
from models.base import utcnow
from tests.conftest import make_settings
from tests.integration.survey_chat import start_round
from tests.integration.survey_school import make_school

TEMPLATE = "TPL-remind-1"


@pytest.fixture(autouse=True)
def _embedded_celery_afterwards(db_url):
    yield
    drain()
    configure_celery(make_settings(db_url))


@pytest.fixture
def with_template(wechat_settings):
    settings = wechat_settings.with_overrides(
        wechat_template_remind=TEMPLATE, wechat_template_url="https://example.edu/survey"
    )
    configure_celery(settings)
    return settings


@pytest.fixture
def without_template(wechat_settings):
    configure_celery(wechat_settings)
    return wechat_settings


VALUES = {
    "title": "2026-2027学年第一学期兼职班主任满意度测评",
    "term": "2026-2027-1",
    "deadline": "2026年12月20日",
    "hint": "回复「测评」\n开始作答😀",
}


def grant(openid: str, at: dt.datetime | None = None, kind: str = "message") -> None:
    """``openid`` sent a message (or ``kind``) at ``at``: customer-service messages allowed."""
    with core.db.session_scope(write=True) as s:
        window.record(s, openid, kind, at or utcnow())


def reach_one(session, openid: str, last_seen: dt.datetime | None) -> OutboundMessage:
    if last_seen is not None:
        session.merge(
            WeChatContact(openid=openid, last_interaction_at=last_seen, grant_kind="message")
        )
    message = outbox.queue_reach(session, openid, "测评已开始", VALUES)
    session.commit()
    drain()
    session.expire_all()
    return session.get(OutboundMessage, message.id)


def test_open_window_gets_a_customer_service_message(with_template, fake_wechat_api, session):
    message = reach_one(session, "o-open", utcnow() - dt.timedelta(hours=47))
    assert message.sent_at is not None and message.channel == "custom"
    assert fake_wechat_api.texts_to("o-open") == ["测评已开始"]
    assert fake_wechat_api.templates == []


def test_closed_window_gets_the_template(with_template, fake_wechat_api, session):
    message = reach_one(session, "o-closed", utcnow() - dt.timedelta(hours=49))
    assert message.sent_at is not None and message.channel == "template"
    assert fake_wechat_api.send_requests == 1  # no customer-service attempt first
    [sent] = fake_wechat_api.templates_to("o-closed")
    assert sent["template_id"] == TEMPLATE and sent["url"] == "https://example.edu/survey"
    # Issue 23: the default mapping, values within WeChat's limits (the fake refuses others).
    assert sent["data"] == {
        "thing1": {"value": "2026-2027学年第一学期兼职班主…"},
        "time2": {"value": "2026年12月20日"},
        "thing3": {"value": "回复「测评」 开始作答"},
    }
    assert message.refused_errcode is None


def test_no_grant_recorded_gets_the_template(with_template, fake_wechat_api, session):
    # Issue 23: an openid with no granting action known has no allowance: WeChat is not tried.
    fake_wechat_api.enforce_allowance = True
    message = reach_one(session, "o-never", None)
    assert message.channel == "template" and message.refused_errcode is None
    assert fake_wechat_api.send_requests == 1 and fake_wechat_api.refusals == []


def test_closed_window_without_template_is_unreachable(without_template, fake_wechat_api, session):
    message = reach_one(session, "o-gone", utcnow() - dt.timedelta(days=3))
    assert message.sent_at is None and message.failed_at is not None
    assert message.channel == "unreachable"
    assert fake_wechat_api.send_requests == 0
    assert outbox.deliver(message.id) == outbox.SKIPPED  # never retried
    assert outbox.enqueue_unsent(session, older_than_seconds=0) == 0


def test_45015_falls_back_to_the_template(with_template, fake_wechat_api, session):
    fake_wechat_api.closed_windows.add("o-unknown")  # our count says open; WeChat disagrees
    message = reach_one(session, "o-unknown", utcnow())
    assert message.sent_at is not None and message.channel == "template"
    assert message.refused_errcode == 45015
    assert fake_wechat_api.texts_to("o-unknown") == []
    assert len(fake_wechat_api.templates_to("o-unknown")) == 1
    # WeChat's count holds: the allowance is used up until the student's next action.
    assert window.current(session, "o-unknown").remaining == 0
    with core.db.SessionFactory() as s:
        assert reach.channel_counts(s, [message.id])["refused"] == 1


def test_45015_without_template_is_unreachable(without_template, fake_wechat_api, session):
    fake_wechat_api.closed_windows.add("o-unknown")
    message = reach_one(session, "o-unknown", utcnow())
    assert message.failed_at is not None and message.channel == "unreachable"
    assert message.refused_errcode == 45015
    assert fake_wechat_api.send_requests == 1


def test_no_allowance_without_template_is_unreachable_without_calling(
    without_template, fake_wechat_api, session
):
    message = reach_one(session, "o-spent", utcnow() - dt.timedelta(hours=48))
    assert message.failed_at is not None and message.channel == "unreachable"
    assert "BANZHUREN_WECHAT_TEMPLATE_REMIND" in message.last_error
    assert fake_wechat_api.send_requests == 0


@pytest.mark.parametrize("last_seen_hours", [1, 72])
def test_43004_unfollowed_is_dropped(with_template, fake_wechat_api, session, last_seen_hours):
    fake_wechat_api.unfollowed.add("o-left")
    message = reach_one(session, "o-left", utcnow() - dt.timedelta(hours=last_seen_hours))
    assert message.failed_at is not None and message.channel == "unfollowed"
    assert "43004" in message.last_error
    assert outbox.enqueue_unsent(session, older_than_seconds=0) == 0


def test_45047_sends_the_template_at_once(with_template, fake_wechat_api, session):
    # Issue 23: the allowance only comes back with the student's next action, so waiting for
    # it helps nothing: the template goes now.
    fake_wechat_api.inject(45047)
    message = reach_one(session, "o-busy", utcnow())
    assert message.sent_at is not None and message.channel == "template"
    assert message.refused_errcode == 45047 and message.attempts == 1
    assert window.current(session, "o-busy").remaining == 0


def test_45009_waits_for_the_quota_reset(with_template, fake_wechat_api, session):
    fake_wechat_api.inject(45009)
    message = reach_one(session, "o-quota", utcnow())
    assert message.sent_at is None and message.failed_at is None
    assert message.not_before == outbox.next_quota_reset(message.not_before - dt.timedelta(days=1))
    session.expire_all()
    session.get(OutboundMessage, message.id).not_before = None
    session.commit()
    assert outbox.deliver(message.id) == outbox.SENT
    assert fake_wechat_api.texts_to("o-quota") == ["测评已开始"]


def contact(openid: str) -> tuple[str | None, int, dt.datetime] | None:
    with core.db.SessionFactory() as s:
        row = s.get(WeChatContact, openid)
        return None if row is None else (row.grant_kind, row.spent, row.last_interaction_at)


def test_the_webhook_records_each_grant(wechat, wechat_settings, fake_wechat_api):
    # WeChat's own pushes grant nothing, and write nothing.
    for event in ("TEMPLATESENDJOBFINISH", "MASSSENDJOBFINISH", "LOCATION", "VIEW", "unsubscribe"):
        assert wechat.event(event, openid="o-chat") == ""
    assert contact("o-chat") is None
    wechat.event("CLICK", "HELP", openid="o-chat")
    kind, spent, first = contact("o-chat")
    assert (kind, spent) == ("menu", 0) and utcnow() - first < dt.timedelta(minutes=1)
    # Every granting message resets the count: spend two, then a message.
    for _ in range(2):
        with core.db.session_scope(write=True) as s:
            assert window.spend(s, "o-chat") is not None
    assert contact("o-chat")[:2] == ("menu", 2)
    wechat("你好", openid="o-chat")
    kind, spent, again = contact("o-chat")
    assert (kind, spent) == ("message", 0) and again >= first
    with core.db.SessionFactory() as s:
        assert window.current(s, "o-chat").remaining == 5
    # A push after it changes nothing.
    wechat.event("TEMPLATESENDJOBFINISH", openid="o-chat")
    assert contact("o-chat") == ("message", 0, again)


# --- reminders ------------------------------------------------------------------------------


def school_now(settings, days: int = 0, hour: int = 10) -> dt.datetime:
    """``hour`` o'clock school time, ``days`` after today (in the future: not_before works)."""
    local = utcnow().astimezone(settings.tz)
    return dt.datetime.combine(local.date() + dt.timedelta(days=days), dt.time(hour), settings.tz)


@pytest.fixture
def school(with_template):
    with core.db.SessionFactory() as s:
        school = make_school(s)
        s.commit()
        for openid in ("oid-xiaoming", "oid-xiaohong", "oid-xiaoli"):
            grant(openid)  # each wrote lately: customer-service messages go
        rnd = start_round(s, school.term, school.definition)
        # 小红 has rated her only head teacher; 小明 one of his two; 小刚 is not bound;
        # 小丽's class has no head teacher this term.
        for name, teacher in (("小红", school.zhao), ("小明", school.wang)):
            s.add(
                Ballot(
                    round_id=rnd.id,
                    student_id=school.students[name].id,
                    teacher_id=teacher.id,
                    submitted_on=dt.date(2026, 11, 1),
                )
            )
        s.commit()
        school.round_id = rnd.id
    return school


def remind(settings, school, now, **kw) -> reach.RemindResult:
    from models import SurveyRound

    with core.db.SessionFactory() as s:
        result = reach.remind(s, settings, s.get(SurveyRound, school.round_id), now=now, **kw)
        s.commit()
    drain()
    return result


def test_remind_reaches_exactly_the_non_responders(with_template, fake_wechat_api, school):
    result = remind(with_template, school, school_now(with_template, days=1))
    assert (result.reminded, result.unbound, result.already_today) == (1, 1, 0)
    assert len(fake_wechat_api.texts_to("oid-xiaoming")) == 1
    assert "还有班主任未评价" in fake_wechat_api.texts_to("oid-xiaoming")[0]
    for other in ("oid-xiaohong", "oid-xiaoli"):
        assert fake_wechat_api.messages_to(other) == 0


def test_remind_once_a_day(with_template, fake_wechat_api, school):
    assert remind(with_template, school, school_now(with_template, days=1)).reminded == 1
    again = remind(with_template, school, school_now(with_template, days=1, hour=20))
    assert (again.reminded, again.already_today) == (0, 1)
    assert fake_wechat_api.messages_to("oid-xiaoming") == 1
    # The next day, one more.
    assert remind(with_template, school, school_now(with_template, days=2)).reminded == 1
    assert fake_wechat_api.messages_to("oid-xiaoming") == 2


def test_dry_run_sends_nothing(with_template, fake_wechat_api, school):
    assert remind(with_template, school, school_now(with_template, 1), dry_run=True).reminded == 1
    with core.db.SessionFactory() as s:
        assert s.scalar(select(func.count()).select_from(RoundContact)) == 0
    assert fake_wechat_api.send_requests == 0


@pytest.mark.parametrize("hour", [22, 23, 0, 7])
def test_no_reminder_at_night_it_waits_for_eight(with_template, fake_wechat_api, school, hour):
    now = school_now(with_template, days=2, hour=hour)
    result = remind(with_template, school, now)
    assert result.reminded == 1
    morning = now.date() + dt.timedelta(days=1 if hour >= 22 else 0)
    assert result.deferred_to == dt.datetime.combine(morning, dt.time(8), with_template.tz)
    assert fake_wechat_api.send_requests == 0
    with core.db.SessionFactory() as s:
        [message] = s.scalars(select(OutboundMessage)).all()
        assert message.not_before == result.deferred_to and message.sent_at is None
        assert s.scalar(select(RoundContact.day)) == morning
        # The beat sweep leaves it alone until then.
        assert outbox.enqueue_unsent(s, older_than_seconds=0) == 0
    # At 08:00 the same student is not reminded a second time that day.
    later = dt.datetime.combine(morning, dt.time(9), with_template.tz)
    assert remind(with_template, school, later).reminded == 0


def test_no_reminder_on_a_closed_day(with_template, fake_wechat_api, school):
    now = school_now(with_template, days=1)
    with core.db.SessionFactory() as s:
        s.add(TermClosedDate(term_id=school.term.id, day=now.date(), reason="exam"))
        s.commit()
    result = remind(with_template, school, now)
    assert result.closed_reason == "exam" and result.reminded == 0
    assert fake_wechat_api.send_requests == 0
    assert remind(with_template, school, school_now(with_template, days=2)).reminded == 1


def test_round_figures_for_the_dashboard(with_template, fake_wechat_api, school):
    remind(with_template, school, school_now(with_template, 1))
    with core.db.SessionFactory() as s:
        figures = reach.round_reach(s, school.round_id)
        assert figures["reminded"] == 1 and figures["custom"] + figures["template"] == 1
        assert figures["unbound"] == 1
        from models import SurveyRound

        [(_dept, cls, students)] = reach.unbound_by_class(s, s.get(SurveyRound, school.round_id))
        assert cls == "钢琴2601班" and [n for _no, n in students] == ["小刚"]


# --- the command line, as the acceptance check runs it ---------------------------------------


def daytime_zone() -> str:
    """A time zone where it is now about noon: the CLI test must not fall in the quiet hours."""
    offset = (12 - utcnow().hour + 12) % 24 - 12  # -12 .. 11
    return f"Etc/GMT{-offset:+d}" if offset else "UTC"


def test_cli_round_open_notifies_then_remind_once_a_day(db_url, fake_wechat_api):
    from bot.cli import main
    from core.surveys.seal_key import generate_key

    with core.db.SessionFactory() as s:
        school = make_school(s)
        s.commit()
    env = {
        "BANZHUREN_DATABASE_URL": db_url,
        "BANZHUREN_SECRET_KEY": "test-secret" * 32,
        "BANZHUREN_WECHAT_APPID": fake_wechat_api.appid,
        "BANZHUREN_WECHAT_SECRET": fake_wechat_api.secret,
        "BANZHUREN_WECHAT_API_BASE": fake_wechat_api.url,
        "BANZHUREN_SEAL_KEY": generate_key(),
        "BANZHUREN_TIMEZONE": daytime_zone(),
    }
    runner = CliRunner()
    for openid in ("oid-xiaoming", "oid-xiaohong"):
        grant(openid)

    def cli(*args):
        result = runner.invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    cli("round", "open", "--term", school.term.code, "--survey", school.definition.id)
    bound_eligible = ["oid-xiaoming", "oid-xiaohong"]
    # One notice per student, 小明 rating two teachers included; 小丽 has nobody to rate.
    assert [fake_wechat_api.messages_to(o) for o in bound_eligible] == [1, 1]
    assert fake_wechat_api.messages_to("oid-xiaoli") == 0
    args = ("round", "remind", "--term", school.term.code, "--survey", school.definition.id)
    out = cli(*args)
    assert "提醒 2 人" in out and "未绑定微信 1 人" in out and "客服消息 2 人" in out
    assert [fake_wechat_api.messages_to(o) for o in bound_eligible] == [2, 2]
    out = cli(*args)
    assert "提醒 0 人" in out and "今天已提醒过 2 人" in out
    status = cli("round", "status", "--term", school.term.code, "--survey", school.definition.id)
    assert "通知 2 人次，催填 2 人次；送达：客服消息 4，模板消息 0" in status
    assert "客服消息被微信拒收（45015/45047） 0" in status
    assert [fake_wechat_api.messages_to(o) for o in bound_eligible] == [2, 2]
    assert "提醒 0 人" in cli(*args, "--class", "GQ2601", "--dry-run")


def test_cli_term_holiday(db_url):
    from bot.cli import main

    with core.db.SessionFactory() as s:
        school = make_school(s)
        s.commit()
    env = {"BANZHUREN_DATABASE_URL": db_url, "BANZHUREN_SECRET_KEY": "x" * 32}
    result = CliRunner().invoke(
        main, ["term", "holiday", school.term.code, "2026-10-01..2026-10-07", "2026-12-25"], env=env
    )
    assert result.exit_code == 0, result.output
    with core.db.SessionFactory() as s:
        assert s.scalar(select(func.count()).select_from(TermClosedDate)) == 8
    result = CliRunner().invoke(main, ["term", "holiday", school.term.code, "2030-01-01"], env=env)
    assert result.exit_code == 1


def test_beat_reminds_two_days_before_closing(with_template, fake_wechat_api, school):
    from core.reach.rounds import remind_rounds_closing_soon
    from models import SurveyRound

    now = school_now(with_template, days=1)
    with core.db.SessionFactory() as s:
        s.get(SurveyRound, school.round_id).closes_on = now.date() + dt.timedelta(days=3)
        s.commit()
    assert remind_rounds_closing_soon(with_template, now) == {}
    assert remind_rounds_closing_soon(with_template, now + dt.timedelta(days=1)) == {
        school.round_id: 1
    }
    assert fake_wechat_api.messages_to("oid-xiaoming") == 1
    # The same day again (a retried task): nobody twice.
    later = now + dt.timedelta(days=1, hours=2)
    assert remind_rounds_closing_soon(with_template, later) == {school.round_id: 0}
    assert fake_wechat_api.messages_to("oid-xiaoming") == 1
