"""The outbox on a bad day (issue 13, item 7): WeChat's daily quota used up (45009), a send that
may have arrived (the answer timed out; the process died mid-send), a 反馈 WeChat refused."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core import outbox
from core.celery_app import configure_celery
from core.outbox import FAILED, RETRY, SENT, SKIPPED, deliver, drain, next_quota_reset
from core.wechat.api import WeChatApi
from models import OutboundMessage, StudentFeedback, WeChatBinding
from models.base import utcnow
from tests.conftest import make_settings
from tests.integration.worklog_school import TeacherChat, build_school
from tests.support.wechat import grant_allowance


@pytest.fixture(autouse=True)
def _embedded_celery_afterwards(db_url):
    yield
    drain()
    configure_celery(make_settings(db_url))


@pytest.fixture(autouse=True)
def _users_wrote(db_url):
    """Issue 23: the users here wrote lately, so customer-service messages to them may go."""
    grant_allowance("o-out", "o-counsellor")


@pytest.fixture
def api_settings(wechat_settings):
    configure_celery(wechat_settings)
    return wechat_settings


def row(session, message_id: int) -> OutboundMessage:
    session.rollback()
    session.expire_all()
    return session.get(OutboundMessage, message_id)


def queue_unsent(session, text: str, **fields) -> int:
    """An outbox row committed without being handed to the sender (as after a lost task)."""
    message = OutboundMessage(openid="o-out", kind="text", payload={"content": text}, **fields)
    session.add(message)
    session.commit()
    return message.id


def test_quota_used_up_is_sent_after_midnight_beijing(api_settings, fake_wechat_api, session):
    fake_wechat_api.inject(45009)
    message_id = queue_unsent(session, "测评已开始")
    assert deliver(message_id) == RETRY
    message = row(session, message_id)
    assert message.sent_at is None and message.failed_at is None
    assert message.not_before == next_quota_reset(message.not_before - dt.timedelta(hours=23))
    local = message.not_before.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert (local.hour, local.minute) == (0, 5)
    # Before then, neither the sender nor the sweep touch it.
    assert deliver(message_id) == SKIPPED
    assert outbox.enqueue_unsent(session, older_than_seconds=0) == 0
    # After the reset, the beat sweep sends it.
    message.not_before = utcnow() - dt.timedelta(minutes=1)
    session.commit()
    assert outbox.enqueue_unsent(session, older_than_seconds=0) == 1
    drain()
    assert row(session, message_id).sent_at is not None
    assert fake_wechat_api.texts_to("o-out") == ["测评已开始"]


def test_a_send_that_may_have_arrived_is_retried_once_then_given_up(
    api_settings, fake_wechat_api, session
):
    fake_wechat_api.inject_slow_ack(1.5, times=2)
    api = WeChatApi(api_settings)
    api.timeout = 0.5
    message_id = queue_unsent(session, "通知")
    assert deliver(message_id, api=api) == RETRY  # timed out after WeChat took it
    assert row(session, message_id).uncertain_sends == 1
    assert deliver(message_id, api=api) == FAILED  # the second time: no third copy
    message = row(session, message_id)
    assert message.failed_at is not None and "after sending" in message.last_error
    assert deliver(message_id, api=api) == SKIPPED
    # The documented risk: at most two copies.
    assert fake_wechat_api.texts_to("o-out") == ["通知", "通知"]


def test_a_send_whose_process_died_is_retried_once(api_settings, fake_wechat_api, session):
    long_ago = utcnow() - dt.timedelta(minutes=5)
    died_once = queue_unsent(session, "第一条", send_started_at=long_ago)
    died_twice = queue_unsent(session, "第二条", send_started_at=long_ago, uncertain_sends=1)
    in_flight = queue_unsent(session, "第三条", send_started_at=utcnow())
    assert deliver(died_once) == SENT
    assert row(session, died_once).uncertain_sends == 1
    assert deliver(died_twice) == FAILED
    assert deliver(in_flight) == SKIPPED  # another worker is sending it right now
    assert fake_wechat_api.texts_to("o-out") == ["第一条"]


def test_feedback_refused_by_wechat_is_not_forwarded_and_the_teacher_sees_it(
    api_settings, fake_wechat_api, session
):
    from tests.integration.worklog_school import eager_celery

    eager_celery(api_settings)
    configure_celery(api_settings)
    school = build_school(session, api_settings)
    session.add(WeChatBinding(openid="o-counsellor", teacher_id=school.counsellor.id))
    session.commit()
    chat = TeacherChat(session, api_settings, school.teacher, "o-teacher")
    fake_wechat_api.inject(45015)  # the counsellor has not written to the account for 48 h
    assert "将转给辅导员" in chat.send("反馈 张三 最近情绪低落")
    drain()
    session.expire_all()
    [feedback] = session.scalars(select(StudentFeedback)).all()
    assert feedback.forwarded_at is None and feedback.failed_at is not None
    assert "48小时" in feedback.note
    assert "⚠反馈未送达" in chat.send("我的日志")
    # The sweep does not queue it again (it was given up, not lost).
    from worker.tasks.feedback import forward_pending_feedback

    assert forward_pending_feedback.delay().get() == 0


def test_beat_sweeps_every_queued_effect():
    from core.beat import beat_schedule

    tasks = {entry["task"] for entry in beat_schedule().values()}
    assert "banzhuren.feedback.forward_pending" in tasks
    assert "banzhuren.outbox.retry_unsent" in tasks
    assert "banzhuren.worklog.remind_inactive" in tasks


def test_visibility_timeout_follows_the_longest_time_limit(db_url):
    from core.celery_app import celery, visibility_timeout

    configure_celery(make_settings(db_url, redis_url="redis://127.0.0.1:6379/0"))
    longest = max(
        t.time_limit or celery.conf.task_time_limit
        for n, t in celery.tasks.items()
        if not n.startswith("celery.")
    )
    assert celery.conf.broker_transport_options["visibility_timeout"] == visibility_timeout()
    assert longest < visibility_timeout() <= longest + 120
